"""The `annotations` stream: the project's annotations (release markers and notes on its charts).

    GET https://{mixpanel|eu.mixpanel|in.mixpanel}.com/api/app/projects/{project_id}/annotations?fromDate=2024-01-01&toDate=2024-03-05
    -> {"status": "ok", "results": [{"id": 51, "project_id": 4242, "date": "2024-03-01 10:00:00",
        "description": "v2.3 released", "user": {"id": 7, "first_name": "Ann", "last_name": "Lee"}, "tags": [{"name": "release"}]}]}

The App API takes only service accounts (and needs the project_id for its path); with a project
secret or an OAuth token the older
    GET .../api/2.0/annotations?from_date=2024-01-01&to_date=2024-03-05 -> {"annotations": [{"id": 51, "date": "...", ...}]}
is asked instead. One request per sync, one query of the Query API budget; no paging.

Dates read: from start_date (incremental: from the cursor's date), to end_date or today. The
cursor (`{"date": "<UTC>"}`) is the newest annotation date read; it moves only after a complete
read and never backwards. The cursor's day is read again each sync (a second annotation on the
same day is not missed; dedupe on `id`). An annotation added later for an older date is only read
by a full refresh.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional

import requests
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.core import CheckpointMixin, StreamData

from ..cdk.errors import transient_error
from ..records.people import Unmappable
from ..records.reports import annotation_entries, to_annotation
from .profiles import format_cursor, parse_cursor
from .query import QueryStream, body_of, saved_state

CURSOR_FIELD = "date"


class AnnotationsStream(QueryStream, CheckpointMixin):
    name = "annotations"
    primary_key = "id"
    cursor_field = CURSOR_FIELD
    http_method = "GET"
    noun = "annotations"

    def __init__(self, config: Any, **kwargs: Any):
        self._cursor: Optional[dt.datetime] = None
        self._newest: Optional[dt.datetime] = None
        super().__init__(config, **kwargs)

    @property
    def state(self) -> MutableMapping[str, Any]:
        return {CURSOR_FIELD: format_cursor(self._cursor)} if self._cursor else {}

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._cursor = saved_state(value, CURSOR_FIELD, parse_cursor, "annotations", '{"date": "2024-05-01T00:00:00Z"}',
                                   "Fix the state file, or reset the stream to read every annotation.")

    @property
    def app_api(self) -> bool:
        """Mixpanel's App API takes service accounts only, and names the project in its path."""
        return self._config.credentials.auth_type == "service_account" and self._config.project_id is not None

    def path(self, **kwargs: Any) -> str:
        if not self.app_api:
            return "api/2.0/annotations"
        return f"api/app/projects/{self._config.project_id}/annotations"

    def stream_slices(self, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_state: Optional[Mapping[str, Any]] = None) -> Iterable[Optional[Mapping[str, Any]]]:
        first = self._config.start_date
        if sync_mode == SyncMode.incremental and self._cursor is not None:
            first = self._cursor.date()
            self.logger.info(f"Stream 'annotations': reading annotations dated from {first} (the cursor {format_cursor(self._cursor)}).")
        last = self._config.end_date or self._config.today(self._clock.now())
        return [{"from": first.isoformat(), "to": max(first, last).isoformat()}]

    def request_params(self, stream_state: Optional[Mapping[str, Any]], stream_slice: Optional[Mapping[str, Any]] = None, next_page_token: Optional[Mapping[str, Any]] = None) -> MutableMapping[str, Any]:
        params = super().request_params(stream_state, stream_slice, next_page_token)
        names = ("fromDate", "toDate") if self.app_api else ("from_date", "to_date")
        params[names[0]], params[names[1]] = stream_slice["from"], stream_slice["to"]
        return params

    def parse_response(self, response: requests.Response, *, stream_state: Mapping[str, Any], stream_slice: Optional[Mapping[str, Any]] = None, next_page_token: Optional[Mapping[str, Any]] = None) -> Iterable[Dict[str, Any]]:
        try:
            entries = annotation_entries(body_of(response))
        except Unmappable as error:
            message = f"Stream 'annotations': Mixpanel's answer is not understood ({error}); nothing was read, the cursor stays."
            raise transient_error(message) from None
        for raw in entries:
            try:
                record = to_annotation(raw, self._config.project_id)
            except Unmappable as error:
                self.logger.warning(f"Stream 'annotations': an annotation skipped, it cannot become a record: {error}")
                continue
            instant = parse_cursor(record[CURSOR_FIELD])
            if self._newest is None or instant > self._newest:
                self._newest = instant
            self._emitted += 1
            yield record

    def read_records(self, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_slice: Optional[Mapping[str, Any]] = None, stream_state: Optional[Mapping[str, Any]] = None) -> Iterable[StreamData]:
        self._newest = None
        yield from super().read_records(sync_mode, cursor_field, stream_slice, stream_state)
        if self._newest is not None and (self._cursor is None or self._newest > self._cursor):
            self._cursor = self._newest
        cursor = format_cursor(self._cursor) if self._cursor else "none"
        self.logger.info(f"Stream 'annotations': {self._emitted:,} annotations; cursor now {cursor}")
