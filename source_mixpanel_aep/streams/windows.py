"""Date windows and the cursor: which days to ask for, and what a completed window proves.

Days are in the timezone Mixpanel reads `from_date`/`to_date` in (UTC, or the project's for
legacy projects). The cursor is a UTC instant: "every event up to here was fully read". After a
window [from, to] completes, the cursor is the end of `to` (capped at the moment the request was
made, since later events could not have been in the answer). A new sync starts at the cursor's
day minus the lookback, so late events inside the lookback are read again (dedupe on `_id`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional
from zoneinfo import ZoneInfo

import pendulum

CURSOR_FIELD = "timestamp"
_DATE_PREFIX = re.compile(r"^\s*\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Window:
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def as_slice(self) -> Mapping[str, str]:
        return {"from_date": self.start.isoformat(), "to_date": self.end.isoformat()}

    @classmethod
    def from_slice(cls, stream_slice: Mapping[str, Any]) -> "Window":
        return cls(dt.date.fromisoformat(stream_slice["from_date"]), dt.date.fromisoformat(stream_slice["to_date"]))


def plan_windows(first: dt.date, last: dt.date, days: int) -> List[Window]:
    """Consecutive windows of `days` days covering first..last inclusive (none if first > last)."""
    windows = []
    start = first
    while start <= last:
        end = min(last, start + dt.timedelta(days=days - 1))
        windows.append(Window(start, end))
        start = end + dt.timedelta(days=1)
    return windows


def first_day(start_date: dt.date, cursor: Optional[dt.datetime], lookback_days: int, read_tz: ZoneInfo) -> dt.date:
    """Where a sync starts: start_date, or the cursor's day minus the lookback, whichever is later."""
    if cursor is None:
        return start_date
    return max(start_date, cursor.astimezone(read_tz).date() - dt.timedelta(days=lookback_days))


def describe_start(start_date: dt.date, cursor: Optional[dt.datetime], lookback_days: int, read_tz: ZoneInfo, stream: str = "events") -> str:
    """Where a sync starts and which bound decided it, for the log line before the windows.

    Says the same as `first_day` in words: without a cursor, start_date; with one, the cursor's day
    (in the read timezone) minus the lookback, unless start_date is later, and then that start_date
    won. Starts like the lines it replaces ("No saved state for stream ...", "Resuming from cursor ...").
    """
    if cursor is None:
        return f"No saved state for stream '{stream}': reading everything from start_date {start_date}."
    cursor_day = cursor.astimezone(read_tz).date()
    resume_day = cursor_day - dt.timedelta(days=lookback_days)
    lookback = f"{lookback_days} lookback day{'' if lookback_days == 1 else 's'}"
    saved = f"cursor {format_cursor(cursor)} ({cursor_day} in {read_tz.key})"
    if start_date > resume_day:
        return f"start_date {start_date} is later than the saved {saved} minus {lookback} ({resume_day}), so reading from start_date {start_date}."
    return f"Resuming from {saved} minus {lookback}: reading from {resume_day} (start_date {start_date} is earlier, so it does not apply)."


def window_cursor(window: Window, read_tz: ZoneInfo, requested_at: dt.datetime) -> dt.datetime:
    """The instant a completed window vouches for: the end of its last day, or when it was asked."""
    next_midnight = dt.datetime.combine(window.end + dt.timedelta(days=1), dt.time(0), tzinfo=read_tz)
    end_of_window = next_midnight.astimezone(dt.timezone.utc) - dt.timedelta(milliseconds=1)
    return min(end_of_window, requested_at.astimezone(dt.timezone.utc))


def format_cursor(instant: dt.datetime) -> str:
    return instant.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


class StateError(ValueError):
    """The saved state cannot be understood."""


def parse_cursor(state: Optional[Mapping[str, Any]]) -> Optional[dt.datetime]:
    """The cursor instant from a saved state; None for no state.

    Accepts our own `{"timestamp": "<ISO 8601>"}`, and, so that a user moving from another Mixpanel
    connector keeps their place, a `date` or `time` key holding a date, an ISO instant or Unix
    seconds/milliseconds. Anything else is a StateError (never a silent full resync).
    """
    if not state:
        return None
    if not isinstance(state, Mapping):
        raise StateError(f"the state is a {type(state).__name__}, not an object")
    for key in (CURSOR_FIELD, "time", "date"):
        if key in state:
            return _instant(key, state[key])
    raise StateError(f"the state has none of the keys {CURSOR_FIELD!r}, 'time', 'date' (it has {sorted(state)[:5]})")


def _instant(key: str, value: Any) -> dt.datetime:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value  # milliseconds after 1973 are > 1e11
        try:
            return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
        except (ValueError, OverflowError, OSError):
            raise StateError(f"state[{key!r}] = {value!r} is not a usable Unix time") from None
    if isinstance(value, str) and not _DATE_PREFIX.match(value):
        raise StateError(f"state[{key!r}] = {value!r} does not start with a YYYY-MM-DD date")
    if isinstance(value, str):
        try:
            parsed = pendulum.parse(value, strict=False)
        except (ValueError, pendulum.parsing.exceptions.ParserError):
            raise StateError(f"state[{key!r}] = {value!r} is not a date or timestamp") from None
        if isinstance(parsed, pendulum.DateTime):
            return dt.datetime.fromtimestamp(parsed.timestamp(), dt.timezone.utc)
        if isinstance(parsed, pendulum.Date):
            return dt.datetime(parsed.year, parsed.month, parsed.day, tzinfo=dt.timezone.utc)
    raise StateError(f"state[{key!r}] = {value!r} is not a date or timestamp")
