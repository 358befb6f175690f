"""The `events` stream: Mixpanel's Raw Event Export, read in date windows.

    GET https://{data|data-eu|data-in}.mixpanel.com/api/2.0/export
        ?from_date=2024-05-01&to_date=2024-05-30&time_in_ms=true[&project_id=..][&event=[..]][&where=..]

answers `text/plain` JSONL, streamed and (with Accept-Encoding: gzip) gzip-compressed:
    {"event":"Sign up","properties":{"time":1714521600123,"distinct_id":"u1","$insert_id":"a1",...}}

Each window is one request whose body is streamed line by line: memory stays flat however large a
day is. A window counts as read only when its body ended cleanly (no `terminated early`, no cut
connection, no truncated gzip); otherwise it is read again, so records may repeat but never go
missing (`_id` dedupes). The cursor moves only after a window is complete.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, MutableMapping, Optional

import requests
import urllib3
from airbyte_cdk.models import (
    AirbyteMessage,
    ConfiguredAirbyteStream,
    FailureType,
    SyncMode,
)
from airbyte_cdk.sources.streams import IncrementalMixin
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.streams.http import HttpStream
from airbyte_cdk.sources.utils.schema_helpers import InternalConfig
from airbyte_cdk.sources.utils.slice_logger import SliceLogger
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from .. import mapping
from ..config import MixpanelConfig
from ..jsonl import BodyError, LongNumberWatch, MalformedLine, gunzip, parse_lines, split_lines
from ..record_format import PROFILE_EVENT_LIMIT_BYTES, record_format
from .http import MAX_RETRIES, ExportBackoffStrategy, ExportErrorHandler, PacingBudget, authenticator, last_failure
from .messages import RECORD, Progress, RecordSink, record_message
from .windows import CURSOR_FIELD, StateError, Window, first_day, format_cursor, parse_cursor, plan_windows, window_cursor

WINDOW_ATTEMPTS = 4  # reads of one window whose body broke off, before the sync fails
CHUNK_BYTES = 256 * 1024
CONNECT_TIMEOUT_SECONDS = 30
MAX_UNMAPPABLE_LOGGED = 20  # per window; the rest are counted

_BODY_FAILURES = (BodyError, requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError)


class ExportStream(HttpStream, IncrementalMixin):
    name = "events"
    primary_key = "_id"
    cursor_field = CURSOR_FIELD
    state_checkpoint_interval = None  # state is emitted after each completed window, never mid-window
    raise_on_http_errors = True

    def __init__(
        self,
        config: MixpanelConfig,
        *,
        max_retries: int = MAX_RETRIES,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
        sleep: Callable[[float], None] = time.sleep,
        record_sink: Optional[RecordSink] = None,
    ):
        self._config = config
        self._record_sink = record_sink
        self._records = record_format(config.output_format, config.xdm)  # flat or XDM: the one place the shape is chosen
        self._max_retries = max_retries
        self._now = now
        self._sleep = sleep
        self._backoff = ExportBackoffStrategy()
        self._move_cursor(None)
        self._progress = Progress(total_days=0)
        super().__init__(
            authenticator=authenticator(config.credentials),
            api_budget=PacingBudget(on_wait=self._log_pacing),
        )

    # --- request ---------------------------------------------------------------------------
    @property
    def url_base(self) -> str:
        return self._config.base_url + "/"

    def path(self, **kwargs: Any) -> str:
        return "api/2.0/export"

    def request_params(self, stream_state: Optional[Mapping[str, Any]], stream_slice: Optional[Mapping[str, Any]] = None, next_page_token: Optional[Mapping[str, Any]] = None) -> MutableMapping[str, Any]:
        stream_slice = stream_slice or {}
        params: MutableMapping[str, Any] = {"from_date": stream_slice["from_date"], "to_date": stream_slice["to_date"], "time_in_ms": "true"}
        if self._config.project_id is not None:
            params["project_id"] = self._config.project_id
        if self._config.events:
            params["event"] = json.dumps(list(self._config.events))
        if self._config.where:
            params["where"] = self._config.where
        if stream_slice.get("limit"):
            params["limit"] = stream_slice["limit"]
        return params

    def next_page_token(self, response: requests.Response) -> Optional[Mapping[str, Any]]:
        return None  # one request per window: the export API does not paginate

    def request_headers(self, **kwargs: Any) -> Mapping[str, Any]:
        return {"Accept-Encoding": "gzip", "Accept": "text/plain"}

    def request_kwargs(self, **kwargs: Any) -> Mapping[str, Any]:
        timeout = (min(CONNECT_TIMEOUT_SECONDS, self._config.request_timeout_seconds), self._config.request_timeout_seconds)
        return {"stream": True, "timeout": timeout, "allow_redirects": False}  # a redirect is an error (http.ExportErrorHandler)

    def get_error_handler(self) -> ExportErrorHandler:
        return ExportErrorHandler(self._config.project_id, self._config.project_timezone, self._config.legacy_local_time, self._max_retries)

    def get_backoff_strategy(self) -> ExportBackoffStrategy:
        return self._backoff  # the same strategy paces re-reads of a broken-off window

    def get_json_schema(self) -> Mapping[str, Any]:
        return self._records.json_schema or super().get_json_schema()  # None: the packaged schemas/events.json

    # --- state -------------------------------------------------------------------------------
    @property
    def state(self) -> MutableMapping[str, Any]:
        return self._state  # the CDK asks after every record: built once per cursor move, not per call

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
        if cursor is not None:
            self.logger.info(f"Resuming from cursor {format_cursor(cursor)} minus {config.lookback_window_days} lookback days: {first}..{last}")
        elif sync_mode == SyncMode.incremental:
            self.logger.info(f"No saved state for stream '{self.name}': reading everything from start_date {config.start_date}.")
        self.logger.info(f"Reading {first}..{last} in {len(windows)} window(s) of up to {config.date_window_days} day(s)")
        return [window.as_slice() for window in windows]

    # --- reading -----------------------------------------------------------------------------
    def read(  # type: ignore[override]
        self,
        configured_stream: ConfiguredAirbyteStream,
        logger: logging.Logger,
        slice_logger: SliceLogger,
        stream_state: MutableMapping[str, Any],
        state_manager: Any,
        internal_config: InternalConfig,
    ) -> Iterable[StreamData]:
        """The CDK's Stream.read for this stream's one shape: date windows, a STATE after each.

        The generic version checks every record against typing generics and asks for the state after
        each one, which cost as much as parsing and mapping the event. Same protocol output: the
        slice log in debug mode, a STATE after every completed window, one STATE when there was no
        window to read, and the record limit of test reads honoured.

        With a record sink (a command-line read, see run.py) records after the first go straight to
        it, not up through the CDK's generators as AirbyteMessages: that walk cost a fifth of the time
        per record. The first one still goes through the CDK, which marks the stream RUNNING on it;
        the sink counts the rest for each STATE's sourceStats as the CDK would. STATEs, traces and
        logs always go through the CDK, and the sink writes in order with them.
        """
        sync_mode = configured_stream.sync_mode
        self.configured_json_schema = configured_stream.stream.json_schema
        windows = list(self.stream_slices(sync_mode=sync_mode, cursor_field=configured_stream.cursor_field, stream_state=stream_state))
        sink = self._record_sink if not internal_config.limit else None
        records = 0
        for stream_slice in windows:
            if slice_logger.should_log_slice_message(logger):
                yield slice_logger.create_slice_log_message(stream_slice)
            if sink is not None:
                yield from self._read_slice_to(sink, stream_slice)
            else:
                messages = self.read_records(sync_mode, cursor_field=configured_stream.cursor_field, stream_slice=stream_slice, stream_state=stream_state)
                if not internal_config.limit:
                    yield from messages
                else:  # a test read (connector builder, acceptance tests) that wants only a few records
                    for message in messages:
                        yield message
                        records += message.type is RECORD
                        if internal_config.is_limit_reached(records):
                            break
            if state_manager:
                yield self._checkpoint_state(self.state, state_manager=state_manager)
            if internal_config.is_limit_reached(records):
                return
        if not windows and state_manager:
            yield self._checkpoint_state(self.state, state_manager=state_manager)

    def _read_slice_to(self, sink: RecordSink, stream_slice: Mapping[str, Any]) -> Iterator[AirbyteMessage]:
        """read_records for a command-line read: the records to the sink, but the read's first as a message (see read)."""
        name = self.name
        window_records = self._read_slice(stream_slice)
        if self._progress.records == 0:  # no record in this read's earlier windows: the CDK has seen none yet
            first = next(window_records, None)
            if first is not None:
                yield record_message(name, first)  # the CDK marks the stream RUNNING on the first RECORD it sees
        sink(name, window_records)
        yield self._progress.estimate_message(name)

    def read_records(self, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_slice: Optional[Mapping[str, Any]] = None, stream_state: Optional[Mapping[str, Any]] = None) -> Iterable[Mapping[str, Any]]:
        """The window's records as RECORD messages, then its ESTIMATE trace; the CDK passes messages through as they are."""
        if not stream_slice:
            return
        name = self.name
        for record in self._read_slice(stream_slice):
            yield record_message(name, record)
        yield self._progress.estimate_message(name)

    def _read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[Dict[str, Any]]:
        """The window's records; a body that broke off is read again; the cursor moves once it is complete."""
        window = Window.from_slice(stream_slice)
        started = time.monotonic()
        for attempt in range(1, WINDOW_ATTEMPTS + 1):
            requested_at = self._now()
            count = 0
            try:
                for record in self._read_window(stream_slice, window):
                    count += 1
                    yield record
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
        seconds = time.monotonic() - started
        self._move_cursor(max(filter(None, (self._cursor, window_cursor(window, self._config.read_timezone, requested_at)))))
        self._progress.add(window.days, count)
        self.logger.info(
            f"Window {window.start}..{window.end}: {count} records in {seconds:.1f} s ({count / max(seconds, 1e-9):,.0f} records/s); "
            f"{self._progress.days_done}/{self._progress.total_days} days done; cursor now {format_cursor(self._cursor)}"
        )

    def _read_window(self, stream_slice: Mapping[str, Any], window: Window) -> Iterator[Dict[str, Any]]:
        try:
            _, response = self._fetch_next_page(stream_slice, {})
        except AirbyteTracedException as error:  # the HttpClient's retries are used up
            if error.failure_type == FailureType.config_error:
                raise
            raise self._requests_failed(window, error) from None
        try:
            yield from self.parse_response(response, stream_state={}, stream_slice=stream_slice)
        finally:
            response.close()

    def parse_response(self, response: requests.Response, *, stream_state: Mapping[str, Any], stream_slice: Optional[Mapping[str, Any]] = None, next_page_token: Optional[Mapping[str, Any]] = None) -> Iterable[Dict[str, Any]]:
        where = f"Window {stream_slice['from_date']}..{stream_slice['to_date']}" if stream_slice else "Response"
        chunks: Iterable[bytes] = response.raw.stream(CHUNK_BYTES, decode_content=False)
        if "gzip" in response.headers.get("Content-Encoding", "").lower():
            chunks = gunzip(chunks)
        records = self._records
        to_record = records.map
        oversized_before = records.oversized
        source_timezone = self._config.source_timezone
        unmappable = 0
        too_deep: List[int] = []  # line numbers of valid events nested too deeply to pass on
        on_repair = lambda line, what: self.logger.warning(f"{where}, line {line}: {what}")  # noqa: E731
        on_skip = lambda line, why: self._log_skip(where, line, why, too_deep)  # noqa: E731
        watch = LongNumberWatch()
        values = parse_lines(split_lines(watch.watch(chunks)), on_repair=on_repair, on_skip=on_skip, long_numbers=watch)
        for index, value in enumerate(values, 1):
            try:
                yield to_record(value, time_in_ms=True, source_timezone=source_timezone)
            except mapping.UnmappableEvent as error:
                unmappable += 1
                if unmappable <= MAX_UNMAPPABLE_LOGGED:
                    self.logger.warning(f"{where}: event #{index} skipped, it cannot become a record: {error}")
        oversized = records.oversized - oversized_before
        if oversized:
            self.logger.warning(
                f"{where}: {oversized} record(s) are larger than AEP's {PROFILE_EVENT_LIMIT_BYTES // 1024} KB guardrail for Profile "
                "ExperienceEvents; they were emitted, and AEP may keep them out of Real-Time Customer Profile."
            )
        unmappable += len(too_deep)
        if unmappable:
            self.logger.warning(f"{where}: {unmappable} event(s) could not be mapped and were not emitted (see warnings above).")

    def probe(self) -> None:
        """One tiny real request (today, limit=1) to prove credentials, project and host; raises on failure."""
        today = self._config.today(self._now()).isoformat()
        stream_slice = {"from_date": today, "to_date": today, "limit": 1}
        _, response = self._fetch_next_page(stream_slice, {})
        response.close()

    # --- messages ----------------------------------------------------------------------------
    def _log_skip(self, where: str, line_no: int, why: str, skipped: List[int]) -> None:
        skipped.append(line_no)
        if len(skipped) <= MAX_UNMAPPABLE_LOGGED:
            self.logger.warning(f"{where}, line {line_no}: event skipped, {why}")

    def _log_pacing(self, seconds: float) -> None:
        self.logger.info(f"Pacing: waiting {seconds:.1f} s to stay within Mixpanel's 60 requests/hour and 3/second")

    def _requests_failed(self, window: Window, error: AirbyteTracedException) -> AirbyteTracedException:
        message = (
            f"Window {window.start}..{window.end}: Mixpanel kept failing after {self._max_retries} retries (last answer: {last_failure(error)}). "
            "Nothing from this window was checkpointed; the state emitted so far lets the next run resume here. "
            "If Mixpanel is having an outage or rate-limiting the project, run the sync again later."
        )
        return AirbyteTracedException(message=message, internal_message=error.internal_message, failure_type=FailureType.transient_error)

    def _window_failed(self, window: Window, error: BaseException, count: int) -> AirbyteTracedException:
        kind = "malformed data" if isinstance(error, MalformedLine) else "an incomplete response"
        message = (
            f"Window {window.start}..{window.end} could not be read completely after {WINDOW_ATTEMPTS} attempts "
            f"({kind}: {error}). Nothing from this window was checkpointed; the state emitted so far lets the next run resume here."
        )
        return AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.transient_error)
