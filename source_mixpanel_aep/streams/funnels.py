"""The `funnels` stream: each saved funnel's numbers, one record per (funnel, day).

    GET https://{mixpanel|eu.mixpanel|in.mixpanel}.com/api/2.0/funnels/list?project_id=N
    -> [{"funnel_id": 7, "name": "Signup"}]
    GET .../api/2.0/funnels?project_id=N&funnel_id=7&from_date=2024-03-01&to_date=2024-03-30&unit=day
    -> {"meta": {"dates": ["2024-03-01", ...]}, "data": {"2024-03-01": {"steps": [{"count": 120, "step_conv_ratio": 1, ...}],
        "analysis": {"completion": 31, "starting_amount": 120, "steps": 2, "worst": 1}}}}

Requests: funnels/list, then per funnel one query per window of `date_window_days` days from
start_date (incremental: from the funnel's cursor minus `lookback_window_days`, since a recent
day's numbers still change as late events arrive) to end_date or the project's today. Each is
a query of the Query API budget (60 an hour, shared with profiles, cohorts, annotations): the plan
and how long its pacing takes are logged before the first funnel query.

State: `{"funnels": {"7": "2024-03-30"}}`, per funnel the last day read, checkpointed after each
window, never moved backwards; a funnel new to the project is read from start_date. A funnel
deleted after funnels/list (Mixpanel answers 400/404 naming the funnel) is skipped with a WARN,
its cursor kept; the sync goes on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional, Set, Union
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import requests
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.core import CheckpointMixin, StreamData
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction

from ..cdk.errors import transient_error
from ..clock import SYSTEM_CLOCK
from ..records.people import Unmappable
from ..records.reports import date_windows, duration_words, funnel_days, funnel_start, paced_seconds, to_funnel
from .failure_words import error_text
from .query import QUERIES_PER_HOUR, QueryBudget, QueryErrorHandler, QueryStream, body_of, saved_state

CURSOR_FIELD = "date"


class FunnelErrorHandler(QueryErrorHandler):
    """A 400/404 naming the funnel of a funnel query is passed to the stream (IGNORE): the funnel was deleted."""

    def interpret_response(self, response: Optional[Union[requests.Response, Exception]]) -> ErrorResolution:
        if isinstance(response, requests.Response) and response.status_code in (400, 404) and response.request is not None:
            asked = parse_qs(urlsplit(response.request.url or "").query)
            if asked.get("funnel_id") and "funnel" in error_text(response).lower():
                return ErrorResolution(ResponseAction.IGNORE, error_message=f"Mixpanel refused the funnel ({error_text(response)}).")
        return super().interpret_response(response)


class FunnelsListStream(QueryStream):
    """funnels/list: not a stream of the catalog, the source of the funnels stream's slices."""

    name = "funnels_list"
    primary_key = "funnel_id"
    http_method = "GET"
    api_path = "api/2.0/funnels/list"
    noun = "funnels"

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Dict[str, Any]]:
        body = body_of(response)
        if not isinstance(body, list):
            message = f"Stream 'funnels': Mixpanel's funnels/list answer is not a list ({str(body)[:200]}); no funnel was read."
            raise transient_error(message)
        for raw in body:
            try:
                yield to_funnel(raw)
            except Unmappable as error:
                self.logger.warning(f"Stream 'funnels': a funnel of funnels/list skipped, it cannot be queried: {error}")


class FunnelsStream(QueryStream, CheckpointMixin):
    name = "funnels"
    primary_key = [["funnel_id"], ["date"]]
    cursor_field = CURSOR_FIELD
    http_method = "GET"
    api_path = "api/2.0/funnels"
    noun = "funnel days"
    error_handler_class = FunnelErrorHandler

    def __init__(self, config: Any, **kwargs: Any):
        clock = kwargs.get("clock", SYSTEM_CLOCK)  # the source's clock (QueryStream keeps it as _clock)
        self._now = clock.now
        self._cursors: Dict[str, dt.date] = {}
        self._gone: Set[int] = set()
        self._days = 0  # funnel days read by the whole sync (_emitted counts one window's)
        self._slice: Mapping[str, Any] = {}
        self._budget = kwargs.pop("budget", None) or QueryBudget(clock=clock.monotonic, sleep=clock.sleep)
        super().__init__(config, budget=self._budget, **kwargs)
        self._list = FunnelsListStream(config, budget=self._budget, **kwargs)

    # --- state (CheckpointMixin) ---------------------------------------------------------------
    @property
    def state(self) -> MutableMapping[str, Any]:
        return {"funnels": {key: day.isoformat() for key, day in sorted(self._cursors.items())}} if self._cursors else {}

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        cursors = saved_state(
            value, "funnels", lambda raw: {str(int(key)): dt.date.fromisoformat(day) for key, day in dict(raw).items()}, "funnels",
            '{"funnels": {"7": "2024-05-01"}} (per funnel id, the last day read)', "Fix the state file, or reset the stream.",
        )
        self._cursors = cursors or {}

    # --- the plan --------------------------------------------------------------------------------
    def today(self) -> dt.date:
        return self._now().astimezone(ZoneInfo(self._config.project_timezone)).date()

    def stream_slices(self, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_state: Optional[Mapping[str, Any]] = None) -> Iterable[Optional[Mapping[str, Any]]]:
        config = self._config
        last = config.end_date or self.today()
        funnels = list(self._list.read_records(SyncMode.full_refresh))
        planned = []
        for funnel in funnels:
            cursor = self._cursors.get(str(funnel["funnel_id"])) if sync_mode == SyncMode.incremental else None
            first = funnel_start(config.start_date, cursor, config.lookback_window_days)
            for start, end in date_windows(first, last, config.date_window_days):
                planned.append({**funnel, "from": start.isoformat(), "to": end.isoformat()})
        wait = paced_seconds(len(planned), QUERIES_PER_HOUR, self._budget.sent_ago())
        self.logger.info(
            f"Stream 'funnels': {len(funnels)} funnel(s), {len(planned)} funnel queries (windows of up to {config.date_window_days} days, "
            f"to {last}). Mixpanel allows {QUERIES_PER_HOUR} queries an hour for the whole sync: pacing adds about {duration_words(wait)}."
        )
        self._days = 0
        for planned_slice in planned:
            if planned_slice["funnel_id"] not in self._gone:
                yield planned_slice
        gone = f"; skipped, no longer known to Mixpanel: funnel(s) {', '.join(map(str, sorted(self._gone)))}" if self._gone else ""
        self.logger.info(f"Stream 'funnels': {self._days:,} funnel days from {len(funnels)} funnel(s){gone}.")

    def describe(self, stream_slice: Optional[Mapping[str, Any]] = None) -> str:
        stream_slice = stream_slice or self._slice
        return f"Stream 'funnels', funnel {stream_slice.get('funnel_id')} ({stream_slice.get('funnel_name')!r}) {stream_slice.get('from')}..{stream_slice.get('to')}"

    # --- one window of one funnel ------------------------------------------------------------------
    def request_params(self, stream_state: Optional[Mapping[str, Any]], stream_slice: Optional[Mapping[str, Any]] = None, next_page_token: Optional[Mapping[str, Any]] = None) -> MutableMapping[str, Any]:
        params = super().request_params(stream_state, stream_slice, next_page_token)
        params.update({"funnel_id": stream_slice["funnel_id"], "from_date": stream_slice["from"], "to_date": stream_slice["to"], "unit": "day"})
        return params

    def parse_response(self, response: requests.Response, *, stream_state: Mapping[str, Any], stream_slice: Optional[Mapping[str, Any]] = None, next_page_token: Optional[Mapping[str, Any]] = None) -> Iterable[Dict[str, Any]]:
        stream_slice = stream_slice or {}
        if response.status_code != 200:
            self._gone.add(stream_slice["funnel_id"])
            self.logger.warning(
                f"{self.describe(stream_slice)}: Mixpanel no longer knows this funnel ({error_text(response)}); it was probably deleted "
                "after funnels/list. Skipped, with its remaining days; its cursor stays."
            )
            return
        try:
            records = list(funnel_days(stream_slice, body_of(response)))
        except Unmappable as error:
            message = f"{self.describe(stream_slice)}: Mixpanel's answer is not understood ({error}); this window was not read, its cursor stays."
            raise transient_error(message) from None
        self._emitted += len(records)
        self._days += len(records)
        yield from records

    def read_records(self, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_slice: Optional[Mapping[str, Any]] = None, stream_state: Optional[Mapping[str, Any]] = None) -> Iterable[StreamData]:
        self._slice = stream_slice or {}
        if self._slice.get("funnel_id") in self._gone:
            return
        yield from super().read_records(sync_mode, cursor_field, stream_slice, stream_state)
        key, read_to = str(self._slice["funnel_id"]), dt.date.fromisoformat(self._slice["to"])
        if self._slice["funnel_id"] not in self._gone and (key not in self._cursors or read_to > self._cursors[key]):
            self._cursors[key] = read_to  # the whole window was read: only now may this funnel's cursor move
