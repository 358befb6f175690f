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

Every caller reads through the same code: the CDK's AbstractSource.read drives `read` below, whose
RECORDs, STATEs and logs go up through the CDK's entrypoint to whatever writes them (run.py for the
command and the image; the CDK's test harness in-process).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, MutableMapping, Optional

import requests
import urllib3
from airbyte_cdk.models import AirbyteMessage, AirbyteRecordMessage, ConfiguredAirbyteStream, FailureType, SyncMode, Type
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.streams import CheckpointMixin, Stream
from airbyte_cdk.sources.utils.schema_helpers import InternalConfig
from airbyte_cdk.sources.utils.slice_logger import SliceLogger
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..cdk.errors import config_error, traced, transient_error
from ..records import mapping
from ..config import MixpanelConfig
from ..records.jsonl import BodyError, LongNumberWatch, MalformedLine, gunzip, line_batches, parse_lines
from ..records.record_format import PROFILE_EVENT_LIMIT_BYTES, record_format
from .arrival import ArrivalCheck, answered_at, arrival_base, arrival_first_day, arrival_windows, fallback_until
from ..cdk.http_errors import retries_ran_out, says_only_gave_up
from .backoff import backoff_strategy, retries_said
from .client import export_client
from .failure_words import error_text, is_future_day_refusal, last_failure
from .pacing import REQUESTS_PER_HOUR, PacingBudget
from .settings import READ_SETTINGS, HttpSettings
from .log import http_logger
from .messages import Progress, Undelivered, WindowLosses
from .plan import PlanSettings, ReadState, WindowSizer, fresh_start, fresh_windows, split, sweep_windows, window_days
from .plan_words import arrival_fallback_line, budget_line, describe_arrival_plan, describe_plan
from .windows import CURSOR_FIELD, StateError, Window, combined_where, format_cursor, time_filter

WINDOW_ATTEMPTS = 4  # reads of a window too small to split (15 minutes) that broke off, before the sync fails
SPLIT_PAUSE_SECONDS = 1.0  # before reading the halves of a window that broke off (requests stay paced by the budget)
MAX_BREAKS = 30  # reads in a row that broke off, however split, before the sync fails: 30 days halve to 15 minutes in 12 splits of 2 breaks
CHUNK_BYTES = 256 * 1024
HEADERS = {"Accept-Encoding": "gzip", "Accept": "text/plain"}
RECORD = Type.RECORD  # bound once: on Python 3.11 `Type.RECORD` is a Python-level EnumType.__getattr__ call

_BODY_FAILURES = (BodyError, requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError)


SAME_COUNT = 0.02  # two breaks of a piece within 2% of each other, at LARGE_COUNT records or more, are a size limit, not chance
LARGE_COUNT = 1000


def _same_count(count: int, before: int) -> bool:
    return count >= LARGE_COUNT and abs(count - before) <= SAME_COUNT * count


class NotYetAtMixpanel(Exception):
    """Mixpanel refused the window's last day as later than its today: its clock is behind ours (midnight)."""


class ExportStream(Stream, CheckpointMixin):
    name = "events"
    primary_key = "_id"
    cursor_field = CURSOR_FIELD
    state_checkpoint_interval = None  # state is emitted after each completed window, never mid-window

    def __init__(
        self,
        config: MixpanelConfig,
        *,
        settings: HttpSettings = READ_SETTINGS,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
        sleep: Callable[[float], None] = time.sleep,
    ):
        super().__init__()
        self._config = config
        self._settings = settings
        self._records = record_format(config.output_format, config.xdm, config.source_timezone)  # flat or XDM: the one place the shape is chosen
        self._now = now
        self._sleep = sleep
        self._backoff = backoff_strategy(settings, http_logger(self.logger))  # the same strategy paces re-reads of a broken-off window
        self.pacing = PacingBudget(on_wait=self._log_pacing)  # public: the benchmark paces a planned backfill through it
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
        self._read_state = ReadState()
        self._sizer = WindowSizer(self._plan, None)
        self._progress = Progress(total_days=0)
        self._oversized_reported = 0
        self._states_sent = 0
        self._undelivered = Undelivered()
        self._future_day_warned = False
        self._state_due = self._defer_states = False  # read(): a completed window's STATE waits for the next window
        self._size_limit: Optional[int] = None  # this sync: the record count a connection dropped at, twice in a row
        self._fell_back: Optional[str] = None  # this sync: why the arrival plan gave way to the sweep plan (arrival.py)
        self._answered: Optional[dt.datetime] = None  # this sync: the earliest moment an answer was taken (arrival.py)
        self._establishes = False  # this sync, read to its end, vouches for every arrival before `_answered`

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
        self._sizer = WindowSizer(self._plan, self._read_state.events_per_day)

    # --- windows -----------------------------------------------------------------------------
    def stream_slices(self, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_state: Optional[Mapping[str, Any]] = None) -> Iterable[Optional[Mapping[str, Any]]]:
        """The windows as planned before any is read (the read itself sizes each from the ones before it, and splits those that break off)."""
        return [window.as_slice() for window in self._windows(sync_mode, log=False)]

    def _windows(self, sync_mode: SyncMode, log: bool = True) -> Iterator[Window]:
        """The fresh part, then the sweeps due once it is read (plan.py); logged as a plan first."""
        config, plan, state = self._config, self._plan, self._read_state
        self._fell_back, self._answered, self._establishes, self._size_limit = None, None, False, None
        now = self._now()
        today = config.today(now)
        last = min(config.end_date, today) if config.end_date else today
        incremental = sync_mode == SyncMode.incremental
        if not incremental:
            state = self._read_state = ReadState(events_per_day=state.events_per_day)
        if state.cursor is not None and state.cursor > now:
            self.logger.warning(
                f"The saved cursor {format_cursor(state.cursor)} is in the future: there is nothing to read yet and the state "
                "is kept as it is. If it is wrong, reset the stream."
            )
            return
        base = arrival_base(state, plan, today) if incremental else None
        self._establishes = base is not None or state.cursor is None  # a first (or full) read vouches for everything it read
        due = state.due_sweeps(today, plan) if incremental else []
        if base is not None:
            first, since = arrival_first_day(base, plan), None
            self._progress = Progress(total_days=max(0, (last - first).days + 1) + len(due))
            if log:
                self.logger.info(describe_arrival_plan(self.name, plan, state, base, first, last, due))
            for window in arrival_windows(self._sizer, base, plan, last, now):
                yield window
                if self._fell_back:
                    break
            if self._fell_back:  # the sweep plan for the rest of this sync: the fresh part by event time, full sweeps
                first, since = fresh_start(state, plan)
                yield from fresh_windows(self._sizer, first, since, last, self._now())
        else:
            first, since = fresh_start(state, plan)
            self._progress = Progress(total_days=max(0, (last - first).days + 1) + len(due))
            if log:
                self.logger.info(describe_plan(self.name, plan, state, first, since, last, due))
                self._log_request_budget(first, since, last, due, now)
            yield from fresh_windows(self._sizer, first, since, last, now)
        if incremental:  # days the fresh part read whole are no longer due
            unstamped = base is not None and not self._fell_back and plan.unstamped_sweeps
            yield from sweep_windows(self._sizer, state.due_sweeps(config.today(self._now()), plan), unstamped)

    def _log_request_budget(self, first: dt.date, since: Optional[dt.datetime], last: dt.date, due: List[dt.date], now: dt.datetime) -> None:
        """The requests this sync plans, against Mixpanel's 60 an hour: a long backfill is paced from the start, never rate-limited."""
        sizer = WindowSizer(self._plan, self._read_state.events_per_day)
        planned = sum(1 for _ in fresh_windows(sizer, first, since, last, now)) + sum(1 for _ in sweep_windows(sizer, due))
        line = budget_line(planned, REQUESTS_PER_HOUR, self._read_state.events_per_day)
        if line:
            self.logger.info(line)

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
        """The CDK's Stream.read for this stream's one shape: date windows, a STATE after each.

        The generic version asks for the state and checks the record limit after every record, which
        cost as much as parsing and mapping the event. Same protocol output: the slice log in debug
        mode, a STATE after every completed window (through the state manager's public methods), one
        STATE when there was no window to read, and the record limit of test reads honoured.
        """
        self.configured_json_schema = configured_stream.stream.json_schema
        limited = bool(internal_config.limit)
        self._undelivered = Undelivered()
        self._states_sent = 0
        # A window's STATE goes out once the next window is known (or the plan is done), so the last one
        # carries what the whole sync vouches for (the arrival cursor) without a STATE of its own.
        self._state_due = False
        self._defer_states = True
        for window in self._windows(configured_stream.sync_mode):
            if self._state_due and state_manager is not None:
                self._state_due = False
                yield self._state_message(state_manager)
            if slice_logger.should_log_slice_message(logger):
                yield slice_logger.create_slice_log_message(window.as_slice())
            if not limited:
                yield from self._window_messages(window, state_manager)
            else:  # a test read (connector builder, acceptance tests) that wants only a few records
                taken = 0
                for message in self._window_messages(window, state_manager):
                    yield message
                    taken += message.type is RECORD
                    if internal_config.is_limit_reached(taken):
                        break
            if limited and internal_config.is_limit_reached(self._progress.records):
                if state_manager is not None:
                    yield self._state_message(state_manager)
                return
        changed = self._finish_sync()  # the plan was read to its end: what it vouches for
        if (self._state_due or changed or not self._states_sent) and state_manager is not None:  # also: nothing completed, the state as it was
            yield self._state_message(state_manager)
        if self._undelivered:
            raise self._undelivered.error()

    def _finish_sync(self) -> bool:
        """Every window of the plan was read: the arrival cursor moves (or, after a fallback, gives way to the sweep plan); True when the state changed."""
        state, before = self._read_state, self._read_state.to_state()
        today = self._config.today(self._now())
        if self._fell_back:
            state.arrived, state.sweep_plan_until = None, fallback_until(today, self._plan)
        elif self._establishes and self._answered is not None:
            state.arrived = self._answered
            if state.sweep_plan_until is not None and today > state.sweep_plan_until:
                state.sweep_plan_until = None
        elif not self._establishes:  # a sweep-plan sync vouches for no arrivals: the next arrival read starts from what the fields vouch for
            state.arrived = None
        return state.to_state() != before

    def _judge_arrivals(self, check: Optional[ArrivalCheck], window: Window) -> None:
        """An answer that breaks the arrival promise: the sync falls back to the sweep plan, with one WARN saying why."""
        if check is None or not check.failed or self._fell_back:
            return
        self._fell_back = "ignored" if check.below or window.arrived_since is not None else "unstamped"
        self.logger.warning(arrival_fallback_line(window, check, fallback_until(self._config.today(self._now()), self._plan)))

    def read_records(self, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_slice: Optional[Mapping[str, Any]] = None, stream_state: Optional[Mapping[str, Any]] = None) -> Iterable[AirbyteMessage]:
        """One window's messages (the CDK's per-slice API): the same code `read` runs for each window."""
        if stream_slice:
            yield from self._window_messages(Window.from_slice(stream_slice))

    def _state_message(self, state_manager: ConnectorStateManager) -> AirbyteMessage:
        self._states_sent += 1
        state_manager.update_state_for_stream(self.name, self.namespace, self.state)
        return state_manager.create_state_message(self.name, self.namespace)

    def _window_messages(self, window: Window, state_manager: Optional[ConnectorStateManager] = None) -> Iterator[AirbyteMessage]:
        """The window's RECORDs, then its ESTIMATE and STATE; a read that broke off is split in halves and read again."""
        pending = [(window, 0, 0)]
        breaks = tiny_attempts = 0
        while pending:
            piece, piece_breaks, broke_at = pending.pop(0)
            if self._state_due and state_manager is not None:  # the piece before this one, checkpointed before this is asked for
                self._state_due = False
                yield self._state_message(state_manager)
            started = time.monotonic()
            requested_at = self._now()
            count = 0
            undelivered = self._undelivered.for_window(piece)
            check = None if piece.unstamped else ArrivalCheck(piece)
            try:
                response = self._request(piece)
            except NotYetAtMixpanel:
                shorter = self._shorter_window(piece)
                if shorter is None:
                    continue  # nothing Mixpanel has yet: no records, the cursor stays where it was
                piece = shorter
                undelivered = self._undelivered.for_window(piece)
                response = self._request(piece, newest_day_refusal_is_midnight=False)
            try:
                yield from self._records_of(response, piece, undelivered, check)
                count = undelivered.delivered
            except _BODY_FAILURES as error:
                count = undelivered.delivered
                breaks += 1
                self._judge_arrivals(check, piece)  # what was delivered before the break was delivered
                malformed = isinstance(error, MalformedLine)
                # A first break is taken as chance (read the piece again as it was); a second in a row as its size: read it in halves.
                # Malformed data is the data, not the size: read again whole.
                if piece_breaks and _same_count(count, broke_at):  # twice at the same, large count: a connection that drops at that size
                    self._size_limit = min(self._size_limit or count, count)
                    self._sizer.cap(count)
                sized_out = bool(self._size_limit) and count >= self._size_limit * (1 - SAME_COUNT)  # the drop point seen before
                halves = None if malformed or not (piece_breaks or sized_out) else split(piece, requested_at, self._plan.read_tz)
                tiny_attempts += halves is None and (malformed or bool(piece_breaks))
                if breaks >= MAX_BREAKS or tiny_attempts >= WINDOW_ATTEMPTS:
                    raise self._window_failed(piece, error, breaks) from None
                self._undelivered.discard(piece)
                if halves:
                    self._sizer.broke_off(window_days(piece, self._plan.read_tz))
                # Halves are a new plan, not a retry of the same request: a short pause. Re-reading the same window backs off.
                delay = SPLIT_PAUSE_SECONDS if halves or not (piece_breaks or malformed) else self._backoff.delay(tiny_attempts)
                again = f"as {halves[0].label} and {halves[1].label}" if halves else "again whole"
                self.logger.warning(
                    f"{piece.label}: the read broke off after {count} records ({error}); reading it {again} in {delay:.0f} s "
                    "(records may repeat; dedupe on _id)."
                )
                self._sleep(delay)
                pending[0:0] = [(half, 0, 0) for half in halves] if halves else [(piece, piece_breaks + 1, count)]
                continue
            finally:
                response.close()
            breaks = 0
            self._judge_arrivals(check, piece)
            at = answered_at(requested_at, response.headers.get("Date"))
            self._answered = at if self._answered is None else min(self._answered, at)
            self._sizer.completed()
            yield from self._completed(piece, requested_at, count, time.monotonic() - started, state_manager)

    def _records_of(self, response: requests.Response, window: Window, undelivered: WindowLosses, check: Optional[ArrivalCheck] = None) -> Iterator[AirbyteMessage]:
        name = self.name
        to_record, unmappable, clock = self._records.map, mapping.UnmappableEvent, time.time_ns
        count = 0
        try:
            for index, value in enumerate(self._values(response, window, undelivered), 1):
                try:
                    record = to_record(value)
                except unmappable as error:
                    undelivered.add(f"event #{index}", str(error))
                    continue
                if check is not None:  # an event (it became a record): does it keep the arrival promise?
                    check(value)
                count += 1
                # Positional: the protocol classes' generated __init__ takes them at half the cost of keywords (pinned in tests)
                yield AirbyteMessage(RECORD, None, None, None, None, AirbyteRecordMessage(name, record, clock() // 1_000_000))  # type: ignore[arg-type]
        finally:
            undelivered.delivered = count

    def _completed(self, window: Window, requested_at: dt.datetime, count: int, seconds: float, state_manager: Optional[ConnectorStateManager]) -> Iterator[AirbyteMessage]:
        """A window read to its end: what it proves goes into the state (plan.py), then the log lines, ESTIMATE and STATE."""
        progress = self._progress
        self._read_state.record_read(window, requested_at, count, self._plan, self._config.today(self._now()))
        self._sizer.learn(self._read_state.events_per_day)
        progress.add(window_days(window, self._plan.read_tz), count)
        cursor = self._read_state.cursor
        self.logger.info(
            f"{window.label}: {count} records in {seconds:.1f} s ({count / max(seconds, 1e-9):,.0f} records/s); "
            f"{progress.days_done:g}/{progress.total_days} days done; cursor now {format_cursor(cursor) if cursor else 'not set'}"
        )
        self._undelivered.report_window(self.logger)
        oversized, self._oversized_reported = self._records.oversized - self._oversized_reported, self._records.oversized
        if oversized:
            self.logger.warning(
                f"{window.label}: {oversized} record(s) are larger than AEP's {PROFILE_EVENT_LIMIT_BYTES // 1024} KB "
                "guardrail for Profile ExperienceEvents; they were emitted, and AEP may keep them out of Real-Time Customer Profile."
            )
        yield progress.estimate_message(self.name)
        if state_manager is not None and self._defer_states:
            self._state_due = True
        elif state_manager is not None:
            yield self._state_message(state_manager)

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
                raise self._check_failed(error) from None
            if error.failure_type == FailureType.config_error or not retries_ran_out(error):  # the error table's own words say what happened
                raise
            raise self._requests_failed(window, error) from None
        if response.status_code != 200:  # ignored by the error table: a to_date Mixpanel refused
            said = error_text(response)
            response.close()
            if newest_day_refusal_is_midnight and is_future_day_refusal(response) and window.end >= self._config.today(self._now()):
                raise NotYetAtMixpanel(said)
            raise self._date_range_refused(said)
        return response

    def _shorter_window(self, window: Window) -> Optional[Window]:
        """Midnight: our clock is past it, Mixpanel's not yet. Read up to the day before; the newest day waits for the next sync."""
        if not self._future_day_warned:
            self._future_day_warned = True
            self.logger.warning(
                f"Mixpanel does not accept {window.end} yet (its clock is behind this machine's, or the day has just begun there): "
                f"reading up to {window.end - dt.timedelta(days=1)}. The cursor stays before {window.end}, so the next sync reads it. "
                "If this appears at the same hours every day, the project may keep local-time dates: see legacy_local_time."
            )
        if window.start >= window.end:
            self._progress.add(window.days, 0)
            return None
        return window.part(window.start, window.end - dt.timedelta(days=1), window.since, None)

    def _values(self, response: requests.Response, window: Window, undelivered: WindowLosses) -> Iterator[Any]:
        """The body's events as parsed JSON values, in constant memory (jsonl.py)."""
        chunks: Iterable[bytes] = response.raw.stream(CHUNK_BYTES, decode_content=False)
        if "gzip" in response.headers.get("Content-Encoding", "").lower():
            chunks = gunzip(chunks)
        where = window.label
        watch = LongNumberWatch()
        return parse_lines(
            line_batches(watch.watch(chunks)),
            on_repair=lambda line, what: self.logger.warning(f"{where}, line {line}: {what}"),
            on_skip=lambda line, why: undelivered.add(f"line {line}", why),
            long_numbers=watch,
        )

    def probe(self) -> None:
        """One tiny real request (the newest day Mixpanel has, limit=1) to prove credentials, project and host; raises on failure."""
        today = self._config.today(self._now())
        try:
            self._request(Window(today, today), limit=1, checking=True).close()
        except NotYetAtMixpanel:
            yesterday = today - dt.timedelta(days=1)
            self._request(Window(yesterday, yesterday), limit=1, newest_day_refusal_is_midnight=False, checking=True).close()

    # --- messages ----------------------------------------------------------------------------
    def _log_pacing(self, seconds: float) -> None:
        if seconds >= 0.1:  # a wait too short to notice is not worth a line (it was "waiting 0.0 s", 21 times in 32)
            self.logger.info(f"Pacing: waiting {seconds:.1f} s to stay within Mixpanel's 60 requests/hour and 3/second")

    def _date_range_refused(self, said: str) -> AirbyteTracedException:
        zone = f"the project timezone {self._config.project_timezone}" if self._config.legacy_local_time else "UTC"
        message = (
            f"Mixpanel rejected the date range ({said}). Dates are read in {zone}. If the project was created "
            "before 2023, turn on legacy_local_time and set project_timezone to the project's timezone; "
            "otherwise leave legacy_local_time off."
        )
        return config_error(message)

    def _check_failed(self, error: AirbyteTracedException) -> AirbyteTracedException:
        """What `check` saw, in its own words: the error table's message, or the last answer before the retries ran out."""
        said = error.message or ""
        if says_only_gave_up(said):  # the HttpClient's generic words
            said = f"Could not check the connection: {last_failure(error)}."
        return traced(error.failure_type or FailureType.transient_error, said, error.internal_message)

    def _requests_failed(self, window: Window, error: AirbyteTracedException) -> AirbyteTracedException:
        message = (
            f"{window.label}: Mixpanel kept failing after {retries_said(self._backoff.retries)} (last answer: {last_failure(error)}). "
            "Nothing from this window was checkpointed; the state emitted so far lets the next run resume here. "
            "If Mixpanel is having an outage or rate-limiting the project, run the sync again later."
        )
        return traced(error.failure_type or FailureType.transient_error, message, error.internal_message)

    def _window_failed(self, window: Window, error: BaseException, breaks: int) -> AirbyteTracedException:
        if isinstance(error, MalformedLine):
            what = f"could not be read completely after {breaks} attempts (malformed data: {error})"
        else:
            what = f"could not be read completely: {breaks} reads in a row broke off, down to windows as small as they get (an incomplete response: {error})"
        message = f"{window.label} {what}. Nothing from this window was checkpointed; the state emitted so far lets the next run resume here."
        return transient_error(message)
