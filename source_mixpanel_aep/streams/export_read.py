"""One read of the `events` stream: the state it moves, the windows it plans and sizes, what it has lost.

Made by `ExportStream.read` (and by `stream_slices` on a copy of the state, so asking for the plan
changes nothing): everything that changes while windows are read lives here, one object per read,
so two reads (or a plan and a read) never share a sizer, a progress count or a fallback.

A window is read as one request whose body is streamed line by line. It counts as read only when
its body ended cleanly; otherwise it is split in two (by days, then by time) and the halves are
read, so records may repeat but never go missing (`_id` dedupes). The cursor moves, and a STATE
goes out, only after a window (or half) is complete.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Callable, Iterable, Iterator, List, Optional

import requests
import urllib3
from airbyte_cdk.models import AirbyteMessage
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager

from ..cdk.stream_read import checkpoint, record_message
from ..clock import Clock
from ..config import MixpanelConfig
from ..records import mapping
from ..records.jsonl import BodyError, LongNumberWatch, MalformedLine, gunzip, line_batches, parse_lines
from ..records.record_format import PROFILE_EVENT_LIMIT_BYTES
from .arrival import ArrivalCheck, answered_at, arrival_base, arrival_first_day, arrival_windows, fallback_until
from .export_errors import NotYetAtMixpanel, window_failed
from .messages import Progress, Undelivered, WindowLosses
from .pacing import REQUESTS_PER_HOUR
from .plan import PlanSettings, ReadState, WindowSizer, fresh_start, fresh_windows, split, sweep_windows, window_days
from .plan_words import arrival_fallback_line, budget_line, describe_arrival_plan, describe_plan
from .windows import Window, format_cursor

WINDOW_ATTEMPTS = 4  # reads of a window too small to split (15 minutes) that broke off, before the sync fails
SPLIT_PAUSE_SECONDS = 1.0  # before reading the halves of a window that broke off (requests stay paced by the budget)
MAX_BREAKS = 30  # reads in a row that broke off, however split, before the sync fails: 30 days halve to 15 minutes in 12 splits of 2 breaks
CHUNK_BYTES = 256 * 1024
SAME_COUNT = 0.02  # two breaks of a piece within 2% of each other, at LARGE_COUNT records or more, are a size limit, not chance
LARGE_COUNT = 1000

_BODY_FAILURES = (BodyError, requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError)


def _same_count(count: int, before: int) -> bool:
    return count >= LARGE_COUNT and abs(count - before) <= SAME_COUNT * count


class ExportRead:
    """The mutable part of one read: ReadState, WindowSizer, Progress, losses, arrival judgement, deferred STATEs.

    `state` is the stream's state for the read (a full refresh starts from none but the rate seen);
    `request(window, newest_day_refusal_is_midnight=...)` is the stream's one export request.
    `defer_states`: a completed window's STATE waits until the next window is known (`read`), so the
    last one carries what the whole sync vouches for; the CDK's per-slice API gets it at once.
    """

    def __init__(self, *, name: str, namespace: Optional[str], logger: logging.Logger, config: MixpanelConfig, plan: PlanSettings,
                 records: Any, clock: Clock, backoff: Any, request: Callable[..., requests.Response],
                 state: ReadState, incremental: bool, defer_states: bool = False):
        self.name, self.namespace, self.logger = name, namespace, logger
        self._config, self._plan, self._records, self._clock, self._backoff, self._request = config, plan, records, clock, backoff, request
        self.incremental = incremental
        self.state = state if incremental else ReadState(events_per_day=state.events_per_day)
        self.sizer = WindowSizer(plan, state.events_per_day)
        self.progress = Progress(total_days=0, clock=clock)
        self.undelivered = Undelivered()
        self._oversized_reported = records.oversized
        self.states_sent = 0
        self._future_day_warned = False
        self.state_due, self._defer_states = False, defer_states
        self._size_limit: Optional[int] = None  # the record count a connection dropped at, twice in a row
        self._fell_back: Optional[str] = None  # why the arrival plan gave way to the sweep plan (arrival.py)
        self._answered: Optional[dt.datetime] = None  # the earliest moment an answer was taken (arrival.py)
        self._establishes = False  # this read, read to its end, vouches for every arrival before `_answered`

    # --- the plan ----------------------------------------------------------------------------
    def windows(self, log: bool = True) -> Iterator[Window]:
        """The fresh part, then the sweeps due once it is read (plan.py); logged as a plan first."""
        config, plan, state, clock = self._config, self._plan, self.state, self._clock
        now = clock.now()
        today = config.today(now)
        last = min(config.end_date, today) if config.end_date else today
        incremental = self.incremental
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
            self.progress = Progress(total_days=max(0, (last - first).days + 1) + len(due), clock=clock)
            if log:
                self.logger.info(describe_arrival_plan(self.name, plan, state, base, first, last, due))
            for window in arrival_windows(self.sizer, base, plan, last, now):
                yield window
                if self._fell_back:
                    break
            if self._fell_back:  # the sweep plan for the rest of this sync: the fresh part by event time, full sweeps
                first, since = fresh_start(state, plan)
                yield from fresh_windows(self.sizer, first, since, last, clock.now())
        else:
            first, since = fresh_start(state, plan)
            self.progress = Progress(total_days=max(0, (last - first).days + 1) + len(due), clock=clock)
            if log:
                self.logger.info(describe_plan(self.name, plan, state, first, since, last, due))
                self._log_request_budget(first, since, last, due, now)
            yield from fresh_windows(self.sizer, first, since, last, now)
        if incremental:  # days the fresh part read whole are no longer due
            unstamped = base is not None and not self._fell_back and plan.unstamped_sweeps
            yield from sweep_windows(self.sizer, state.due_sweeps(config.today(clock.now()), plan), unstamped)

    def _log_request_budget(self, first: dt.date, since: Optional[dt.datetime], last: dt.date, due: List[dt.date], now: dt.datetime) -> None:
        """The requests this sync plans, against Mixpanel's 60 an hour: a long backfill is paced from the start, never rate-limited."""
        sizer = WindowSizer(self._plan, self.state.events_per_day)
        planned = sum(1 for _ in fresh_windows(sizer, first, since, last, now)) + sum(1 for _ in sweep_windows(sizer, due))
        line = budget_line(planned, REQUESTS_PER_HOUR, self.state.events_per_day)
        if line:
            self.logger.info(line)

    # --- states --------------------------------------------------------------------------------
    def state_message(self, state_manager: ConnectorStateManager) -> AirbyteMessage:
        self.states_sent += 1
        return checkpoint(self.name, self.namespace, self.state.to_state(), state_manager)

    def due_state(self, state_manager: Optional[ConnectorStateManager]) -> Iterator[AirbyteMessage]:
        """The STATE of the window before, once the next one is known."""
        if self.state_due and state_manager is not None:
            self.state_due = False
            yield self.state_message(state_manager)

    def finish(self) -> bool:
        """Every window of the plan was read: the arrival cursor moves (or, after a fallback, gives way to the sweep plan); True when the state changed."""
        state, before = self.state, self.state.to_state()
        today = self._config.today(self._clock.now())
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
        self.logger.warning(arrival_fallback_line(window, check, fallback_until(self._config.today(self._clock.now()), self._plan)))

    # --- one window ----------------------------------------------------------------------------
    def window_messages(self, window: Window, state_manager: Optional[ConnectorStateManager] = None) -> Iterator[AirbyteMessage]:
        """The window's RECORDs, then its ESTIMATE and STATE; a read that broke off is split in halves and read again."""
        clock = self._clock
        pending = [(window, 0, 0)]
        breaks = tiny_attempts = 0
        while pending:
            piece, piece_breaks, broke_at = pending.pop(0)
            if self.state_due and state_manager is not None:  # the piece before this one, checkpointed before this is asked for
                self.state_due = False
                yield self.state_message(state_manager)
            started = clock.monotonic()
            requested_at = clock.now()
            count = 0
            undelivered = self.undelivered.for_window(piece)
            check = None if piece.unstamped else ArrivalCheck(piece)
            try:
                response = self._request(piece)
            except NotYetAtMixpanel:
                shorter = self._shorter_window(piece)
                if shorter is None:
                    continue  # nothing Mixpanel has yet: no records, the cursor stays where it was
                piece = shorter
                undelivered = self.undelivered.for_window(piece)
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
                    self.sizer.cap(count)
                sized_out = bool(self._size_limit) and count >= self._size_limit * (1 - SAME_COUNT)  # the drop point seen before
                halves = None if malformed or not (piece_breaks or sized_out) else split(piece, requested_at, self._plan.read_tz)
                tiny_attempts += halves is None and (malformed or bool(piece_breaks))
                if breaks >= MAX_BREAKS or tiny_attempts >= WINDOW_ATTEMPTS:
                    raise window_failed(piece, error, breaks) from None
                self.undelivered.discard(piece)
                if halves:
                    self.sizer.broke_off(window_days(piece, self._plan.read_tz))
                # Halves are a new plan, not a retry of the same request: a short pause. Re-reading the same window backs off.
                delay = SPLIT_PAUSE_SECONDS if halves or not (piece_breaks or malformed) else self._backoff.delay(tiny_attempts)
                again = f"as {halves[0].label} and {halves[1].label}" if halves else "again whole"
                self.logger.warning(
                    f"{piece.label}: the read broke off after {count} records ({error}); reading it {again} in {delay:.0f} s "
                    "(records may repeat; dedupe on _id)."
                )
                clock.sleep(delay)
                pending[0:0] = [(half, 0, 0) for half in halves] if halves else [(piece, piece_breaks + 1, count)]
                continue
            finally:
                response.close()
            breaks = 0
            self._judge_arrivals(check, piece)
            at = answered_at(requested_at, response.headers.get("Date"))
            self._answered = at if self._answered is None else min(self._answered, at)
            self.sizer.completed()
            yield from self._completed(piece, requested_at, count, clock.monotonic() - started, state_manager)

    def _records_of(self, response: requests.Response, window: Window, undelivered: WindowLosses, check: Optional[ArrivalCheck] = None) -> Iterator[AirbyteMessage]:
        name = self.name
        to_record, unmappable, stamp, message = self._records.map, mapping.UnmappableEvent, self._clock.time_ns, record_message
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
                yield message(name, record, stamp() // 1_000_000)
        finally:
            undelivered.delivered = count

    def _completed(self, window: Window, requested_at: dt.datetime, count: int, seconds: float, state_manager: Optional[ConnectorStateManager]) -> Iterator[AirbyteMessage]:
        """A window read to its end: what it proves goes into the state (plan.py), then the log lines, ESTIMATE and STATE."""
        progress = self.progress
        self.state.record_read(window, requested_at, count, self._plan, self._config.today(self._clock.now()))
        self.sizer.learn(self.state.events_per_day)
        progress.add(window_days(window, self._plan.read_tz), count)
        cursor = self.state.cursor
        self.logger.info(
            f"{window.label}: {count} records in {seconds:.1f} s ({count / max(seconds, 1e-9):,.0f} records/s); "
            f"{progress.days_done:g}/{progress.total_days} days done; cursor now {format_cursor(cursor) if cursor else 'not set'}"
        )
        self.undelivered.report_window(self.logger)
        oversized, self._oversized_reported = self._records.oversized - self._oversized_reported, self._records.oversized
        if oversized:
            self.logger.warning(
                f"{window.label}: {oversized} record(s) are larger than AEP's {PROFILE_EVENT_LIMIT_BYTES // 1024} KB "
                "guardrail for Profile ExperienceEvents; they were emitted, and AEP may keep them out of Real-Time Customer Profile."
            )
        yield progress.estimate_message(self.name)
        if state_manager is not None and self._defer_states:
            self.state_due = True
        elif state_manager is not None:
            yield self.state_message(state_manager)

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
            self.progress.add(window.days, 0)
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
