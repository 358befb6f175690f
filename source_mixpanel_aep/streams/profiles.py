"""The `profiles` stream: every user profile of the project, from Mixpanel's Engage query.

    POST https://mixpanel.com/api/query/engage?project_id=N
        body: [where=properties["$last_seen"] >= "2024-05-01T09:00:00"][&session_id=...&page=1]
    -> {"page": 0, "page_size": 1000, "session_id": "...", "total": 4200,
        "results": [{"$distinct_id": "4", "$properties": {"$last_seen": "2008-06-09T23:08:40", "$email": "..."}}]}

One query per sync while it fits in one session, paged by session (streams/engage.py), 1000
profiles a page: memory holds one page. A query whose session expires is read in parts by
`$last_seen` ranges (streams/parts.py), a CDK slice each: one STATE after each complete part.
Incremental: the server narrows the query with `where` `$last_seen > cursor`, so a second sync
reads only profiles seen since, each once.

The cursor (`{"last_seen": "<UTC>"}`) means "every profile last seen up to here has been read". A
profile can show up in the query a little after its `$last_seen` (ingestion lag, the connector's
clock against Mixpanel's), so after a complete query started at S the cursor becomes
min(newest `$last_seen` read, S - CURSOR_OVERLAP): on a busy project the next sync re-reads the
last hour's profiles; on a quiet one, nothing it has already read. It moves only when the whole
query, or a part of it, was read: after the part (low, high] it becomes min(high, S - CURSOR_OVERLAP),
as parts are read in ascending `$last_seen`; a run that breaks off mid-way leaves it after the last
complete part. It never moves backwards.

With `output_format: "xdm"` each record is an XDM Individual Profile (xdm_profiles.py), made from
the flat record after the cursor has read `last_seen` from it, so the state is the same in both
modes (`{"last_seen": ...}`: switching the format keeps the cursor). The XDM record has no
top-level `distinct_id` or `last_seen` (AEP refuses keys its schema does not have), so the stream
declares them where they are: primary key `[["_<tenant>", "distinct_id"]]`, cursor
`["_<tenant>", "last_seen"]`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional, Union

import requests
from airbyte_cdk.models import SyncMode, Type
from airbyte_cdk.sources.streams.core import CheckpointMixin, StreamData

from ..clock import SYSTEM_CLOCK
from ..records.people import Unmappable, to_profile
from ..records.xdm import xdm_settings
from ..records.xdm_profile_payloads import profile_record_json_schema
from ..records.xdm_profiles import to_xdm_profile
from .engage import EngageStream
from .parts import Part, PartPlan
from .query import saved_state

CURSOR_FIELD = "last_seen"
CURSOR_OVERLAP = dt.timedelta(hours=1)  # how late a profile may show up in the query after its $last_seen
MAX_UNMAPPABLE_LOGGED = 20


def parse_cursor(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.timezone.utc)


def format_cursor(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"



class ProfilesStream(EngageStream, CheckpointMixin):
    name = "profiles"

    def __init__(self, config: Any, **kwargs: Any):
        self._now = kwargs.get("clock", SYSTEM_CLOCK).now  # the source's clock (QueryStream keeps it as _clock)
        self._started = self._now()
        self._cursor: Optional[dt.datetime] = None
        self._newest: Optional[dt.datetime] = None
        self._unmappable = 0
        self._xdm = xdm_settings(config.xdm) if config.output_format == "xdm" and config.xdm else None  # None: the flat record
        super().__init__(config, **kwargs)

    @property
    def primary_key(self) -> Union[str, List[List[str]]]:
        return [[self._xdm.tenant_key, "distinct_id"]] if self._xdm else "distinct_id"

    @property
    def cursor_field(self) -> Union[str, List[str]]:
        return [self._xdm.tenant_key, CURSOR_FIELD] if self._xdm else CURSOR_FIELD

    def get_json_schema(self) -> Mapping[str, Any]:
        return profile_record_json_schema(self._xdm) if self._xdm else super().get_json_schema()

    # --- state (CheckpointMixin) ---------------------------------------------------------------
    @property
    def state(self) -> MutableMapping[str, Any]:
        return {CURSOR_FIELD: format_cursor(self._cursor)} if self._cursor else {}

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._cursor = saved_state(value, CURSOR_FIELD, parse_cursor, "profiles", '{"last_seen": "2024-05-01T00:00:00Z"}',
                                   "Fix the state file, or reset the stream to read every profile.")

    # --- the query, in parts -------------------------------------------------------------------
    def stream_slices(self, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_state: Optional[Mapping[str, Any]] = None) -> Iterable[Optional[Mapping[str, Any]]]:
        """One slice per part; each reads the plan's lowest pending part (the CDK looks at two slices ahead of reading)."""
        self._started, self._newest, self._unmappable, self._delivered = self._now(), None, 0, 0
        if sync_mode == SyncMode.incremental and self._cursor is not None:
            self.logger.info(f"{self.describe()}: reading profiles last seen after the cursor {format_cursor(self._cursor)}.")
            first = Part("range", low=self._cursor)
        else:
            if sync_mode == SyncMode.incremental:
                self.logger.info(f"No saved state for stream '{self.name}': reading every profile.")
            first = Part()
        self._plan = plan = PartPlan(first, self._started)
        number = 0
        while not plan.done:
            number += 1
            yield {"query_part": number}
        if self._unmappable:
            self.logger.warning(f"{self.describe()}: {self._unmappable} profile(s) could not be mapped and were not emitted (see warnings above).")
        cursor = format_cursor(self._cursor) if self._cursor else "none (no profile had $last_seen)"
        parts = f"{plan.parts_read} queries ({plan.splits} splits)" if plan.splits else "1 query"
        self.logger.info(f"{self.describe()}: {self._delivered:,} profiles in {parts}; cursor now {cursor}")

    def request_body_data(self, stream_state: Optional[Mapping[str, Any]], stream_slice: Optional[Mapping[str, Any]] = None, next_page_token: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        return self.engage_body(next_page_token, stream_slice)

    def parse_response(self, response: requests.Response, *, stream_state: Mapping[str, Any], stream_slice: Optional[Mapping[str, Any]] = None, next_page_token: Optional[Mapping[str, Any]] = None) -> Iterable[Dict[str, Any]]:
        for result in self.results(response):
            try:
                record = to_profile(result)
            except Unmappable as error:
                self._unmappable += 1
                if self._unmappable <= MAX_UNMAPPABLE_LOGGED:
                    self.logger.warning(f"{self.describe()}, page {self._pages}: a profile skipped, it cannot become a record: {error}")
                continue
            seen = record.get(CURSOR_FIELD)
            if seen is not None:
                instant = parse_cursor(seen)
                if self._newest is None or instant > self._newest:
                    self._newest = instant
            self._emitted += 1
            yield to_xdm_profile(record, self._xdm) if self._xdm else record

    def read_records(self, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_slice: Optional[Mapping[str, Any]] = None, stream_state: Optional[Mapping[str, Any]] = None) -> Iterable[StreamData]:
        plan = self._plan
        if plan is None:  # read_records without stream_slices (a caller of the CDK's internals): the whole query
            self._plan = plan = PartPlan(Part("range", low=self._cursor) if self._cursor else Part(), self._now())
            self._started = self._now()
        part = plan.next()
        if part is None:  # the slice the CDK asked for ahead found every part read
            return
        if part.kind == "done":  # read already, from a sorted session: only its checkpoint is left
            plan.completed(part)
            self._move_cursor(part)
            return
        part_slice = {**(stream_slice or {}), "part": part}
        yield from super().read_records(sync_mode, cursor_field, part_slice, stream_state)
        if self.after_part(plan, part_slice):
            self._move_cursor(part)
            if part.kind != "all":
                self.logger.info(f"{self.describe()}: {part.describe()} read, {self._emitted:,} profiles in {self._pages} page(s)")

    def _move_cursor(self, part: Part) -> None:
        """A complete part: every profile last seen up to its top has been read (parts are read in ascending $last_seen)."""
        if part.kind == "undefined":
            return
        top = part.high if part.kind in ("range", "done") and part.high is not None else self._newest
        if top is None:
            return
        read_up_to = min(top, self._started - CURSOR_OVERLAP)
        if self._cursor is None or read_up_to > self._cursor:
            self._cursor = read_up_to

    def read(self, configured_stream: Any, logger: Any, slice_logger: Any, stream_state: Any, state_manager: Any, internal_config: Any) -> Iterable[StreamData]:
        """The CDK's read, without a STATE that repeats the last one (a part that was split, the slice read ahead).

        A sync whose state never changed still ends with one STATE, as before.
        """
        last, held, emitted = dict(self.state), None, False
        for item in super().read(configured_stream, logger, slice_logger, stream_state, state_manager, internal_config):
            if getattr(item, "type", None) == Type.STATE:
                current = dict(self.state)
                if current == last:
                    held = item
                    continue
                last, held, emitted = current, None, True
            yield item
        if held is not None and not emitted:
            yield held
