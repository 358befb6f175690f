"""The `events` stream: Mixpanel's Raw Event Export, read in date windows.

    GET https://{data|data-eu|data-in}.mixpanel.com/api/2.0/export
        ?from_date=2024-05-01&to_date=2024-05-30&time_in_ms=true[&project_id=..][&event=[..]][&where=..]

answers `text/plain` JSONL, streamed and (with Accept-Encoding: gzip) gzip-compressed:
    {"event":"Sign up","properties":{"time":1714521600123,"distinct_id":"u1","$insert_id":"a1",...}}

Each window is one request whose body is streamed line by line: memory stays flat however large a
day is. Which windows a sync reads (the fresh part from the cursor, then late-event sweeps, sized to
the data) is plan.py's. A window counts as read only when its body ended cleanly (no `terminated
early`, no cut connection, no truncated gzip); otherwise it is split in two (by days, then by time
with a `$time` filter) and the halves are read, so records may repeat but never go missing (`_id`
dedupes). The cursor moves, and a STATE goes out, only after a window (or half) is complete.

Every caller reads through the same code: the sync loop (protocol/sync.py) drives `read` below, whose
RECORDs, STATEs and logs go up through the CDK's entrypoint to whatever writes them (run.py for the
command and the image; the CDK's test harness in-process).

Here: the stream's lasting parts (config, HTTP client, pacing budget, saved state) and its one
request. What changes while a sync reads lives in one ExportRead per read (export_read.py); the
loop over windows is the CDK's Stream.read, copied once in cdk/stream_read.py.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from typing import Any, Dict, Iterable, Iterator, List, Mapping, MutableMapping, Optional

import requests
from airbyte_cdk.models import AirbyteMessage, ConfiguredAirbyteStream, FailureType, SyncMode
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.streams import CheckpointMixin, Stream
from airbyte_cdk.sources.utils.schema_helpers import InternalConfig
from airbyte_cdk.sources.utils.slice_logger import SliceLogger
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..cdk.errors import config_error
from ..cdk.http_errors import retries_ran_out
from ..cdk.stream_read import read_slices
from ..clock import SYSTEM_CLOCK, Clock
from ..config import MixpanelConfig
from ..records.record_format import record_format
from .backoff import backoff_strategy
from .client import export_client
from .export_errors import NotYetAtMixpanel, check_failed, date_range_refused, requests_failed
from .export_read import WINDOW_ATTEMPTS, ExportRead  # noqa: F401  (WINDOW_ATTEMPTS: named here by the tests of faults)
from .failure_words import error_text, is_future_day_refusal
from .log import http_logger
from .pacing import PacingBudget
from .plan import PlanSettings, ReadState
from .settings import READ_SETTINGS, HttpSettings
from .windows import CURSOR_FIELD, StateError, Window, combined_where, time_filter

HEADERS = {"Accept-Encoding": "gzip", "Accept": "text/plain"}


class ExportStream(Stream, CheckpointMixin):
    name = "events"
    primary_key = "_id"
    cursor_field = CURSOR_FIELD
    state_checkpoint_interval = None  # state is emitted after each completed window, never mid-window

    def __init__(self, config: MixpanelConfig, *, settings: HttpSettings = READ_SETTINGS, clock: Clock = SYSTEM_CLOCK):
        super().__init__()
        self._config = config
        self._settings = settings
        self._records = record_format(config.output_format, config.xdm, config.source_timezone)  # flat or XDM: the one place the shape is chosen
        self._clock = clock
        self._backoff = backoff_strategy(settings, http_logger(self.logger))  # the same strategy paces re-reads of a broken-off window
        # public: the benchmark paces a planned backfill through it
        self.pacing = PacingBudget(clock=clock.monotonic, sleep=clock.sleep, on_wait=self._log_pacing)
        self._client = export_client(config, settings, http_logger(self.logger), self.pacing, self._backoff)
        self._url = config.base_url + "/api/2.0/export"
        self._plan = PlanSettings(
            start_date=config.start_date,
            end_date=config.end_date,
            lookback_days=config.lookback_window_days,
            sweeps=config.late_event_sweeps,
            overlap=dt.timedelta(minutes=config.fresh_overlap_minutes),
            max_days=config.date_window_days,
            target_events=config.window_target_events,
            read_tz=config.read_timezone,
            unstamped_sweeps=config.safety_sweep == "events_without_arrival_time",
            arrival_overlap=dt.timedelta(minutes=config.arrival_overlap_minutes),
        )
        self._read_state = ReadState()  # the saved state; during a read, the read's (which moves it)
        self._slice_read: Optional[ExportRead] = None  # read_records' read: the CDK's per-slice API, one slice at a time

    def get_json_schema(self) -> Mapping[str, Any]:
        return self._records.json_schema or super().get_json_schema()  # None: the packaged schemas/events.json

    # --- state -------------------------------------------------------------------------------
    @property
    def state(self) -> MutableMapping[str, Any]:
        return self._read_state.to_state()  # asked once per completed window, not per record

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        try:
            self._read_state = ReadState.parse(value, self._plan.read_tz, self._plan.lookback_days)
        except StateError as error:
            message = (
                f"The saved state for stream 'events' is not understood: {error}. Expected "
                '{"timestamp": "2024-05-01T00:00:00.000Z"} (optionally with "swept" and "events_per_day" as a read writes them). '
                "Fix the state file, or reset the stream to sync from start_date."
            )
            raise config_error(message) from None
        self._slice_read = None

    def _new_read(self, sync_mode: SyncMode, state: ReadState, defer_states: bool = False) -> ExportRead:
        return ExportRead(
            name=self.name, namespace=self.namespace, logger=self.logger, config=self._config, plan=self._plan, records=self._records,
            clock=self._clock, backoff=self._backoff, request=self._request, state=state,
            incremental=sync_mode == SyncMode.incremental, defer_states=defer_states,
        )

    # --- windows -----------------------------------------------------------------------------
    def stream_slices(self, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_state: Optional[Mapping[str, Any]] = None) -> Iterable[Optional[Mapping[str, Any]]]:
        """The windows as planned before any is read (the read itself sizes each from the ones before it, and splits those that break off).

        Pure: planned by a read of its own on a copy of the state, so asking twice gives the same
        answer and the stream (its state, the next read) is as it was.
        """
        return [window.as_slice() for window in self._new_read(sync_mode, copy.deepcopy(self._read_state)).windows(log=False)]

    # --- reading -----------------------------------------------------------------------------
    def read(  # type: ignore[override]  # the CDK types state_manager loosely
        self,
        configured_stream: ConfiguredAirbyteStream,
        logger: logging.Logger,
        slice_logger: SliceLogger,
        stream_state: MutableMapping[str, Any],
        state_manager: Optional[ConnectorStateManager],
        internal_config: InternalConfig,
    ) -> Iterator[AirbyteMessage]:
        """The CDK's Stream.read for this stream's one shape (cdk/stream_read.py): date windows, a STATE after each.

        Same protocol output: the slice log in debug mode, a STATE after every completed window
        (through the state manager's public methods), one STATE when there was no window to read,
        and the record limit of test reads honoured. A window's STATE goes out once the next window
        is known (or the plan is done), so the last one carries what the whole sync vouches for
        (the arrival cursor) without a STATE of its own.
        """
        self.configured_json_schema = configured_stream.stream.json_schema
        run = self._new_read(configured_stream.sync_mode, self._read_state, defer_states=True)
        self._read_state = run.state  # the stream's state is the read's from here on (a full refresh starts afresh)

        def at_limit() -> Iterator[AirbyteMessage]:
            if state_manager is not None:
                yield run.state_message(state_manager)

        def at_end() -> Iterator[AirbyteMessage]:
            changed = run.finish()  # the plan was read to its end: what it vouches for
            if (run.state_due or changed or not run.states_sent) and state_manager is not None:  # also: nothing completed, the state as it was
                yield run.state_message(state_manager)
            if run.undelivered:
                raise run.undelivered.error()

        return read_slices(
            run.windows(), lambda window: run.window_messages(window, state_manager), Window.as_slice,
            logger=logger, slice_logger=slice_logger, internal_config=internal_config,
            before_slice=lambda: run.due_state(state_manager), records_read=lambda: run.progress.records,
            at_limit=at_limit, at_end=at_end,
        )

    def read_records(self, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_slice: Optional[Mapping[str, Any]] = None, stream_state: Optional[Mapping[str, Any]] = None) -> Iterable[AirbyteMessage]:
        """One window's messages (the CDK's per-slice API): the same code `read` runs for each window.

        The slices' read is planned once, on the stream's state, as `stream_slices` plans it: its
        progress counts the planned days, and completed windows move the stream's state.
        """
        if stream_slice:
            if self._slice_read is None:
                self._slice_read = run = self._new_read(sync_mode, self._read_state)
                self._read_state = run.state
                for _ in run.windows(log=False):
                    pass
            yield from self._slice_read.window_messages(Window.from_slice(stream_slice))

    def _request(self, window: Window, limit: Optional[int] = None, newest_day_refusal_is_midnight: bool = True, checking: bool = False) -> requests.Response:
        """One export request, through the CDK's HttpClient (retries, backoff, pacing, error table)."""
        params: Dict[str, Any] = {"from_date": window.start.isoformat(), "to_date": window.end.isoformat(), "time_in_ms": "true"}
        config = self._config
        if config.project_id is not None:
            params["project_id"] = config.project_id
        if config.events:
            params["event"] = json.dumps(list(config.events))
        where = combined_where(config.where, time_filter(window, config.source_timezone))
        if where:
            params["where"] = where
        if limit:
            params["limit"] = limit
        kwargs = {"stream": True, "timeout": self._settings.timeouts(config), "allow_redirects": False}  # a redirect is an error (http.py)
        self._backoff.attempts = 0
        try:
            _, response = self._client.send_request("GET", self._url, request_kwargs=kwargs, headers=HEADERS, params=params)
        except AirbyteTracedException as error:  # the HttpClient's retries are used up, or the error table said stop
            if checking:
                raise check_failed(error) from None
            if error.failure_type == FailureType.config_error or not retries_ran_out(error):  # the error table's own words say what happened
                raise
            raise requests_failed(window, error, self._backoff.retries) from None
        if response.status_code != 200:  # ignored by the error table: a to_date Mixpanel refused
            said = error_text(response)
            response.close()
            if newest_day_refusal_is_midnight and is_future_day_refusal(response) and window.end >= self._config.today(self._clock.now()):
                raise NotYetAtMixpanel(said)
            raise date_range_refused(self._config, said)
        return response

    def probe(self) -> None:
        """One tiny real request (the newest day Mixpanel has, limit=1) to prove credentials, project and host; raises on failure."""
        today = self._config.today(self._clock.now())
        try:
            self._request(Window(today, today), limit=1, checking=True).close()
        except NotYetAtMixpanel:
            yesterday = today - dt.timedelta(days=1)
            self._request(Window(yesterday, yesterday), limit=1, newest_day_refusal_is_midnight=False, checking=True).close()

    def _log_pacing(self, seconds: float) -> None:
        if seconds >= 0.1:  # a wait too short to notice is not worth a line (it was "waiting 0.0 s", 21 times in 32)
            self.logger.info(f"Pacing: waiting {seconds:.1f} s to stay within Mixpanel's 60 requests/hour and 3/second")
