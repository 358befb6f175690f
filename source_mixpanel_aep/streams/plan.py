"""The read plan of a sync: what is new since the cursor, then late-event sweeps; windows sized to the data.

Pure: dates, instants and counts in, windows and state out; no HTTP, no protocol.

Incremental syncs normally read by arrival (arrival.py, which builds on the state and windows
here); the plan below is the sweep plan: the first sync's backfill, and the fallback when reading
by arrival is not possible.

A sync reads, in this order:
1. **The fresh part**: from the cursor minus `overlap` (events that reach Mixpanel a little after
   they happen) up to today, with the server-side filter `properties["$time"] >= datetime(S)`,
   so a sync every 15 minutes asks for about 15 minutes of events, not for days.
2. **Sweeps**: past days read again in full, to pick up events that reached Mixpanel after their
   day was read (offline mobile clients, `/import`). Each day D is swept `sweeps` times, on fixed
   days after it (`sweep_days`), the last one on D+lookback+1, the first day after the lookback
   window: so an event that reaches Mixpanel up to `lookback` days after its day is read, as the
   plan before this one read it (it re-read D on every sync up to the last one on D+lookback).
   With lookback 5 and one sweep: on D+6; with two, on D+3 and D+6. The state remembers, for each
   day still owed a sweep, when it was last read in full;
   a sweep that breaks off leaves that unchanged, so it is redone by the next sync. How often the
   sync runs changes nothing: a day is read in full `1 + sweeps` times at most however many syncs
   there are (the first being the fresh reads that brought its events in).

Windows are sized from the events per day seen so far (kept in the state): a small project reads
`max_days` days a request; a big one gets windows of about `target_events`, down to parts of a day
(`since`/`until` hour ranges). The first window of a sync with no rate known covers
`FIRST_WINDOW_DAYS` days, so that a year is still 13 requests with 30-day windows (6 + 12 x 30 = 366).

State (`events` stream), every field but `timestamp` optional, so the older `{"timestamp": ...}`
keeps working:
    {"timestamp": "2024-05-10T12:00:00.000Z",                       # the cursor
     "swept": {"2024-05-06": "2024-05-06T00:10:00.000Z", "2024-05-10": null},  # day -> last full read
     "events_per_day": 41250}                                      # sizing hint
A state without `swept` (from before this plan, or another connector's `date`/`time`) is read as
that plan left it: the cursor's day and the `lookback` days before it read in full at the cursor.

Since the arrival plan (arrival.py) two more optional fields:
    "arrived": "2024-05-10T12:00:00.000Z",  # every event Mixpanel ingested before this, of the days read, was read
    "sweep_plan_until": "2024-05-16"        # the arrival filter was not applied / events lacked the property:
                                            # the plan above is used (full sweeps) up to this day
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from typing import Any, Dict, Iterator, List, Mapping, Optional
from zoneinfo import ZoneInfo

from .windows import CURSOR_FIELD, StateError, Window, day_start, format_cursor, parse_cursor, window_cursor

FIRST_WINDOW_DAYS = 6  # with no rate known yet: 6 + 12 x 30 days = a year (and a day) in 13 requests
MIN_PIECE = dt.timedelta(minutes=15)  # a window is split no finer than this
BREAK_MARGIN = 0.5  # after a piece of N events had to be split, windows aim at half of N
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class PlanSettings:
    start_date: dt.date
    end_date: Optional[dt.date]
    lookback_days: int
    sweeps: int
    overlap: dt.timedelta
    max_days: int
    target_events: int
    read_tz: ZoneInfo
    unstamped_sweeps: bool = False  # the arrival plan's sweeps read only events without mp_processing_time_ms
    arrival_overlap: dt.timedelta = dt.timedelta(minutes=5)  # the arrival read starts this long before the arrival cursor


def sweep_days(lookback_days: int, sweeps: int) -> List[int]:
    """The days after a day D on which D is read again in full: `sweeps` of them spread evenly, the last on D+lookback+1.

    The last one is the first day after the lookback window, so that everything that reached
    Mixpanel while D was inside the window (up to the end of D+lookback) is read.
    """
    if lookback_days <= 0 or sweeps <= 0:
        return []
    last = lookback_days + 1
    return sorted({math.ceil(k * last / sweeps) for k in range(1, sweeps + 1)})


def _done(day: dt.date, read_at: dt.datetime, read_tz: ZoneInfo, lookback_days: int) -> bool:
    """A day read whole on or after its last sweep day (D+lookback+1) is owed nothing more; with no lookback, nothing is ever owed."""
    return lookback_days <= 0 or (read_at.astimezone(read_tz).date() - day).days > lookback_days


def _parse_instant(day: str, value: Any) -> Optional[dt.datetime]:
    if value is None:
        return None
    cursor = parse_cursor({CURSOR_FIELD: value}) if isinstance(value, str) else None
    if cursor is None:
        raise StateError(f"state['swept'][{day!r}] = {value!r} is not an ISO 8601 instant or null")
    return cursor


@dataclass
class ReadState:
    """The `events` stream's state: the cursor, the days still owed a sweep, the rate seen."""

    cursor: Optional[dt.datetime] = None
    swept: Dict[dt.date, Optional[dt.datetime]] = field(default_factory=dict)
    events_per_day: Optional[float] = None
    migrated: bool = False  # read from a state without `swept`
    arrived: Optional[dt.datetime] = None  # arrival.py: what had reached Mixpanel before this instant was read
    sweep_plan_until: Optional[dt.date] = None  # arrival.py: up to this day, no arrival plan
    _runs: Dict[dt.date, dt.datetime] = field(default_factory=dict, repr=False)  # this sync: a day read in pieces, since when

    @classmethod
    def parse(cls, raw: Optional[Mapping[str, Any]], read_tz: ZoneInfo, lookback_days: int) -> "ReadState":
        if raw and isinstance(raw, Mapping) and not any(key in raw for key in (CURSOR_FIELD, "time", "date")) and "swept" in raw:
            cursor = None
        else:
            cursor = parse_cursor(raw)
        if not raw:
            return cls()
        rate = raw.get("events_per_day")
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate < 0 or not math.isfinite(rate)):
            raise StateError(f"state['events_per_day'] = {rate!r} is not a non-negative number")
        if "swept" not in raw:
            state = cls(cursor=cursor, events_per_day=rate, migrated=True)
            if cursor is not None:  # the old plan read the cursor's day and the lookback before it in full, at the cursor
                cursor_day = cursor.astimezone(read_tz).date()
                for back in range(lookback_days + 1):
                    state.swept[cursor_day - dt.timedelta(days=back)] = cursor
                state.drop_done(read_tz, lookback_days)
            return state
        swept_raw = raw["swept"]
        if not isinstance(swept_raw, Mapping):
            raise StateError(f"state['swept'] is a {type(swept_raw).__name__}, not an object of day -> instant")
        swept: Dict[dt.date, Optional[dt.datetime]] = {}
        for day_text, value in swept_raw.items():
            try:
                day = dt.date.fromisoformat(day_text)
            except (TypeError, ValueError):
                raise StateError(f"state['swept'] has the key {day_text!r}, which is not a YYYY-MM-DD day") from None
            swept[day] = _parse_instant(day_text, value)
        state = cls(cursor=cursor, swept=swept, events_per_day=rate)
        try:
            state.arrived = _parse_instant("arrived", raw.get("arrived"))
        except StateError:
            raise StateError(f"state['arrived'] = {raw.get('arrived')!r} is not an ISO 8601 instant") from None
        until = raw.get("sweep_plan_until")
        if until is not None:
            try:
                state.sweep_plan_until = dt.date.fromisoformat(until)
            except (TypeError, ValueError):
                raise StateError(f"state['sweep_plan_until'] = {until!r} is not a YYYY-MM-DD day") from None
        return state

    def to_state(self) -> Dict[str, Any]:
        state: Dict[str, Any] = {}
        if self.cursor is not None:
            state[CURSOR_FIELD] = format_cursor(self.cursor)
        state["swept"] = {day.isoformat(): (format_cursor(at) if at else None) for day, at in sorted(self.swept.items())}
        if self.events_per_day is not None:
            state["events_per_day"] = round(self.events_per_day)
        if self.arrived is not None:
            state["arrived"] = format_cursor(self.arrived)
        if self.sweep_plan_until is not None:
            state["sweep_plan_until"] = self.sweep_plan_until.isoformat()
        return state

    # --- what a completed read proves --------------------------------------------------------
    def record_read(self, window: Window, requested_at: dt.datetime, records: int, settings: PlanSettings, today: dt.date) -> None:
        """A window was read completely: days read whole get their full-read instant, the cursor moves, the rate is learned."""
        read_tz = settings.read_tz
        day = window.start
        while day <= window.end:
            if window.arrived_since is not None:  # what arrived lately, not the whole day: the day keeps its sweeps owed
                if day not in self.swept and 0 <= (today - day).days <= settings.lookback_days and sweep_days(settings.lookback_days, settings.sweeps):
                    self.swept[day] = None
                day += DAY
                continue
            begins = window.since is None or day > window.start or window.since <= day_start(day, read_tz)
            ends = window.until is None or day < window.end or window.until >= day_start(day + DAY, read_tz)
            if begins:
                self._runs[day] = requested_at
            if ends and day in self._runs:
                self._full_read(day, self._runs.pop(day), settings)
            elif day not in self.swept and 0 <= (today - day).days <= settings.lookback_days and sweep_days(settings.lookback_days, settings.sweeps):
                self.swept[day] = None  # partly read (fresh part): owed its sweeps
            day += DAY
        if not window.sweep:
            moved = window_cursor(window, read_tz, requested_at)
            self.cursor = max(filter(None, (self.cursor, moved)))
        if window.arrived_since is None and not window.unstamped:  # those hold a small part of their days' events
            self._learn_rate(window, records, requested_at, read_tz)

    def _full_read(self, day: dt.date, at: dt.datetime, settings: PlanSettings) -> None:
        self.swept[day] = at
        if _done(day, at, settings.read_tz, settings.lookback_days):
            del self.swept[day]  # read whole after its lookback window: nothing more is owed

    def drop_done(self, read_tz: ZoneInfo, lookback_days: int) -> None:
        for day, at in list(self.swept.items()):
            if at is not None and _done(day, at, read_tz, lookback_days):
                del self.swept[day]

    def _learn_rate(self, window: Window, records: int, requested_at: dt.datetime, read_tz: ZoneInfo) -> None:
        """Events per day from a completed window; a read of under an hour (a frequent sync's fresh part) says too little."""
        begin, end = window.bounds(read_tz)
        days = (min(end, requested_at) - begin) / DAY
        if days >= 1 / 24:
            self.events_per_day = records / days

    # --- what is owed --------------------------------------------------------------------------
    def due_sweeps(self, today: dt.date, settings: PlanSettings) -> List[dt.date]:
        """Past days owed a sweep today: a sweep day has come since the day was last read in full.

        Days the plan will never sweep leave the state here: before start_date (a config change), or
        all of them when sweeps are off (lookback 0).
        """
        points = sweep_days(settings.lookback_days, settings.sweeps)
        for day in [day for day in self.swept if day < settings.start_date or not points]:
            del self.swept[day]
        last = min(settings.end_date, today) if settings.end_date else today
        due = []
        for day, at in sorted(self.swept.items()):
            if day >= today or day > last or day < settings.start_date:
                continue
            read_age = (at.astimezone(settings.read_tz).date() - day).days if at else 0
            age = (today - day).days
            if any(read_age < point <= age for point in points):
                due.append(day)
        return due


class WindowSizer:
    """Window sizes from the events per day seen: `max_days` for a small project, about `target_events` for a big one.

    After a piece had to be split (it broke off twice in a row) windows aim at half of that piece;
    each piece read completely doubles the aim again, up to `target_events` (TCP's multiplicative
    decrease, then its slow start), so one random break changes a few windows, not the rest of the sync.
    """

    def __init__(self, settings: PlanSettings, events_per_day: Optional[float]):
        self._settings = settings
        self._target = self._ceiling = settings.target_events
        self.rate = events_per_day
        self._probed = events_per_day is not None

    @property
    def target(self) -> int:
        return self._target

    def learn(self, events_per_day: Optional[float]) -> None:
        self.rate = events_per_day

    def broke_off(self, piece_days: float) -> None:
        """A piece of `piece_days` days had to be split: aim at half of what it held (with no rate known yet, the split alone shrinks)."""
        if self.rate:
            self._target = max(1, min(self._target, int(self.rate * piece_days * BREAK_MARGIN)))

    def cap(self, records: int) -> None:
        """The connection drops at about `records` (twice at that count): aim at half of it, and never grow past it, for the rest of the sync."""
        self._ceiling = max(1, min(self._ceiling, int(records * BREAK_MARGIN)))
        self._target = min(self._target, self._ceiling)

    def completed(self) -> None:
        """A piece was read to its end: aim twice as high again, up to `target_events` (or the cap a size limit set)."""
        self._target = min(self._ceiling, self._target * 2)

    def window(self, day: dt.date, last: dt.date, since: Optional[dt.datetime], sweep: bool = False, now: Optional[dt.datetime] = None, share: float = 1.0) -> Window:
        """The next window from `day` (at `since`); a part of a day that would reach past `now` is open-ended instead.

        No window starts after `now`: events later than the request cannot be in its answer, and a
        cursor moved by such a window would vouch for events that had not arrived when the part
        before it was read. `share`: the part of each day's events the read asks for (an arrival read: what arrived lately).
        """
        settings = self._settings
        rate = None if self.rate is None else self.rate * share
        if rate is None:  # the first window probes the rate; a plan made before reading assumes a small project after it
            days = settings.max_days if self._probed else min(FIRST_WINDOW_DAYS, settings.max_days)
            self._probed = True
        else:
            days = int(max(1, min(settings.max_days, self._target // max(rate, 1))))
        if rate is not None and rate > self._target:  # parts of a day
            pieces = min(math.ceil(rate / self._target), int(DAY / MIN_PIECE))
            begin = since or day_start(day, settings.read_tz)
            day_end = day_start(day + DAY, settings.read_tz)
            until = min(day_end, begin + _round_up(DAY / pieces))
            open_ended = until >= day_end or (now is not None and until >= now)
            return Window(day, day, since, None if open_ended else until, sweep)
        return Window(day, min(last, day + dt.timedelta(days=days - 1)), since, None, sweep)


def window_days(window: Window, read_tz: ZoneInfo) -> float:
    """How many days a window covers (a part of a day as a fraction), for progress."""
    if window.since is None and window.until is None:
        return window.days
    begin, end = window.bounds(read_tz)
    return max(0.0, (end - begin) / DAY)


def _round_up(length: dt.timedelta) -> dt.timedelta:
    return max(MIN_PIECE, dt.timedelta(minutes=math.ceil(length / dt.timedelta(minutes=1))))


def fresh_start(state: ReadState, settings: PlanSettings) -> tuple[dt.date, Optional[dt.datetime]]:
    """Where the fresh part begins: start_date, or the cursor minus the overlap (never before start_date)."""
    floor = day_start(settings.start_date, settings.read_tz)
    if state.cursor is None:
        return settings.start_date, None
    since = max(floor, state.cursor - settings.overlap)
    day = since.astimezone(settings.read_tz).date()
    return day, (None if since == day_start(day, settings.read_tz) else since)


def fresh_windows(sizer: WindowSizer, first: dt.date, since: Optional[dt.datetime], last: dt.date, now: dt.datetime) -> Iterator[Window]:
    """The fresh part, one window at a time: each is sized when it is asked for, from what was read before it."""
    return consecutive_windows(sizer, first, since, last, sweep=False, now=now)


def sweep_windows(sizer: WindowSizer, days: List[dt.date], unstamped: bool = False) -> Iterator[Window]:
    """Runs of consecutive due days, in windows sized like the fresh ones (whole days, or parts of a big day).

    `unstamped`: the arrival plan's safety sweep, which asks only for events without
    `mp_processing_time_ms` (almost none): a run of days in as few windows as `max_days` allows.
    """
    index = 0
    while index < len(days):
        run_end = index
        while run_end + 1 < len(days) and days[run_end + 1] == days[run_end] + DAY:
            run_end += 1
        yield from consecutive_windows(sizer, days[index], None, days[run_end], sweep=True, share=0.0 if unstamped else 1.0, unstamped=unstamped)
        index = run_end + 1


def consecutive_windows(sizer: WindowSizer, day: dt.date, since: Optional[dt.datetime], last: dt.date, sweep: bool, now: Optional[dt.datetime] = None,
                 share: float = 1.0, arrived_since: Optional[dt.datetime] = None, unstamped: bool = False) -> Iterator[Window]:
    """Windows from `day` (at `since`) to the end of `last`, each starting where the one before ended."""
    while day <= last:
        window = sizer.window(day, last, since, sweep, now, share)
        if arrived_since is not None or unstamped:
            window = replace(window, arrived_since=arrived_since, unstamped=unstamped)
        yield window
        if window.until is not None:
            day, since = window.end, window.until
        else:
            day, since = window.end + DAY, None


def split(window: Window, requested_at: dt.datetime, read_tz: ZoneInfo) -> Optional[List[Window]]:
    """Two halves of a window that broke off: by days, then a day by time; None when it is as small as a window gets."""
    if window.days > 1:
        middle = window.start + dt.timedelta(days=window.days // 2 - 1)
        return [window.part(window.start, middle, window.since, None), window.part(middle + DAY, window.end, None, window.until)]
    begin, end = window.bounds(read_tz)
    end = min(end, requested_at)  # today's open end: nothing after the request exists
    if end - begin < 2 * MIN_PIECE:
        return None
    middle = begin + dt.timedelta(minutes=math.floor((end - begin) / 2 / dt.timedelta(minutes=1)))
    return [window.part(window.start, window.start, window.since, middle), window.part(window.start, window.start, middle, window.until)]
