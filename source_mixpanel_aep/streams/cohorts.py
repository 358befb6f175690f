"""The `cohorts` and `cohort_members` streams.

    POST https://mixpanel.com/api/query/cohorts/list?project_id=N
    -> [{"id": 1000, "name": "Cohort One", "description": "...", "count": 150, "is_visible": 1,
         "created": "2019-03-19 23:49:51", "project_id": 1}]

    POST https://mixpanel.com/api/query/engage?project_id=N
        body: filter_by_cohort={"id": 1000}&output_properties=["$last_seen"][&session_id=...&page=1]
    -> {"page": 0, "page_size": 1000, "session_id": "...", "results": [{"$distinct_id": "u1", "$properties": {...}}]}

`cohorts`: one request. `cohort_members`: cohorts/list, then one Engage query per cohort (a slice
each), paged like profiles; only `$last_seen` is asked for, to keep pages small. A cohort deleted
between the list and its members query (Mixpanel refuses the filter with a 400/404 naming the
cohort) is skipped with a WARN.

A cohort whose query session expires is read in parts like `profiles` (streams/parts.py): the
Engage query takes `where` on `$last_seen` together with `filter_by_cohort`, members without a
profile are in the `not defined(...)` part. Full refresh only, so no STATE between parts; the same
bound (a part that cannot be split and keeps expiring fails the sync with a transient_error).
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Mapping, Optional

import requests
from airbyte_cdk.models import SyncMode

from ..records.people import Unmappable, to_cohort, to_member
from .engage import EngageStream
from .failure_words import error_text
from .parts import Part, PartPlan
from .query import QueryStream, body_of


class CohortsStream(QueryStream):
    name = "cohorts"
    primary_key = "id"
    api_path = "api/query/cohorts/list"
    noun = "cohorts"

    def parse_response(self, response: requests.Response, *, stream_state: Mapping[str, Any], stream_slice: Optional[Mapping[str, Any]] = None, next_page_token: Optional[Mapping[str, Any]] = None) -> Iterable[Dict[str, Any]]:
        body = body_of(response)
        if not isinstance(body, list):
            self.logger.warning(f"Stream 'cohorts': Mixpanel's cohorts/list answer is not a list ({str(body)[:200]}); no cohorts read.")
            return
        for raw in body:
            try:
                yield to_cohort(raw)
            except Unmappable as error:
                self.logger.warning(f"Stream 'cohorts': a cohort skipped, it cannot become a record: {error}")


class CohortMembersStream(EngageStream):
    name = "cohort_members"
    primary_key = [["cohort_id"], ["distinct_id"]]
    noun = "members"

    def __init__(self, config: Any, **kwargs: Any):
        self._slice: Mapping[str, Any] = {}
        self._skipped = False  # the cohort was deleted after cohorts/list
        super().__init__(config, **kwargs)
        self._cohorts = CohortsStream(config, **kwargs)

    def stream_slices(self, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_state: Optional[Mapping[str, Any]] = None) -> Iterable[Optional[Mapping[str, Any]]]:
        self._delivered = 0
        for cohort in self._cohorts.read_records(SyncMode.full_refresh):
            yield {"cohort_id": cohort["id"], "cohort_name": cohort.get("name", "")}

    def describe(self, stream_slice: Optional[Mapping[str, Any]] = None) -> str:
        stream_slice = stream_slice or self._slice
        return f"Stream 'cohort_members', cohort {stream_slice.get('cohort_id')} ({stream_slice.get('cohort_name')!r})"

    def read_records(self, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_slice: Optional[Mapping[str, Any]] = None, stream_state: Optional[Mapping[str, Any]] = None) -> Iterable[Any]:
        self._slice = stream_slice or {}
        self._plan = plan = PartPlan(Part(), self._clock.now())
        before, pages = self._delivered, 0
        while (part := plan.next()) is not None:
            if part.kind == "done":
                plan.completed(part)
                continue
            self._skipped = False
            yield from super().read_records(sync_mode, cursor_field, {**self._slice, "part": part}, stream_state)
            pages += self._pages
            if self._skipped:
                return
            self.after_part(plan, self._slice)
        parts = f", {plan.parts_read} queries" if plan.splits else ""
        self.logger.info(f"{self.describe()}: {self._delivered - before:,} members in {pages} page(s){parts}")

    def request_body_data(self, stream_state: Optional[Mapping[str, Any]], stream_slice: Optional[Mapping[str, Any]] = None, next_page_token: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        body = self.engage_body(next_page_token, stream_slice)
        body["filter_by_cohort"] = json.dumps({"id": (stream_slice or {})["cohort_id"]})
        body["output_properties"] = json.dumps(["$last_seen"])
        return body

    def refused(self, response: requests.Response) -> Optional[Mapping[str, Any]]:
        if "cohort" in error_text(response).lower():
            self.logger.warning(
                f"{self.describe()}: Mixpanel no longer knows this cohort ({error_text(response)}); it was probably deleted "
                "after cohorts/list. Skipped."
            )
            self._skipped = True
            return None
        return super().refused(response)

    def parse_response(self, response: requests.Response, *, stream_state: Mapping[str, Any], stream_slice: Optional[Mapping[str, Any]] = None, next_page_token: Optional[Mapping[str, Any]] = None) -> Iterable[Dict[str, Any]]:
        cohort_id = (stream_slice or {})["cohort_id"]
        for result in self.results(response):
            try:
                record = to_member(cohort_id, result)
            except Unmappable as error:
                self.logger.warning(f"{self.describe(stream_slice)}: a member skipped, it cannot become a record: {error}")
                continue
            self._emitted += 1
            yield record
