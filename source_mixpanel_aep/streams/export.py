"""The `events` stream: Mixpanel's Raw Event Export, read in date windows.

    GET https://{data|data-eu|data-in}.mixpanel.com/api/2.0/export
        ?from_date=2024-05-01&to_date=2024-05-30&time_in_ms=true[&project_id=..][&event=[..]][&where=..]

answers `text/plain` JSONL, streamed and (with Accept-Encoding: gzip) gzip-compressed:
    {"event":"Sign up","properties":{"time":1714521600123,"distinct_id":"u1","$insert_id":"a1",...}}

Each window is one request whose body is streamed line by line: memory stays flat however large a
day is. A window counts as read only when its body ended cleanly (no `terminated early`, no cut
connection, no truncated gzip); otherwise it is read again, so records may repeat but never go
missing (`_id` dedupes). The cursor moves, and a STATE goes out, only after a window is complete.

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

from .. import mapping
from ..config import MixpanelConfig
from ..jsonl import BodyError, LongNumberWatch, MalformedLine, gunzip, parse_lines, split_lines
from ..logs import http_logger
from ..record_format import PROFILE_EVENT_LIMIT_BYTES, record_format
from .http import (
    READ_SETTINGS,
    HttpSettings,
    PacingBudget,
    backoff_strategy,
    error_text,
    export_client,
    is_future_day_refusal,
    last_failure,
)
from .messages import Progress, Undelivered, WindowLosses
from .windows import CURSOR_FIELD, StateError, Window, describe_start, first_day, format_cursor, parse_cursor, plan_windows, window_cursor

WINDOW_ATTEMPTS = 4  # reads of one window whose body broke off, before the sync fails
CHUNK_BYTES = 256 * 1024
HEADERS = {"Accept-Encoding": "gzip", "Accept": "text/plain"}
RECORD = Type.RECORD  # bound once: on Python 3.11 `Type.RECORD` is a Python-level EnumType.__getattr__ call

_BODY_FAILURES = (BodyError, requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError)


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
        self._records = record_format(config.output_format, config.xdm)  # flat or XDM: the one place the shape is chosen
        self._now = now
        self._sleep = sleep
        self._backoff = backoff_strategy(settings, http_logger(self.logger))  # the same strategy paces re-reads of a broken-off window
        self.pacing = PacingBudget(on_wait=self._log_pacing)  # public: the benchmark paces a planned backfill through it
        self._client = export_client(config, settings, http_logger(self.logger), self.pacing, self._backoff)
        self._url = config.base_url + "/api/2.0/export"
        self._move_cursor(None)
        self._progress = Progress(total_days=0)
        self._undelivered = Undelivered()
        self._future_day_warned = False

    def get_json_schema(self) -> Mapping[str, Any]:
        return self._records.json_schema or super().get_json_schema()  # None: the packaged schemas/events.json

    # --- state -------------------------------------------------------------------------------
    @property
    def state(self) -> MutableMapping[str, Any]:
        return self._state  # built once per cursor move, not per call

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        try:
            self._move_cursor(parse_cursor(value))
        except StateError as error:
            message = (
                f"The saved state for stream 'events' is not understood: {error}. Expected "
                '{"timestamp": "2024-05-01T00:00:00.000Z"}. Fix the state file, or reset the stream to sync from start_date.'
            )
            raise AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.config_error) from None

    def _move_cursor(self, cursor: Optional[dt.datetime]) -> None:
        self._cursor = cursor
        self._state = {CURSOR_FIELD: format_cursor(cursor)} if cursor else {}

    # --- windows -----------------------------------------------------------------------------
    def stream_slices(self, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_state: Optional[Mapping[str, Any]] = None) -> Iterable[Optional[Mapping[str, Any]]]:
        config = self._config
        today = config.today(self._now())
        last = min(config.end_date, today) if config.end_date else today
        cursor = self._cursor if sync_mode == SyncMode.incremental else None
        if cursor is not None and cursor > self._now():
            self.logger.warning(
                f"The saved cursor {format_cursor(cursor)} is in the future: there is nothing to read yet and the state "
                "is kept as it is. If it is wrong, reset the stream."
            )
            return []
        first = first_day(config.start_date, cursor, config.lookback_window_days, config.read_timezone)
        windows = plan_windows(first, last, config.date_window_days)
        self._progress = Progress(total_days=sum(window.days for window in windows))
        if cursor is not None or sync_mode == SyncMode.incremental:
            self.logger.info(describe_start(config.start_date, cursor, config.lookback_window_days, config.read_timezone, self.name))
        self.logger.info(f"Reading {first}..{last} in {len(windows)} window(s) of up to {config.date_window_days} day(s)")
        return [window.as_slice() for window in windows]

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
        windows = self.stream_slices(sync_mode=configured_stream.sync_mode, cursor_field=configured_stream.cursor_field, stream_state=stream_state)
        limited = bool(internal_config.limit)
        self._undelivered = Undelivered()
        for stream_slice in windows:
            if slice_logger.should_log_slice_message(logger):
                yield slice_logger.create_slice_log_message(stream_slice)
            if not limited:
                yield from self._window_messages(Window.from_slice(stream_slice))
            else:  # a test read (connector builder, acceptance tests) that wants only a few records
                taken = 0
                for message in self._window_messages(Window.from_slice(stream_slice)):
                    yield message
                    taken += message.type is RECORD
                    if internal_config.is_limit_reached(taken):
                        break
            if state_manager is not None:
                yield self._state_message(state_manager)
            if limited and internal_config.is_limit_reached(self._progress.records):
                return
        if not windows and state_manager is not None:
            yield self._state_message(state_manager)
        if self._undelivered:
            raise self._undelivered.error()

    def read_records(self, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_slice: Optional[Mapping[str, Any]] = None, stream_state: Optional[Mapping[str, Any]] = None) -> Iterable[AirbyteMessage]:
        """One window's messages (the CDK's per-slice API): the same code `read` runs for each window."""
        if stream_slice:
            yield from self._window_messages(Window.from_slice(stream_slice))

    def _state_message(self, state_manager: ConnectorStateManager) -> AirbyteMessage:
        state_manager.update_state_for_stream(self.name, self.namespace, self.state)
        return state_manager.create_state_message(self.name, self.namespace)

    def _window_messages(self, window: Window) -> Iterator[AirbyteMessage]:
        """The window's RECORDs, then its ESTIMATE; a body that broke off is read again; the cursor moves once it is complete."""
        started = time.monotonic()
        name, progress, source_timezone = self.name, self._progress, self._config.source_timezone
        oversized_before = self._records.oversized
        for attempt in range(1, WINDOW_ATTEMPTS + 1):
            requested_at = self._now()
            count = 0
            undelivered = self._undelivered.for_window(window)  # a re-read starts the window's list afresh
            try:
                response = self._request(window)
            except NotYetAtMixpanel:
                shorter = self._shorter_window(window)
                if shorter is None:
                    return  # nothing Mixpanel has yet: no records, the cursor stays where it was
                window = shorter
                response = self._request(window, newest_day_refusal_is_midnight=False)
            try:
                to_record, unmappable, clock = self._records.map, mapping.UnmappableEvent, time.time_ns
                for index, value in enumerate(self._values(response, window, undelivered), 1):
                    try:
                        record = to_record(value, time_in_ms=True, source_timezone=source_timezone)
                    except unmappable as error:
                        undelivered.add(f"event #{index}", str(error))
                        continue
                    count += 1
                    # Positional: the protocol classes' generated __init__ takes them at half the cost of keywords (pinned in tests)
                    yield AirbyteMessage(RECORD, None, None, None, None, AirbyteRecordMessage(name, record, clock() // 1_000_000))  # type: ignore[arg-type]
                break
            except _BODY_FAILURES as error:
                if attempt == WINDOW_ATTEMPTS:
                    raise self._window_failed(window, error, count) from None
                delay = self._backoff.delay(attempt)
                self.logger.warning(
                    f"Window {window.start}..{window.end}: read {attempt} broke off after {count} records ({error}); "
                    f"reading the whole window again in {delay:.0f} s (records may repeat; dedupe on _id)."
                )
                self._sleep(delay)
            finally:
                response.close()
        seconds = time.monotonic() - started
        self._move_cursor(max(filter(None, (self._cursor, window_cursor(window, self._config.read_timezone, requested_at)))))
        progress.add(window.days, count)
        self.logger.info(
            f"Window {window.start}..{window.end}: {count} records in {seconds:.1f} s ({count / max(seconds, 1e-9):,.0f} records/s); "
            f"{progress.days_done}/{progress.total_days} days done; cursor now {format_cursor(self._cursor)}"
        )
        self._undelivered.report_window(self.logger)
        oversized = self._records.oversized - oversized_before
        if oversized:
            self.logger.warning(
                f"Window {window.start}..{window.end}: {oversized} record(s) are larger than AEP's {PROFILE_EVENT_LIMIT_BYTES // 1024} KB "
                "guardrail for Profile ExperienceEvents; they were emitted, and AEP may keep them out of Real-Time Customer Profile."
            )
        yield progress.estimate_message(name)

    def _request(self, window: Window, limit: Optional[int] = None, newest_day_refusal_is_midnight: bool = True, checking: bool = False) -> requests.Response:
        """One export request, through the CDK's HttpClient (retries, backoff, pacing, error table)."""
        params: Dict[str, Any] = {"from_date": window.start.isoformat(), "to_date": window.end.isoformat(), "time_in_ms": "true"}
        config = self._config
        if config.project_id is not None:
            params["project_id"] = config.project_id
        if config.events:
            params["event"] = json.dumps(list(config.events))
        if config.where:
            params["where"] = config.where
        if limit:
            params["limit"] = limit
        kwargs = {"stream": True, "timeout": self._settings.timeouts(config), "allow_redirects": False}  # a redirect is an error (http.py)
        try:
            _, response = self._client.send_request("GET", self._url, request_kwargs=kwargs, headers=HEADERS, params=params)
        except AirbyteTracedException as error:  # the HttpClient's retries are used up, or the error table said stop
            if checking:
                raise self._check_failed(error) from None
            if error.failure_type == FailureType.config_error:
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
        return Window(window.start, window.end - dt.timedelta(days=1))

    def _values(self, response: requests.Response, window: Window, undelivered: WindowLosses) -> Iterator[Any]:
        """The body's events as parsed JSON values, in constant memory (jsonl.py)."""
        chunks: Iterable[bytes] = response.raw.stream(CHUNK_BYTES, decode_content=False)
        if "gzip" in response.headers.get("Content-Encoding", "").lower():
            chunks = gunzip(chunks)
        where = f"Window {window.start}..{window.end}"
        watch = LongNumberWatch()
        return parse_lines(
            split_lines(watch.watch(chunks)),
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
        return AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.config_error)

    def _check_failed(self, error: AirbyteTracedException) -> AirbyteTracedException:
        """What `check` saw, in its own words: the error table's message, or the last answer before the retries ran out."""
        said = error.message or ""
        if said.startswith(("Exhausted available request attempts", "API rate limit exceeded")):  # the HttpClient's generic words
            said = f"Could not check the connection: {last_failure(error)}."
        return AirbyteTracedException(message=said, internal_message=error.internal_message, failure_type=error.failure_type or FailureType.transient_error)

    def _requests_failed(self, window: Window, error: AirbyteTracedException) -> AirbyteTracedException:
        message = (
            f"Window {window.start}..{window.end}: Mixpanel kept failing after {self._settings.max_retries} retries (last answer: {last_failure(error)}). "
            "Nothing from this window was checkpointed; the state emitted so far lets the next run resume here. "
            "If Mixpanel is having an outage or rate-limiting the project, run the sync again later."
        )
        return AirbyteTracedException(message=message, internal_message=error.internal_message, failure_type=error.failure_type or FailureType.transient_error)

    def _window_failed(self, window: Window, error: BaseException, count: int) -> AirbyteTracedException:
        kind = "malformed data" if isinstance(error, MalformedLine) else "an incomplete response"
        message = (
            f"Window {window.start}..{window.end} could not be read completely after {WINDOW_ATTEMPTS} attempts "
            f"({kind}: {error}). Nothing from this window was checkpointed; the state emitted so far lets the next run resume here."
        )
        return AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.transient_error)
