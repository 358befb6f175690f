"""Date windows and the cursor: which days (and which part of them) to ask for, and what a completed window proves.

Days are in the timezone Mixpanel reads `from_date`/`to_date` in (UTC, or the project's for
legacy projects). A window may also be bounded in time inside its days (`since`, `until`, UTC
instants), sent as Mixpanel's server-side filter `properties["$time"] >= datetime(<Unix s>)`: the
fresh part of a scheduled sync starts a little before the cursor instead of at a day's start, and
a window that keeps breaking off is split down to hour ranges. The cursor is a UTC instant: "every
event up to here that had reached Mixpanel when it was read, was read". After a fresh window
completes, the cursor is its end (capped at the moment the request was made, since later events
could not have been in the answer).

A window may also ask only for what reached Mixpanel since an instant (`arrived_since`, sent as
`number(properties["mp_processing_time_ms"]) >= <UTC ms>`: the arrival read, arrival.py), or, for a
safety sweep, only for events that carry no arrival time (`unstamped`: `not defined(...)`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, replace
from typing import Any, Dict, Mapping, Optional, Tuple
from zoneinfo import ZoneInfo

import pendulum

CURSOR_FIELD = "timestamp"
ARRIVAL_FIELD = "mp_processing_time_ms"  # when Mixpanel ingested the event, UTC ms, on every exported event
_DATE_PREFIX = re.compile(r"^\s*\d{4}-\d{2}-\d{2}")
UTC = dt.timezone.utc


@dataclass(frozen=True)
class Window:
    """One export request: the days `start..end`, optionally only events in [since, until), and why it is read.

    `sweep`: a late-event sweep, which re-reads whole past days and moves no cursor (plan.py).
    `arrived_since`: only events that reached Mixpanel at or after this instant (an arrival read).
    `unstamped`: only events without `mp_processing_time_ms` (a safety sweep in the arrival plan).
    """

    start: dt.date
    end: dt.date
    since: Optional[dt.datetime] = None
    until: Optional[dt.datetime] = None
    sweep: bool = False
    arrived_since: Optional[dt.datetime] = None
    unstamped: bool = False

    def part(self, start: dt.date, end: dt.date, since: Optional[dt.datetime], until: Optional[dt.datetime]) -> "Window":
        """A part of this window (a split, a shorter one): the same kind of read over other bounds."""
        return replace(self, start=start, end=end, since=since, until=until)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bounds(self, read_tz: ZoneInfo) -> Tuple[dt.datetime, dt.datetime]:
        """The instants it covers, [begin, end): its `since`/`until`, or the start of its first day and of the day after its last."""
        begin = self.since or day_start(self.start, read_tz)
        end = self.until or day_start(self.end + dt.timedelta(days=1), read_tz)
        return begin, end

    @property
    def label(self) -> str:
        """How logs name it: `Window 2024-05-01..2024-05-30`, `Window 2024-05-10 from 12:40:00Z`, `Sweep 2024-05-05..2024-05-05`."""
        text = f"{'Sweep' if self.sweep else 'Window'} {self.start}..{self.end}"
        if self.since is not None:
            text += f" from {_clock(self.since)}"
        if self.until is not None:
            text += f" until {_clock(self.until)}"
        if self.arrived_since is not None:
            text += f" arrived since {_clock(self.arrived_since)}"
        if self.unstamped:
            text += " (events without mp_processing_time_ms)"
        return text

    def as_slice(self) -> Mapping[str, Any]:
        stream_slice: Dict[str, Any] = {"from_date": self.start.isoformat(), "to_date": self.end.isoformat()}
        if self.since is not None:
            stream_slice["since"] = format_cursor(self.since)
        if self.until is not None:
            stream_slice["until"] = format_cursor(self.until)
        if self.sweep:
            stream_slice["sweep"] = True
        if self.arrived_since is not None:
            stream_slice["arrived_since"] = format_cursor(self.arrived_since)
        if self.unstamped:
            stream_slice["unstamped"] = True
        return stream_slice

    @classmethod
    def from_slice(cls, stream_slice: Mapping[str, Any]) -> "Window":
        def instant(key: str) -> Optional[dt.datetime]:
            return dt.datetime.fromisoformat(stream_slice[key].replace("Z", "+00:00")) if stream_slice.get(key) else None

        return cls(
            dt.date.fromisoformat(stream_slice["from_date"]),
            dt.date.fromisoformat(stream_slice["to_date"]),
            instant("since"),
            instant("until"),
            bool(stream_slice.get("sweep")),
            instant("arrived_since"),
            bool(stream_slice.get("unstamped")),
        )


def _clock(instant: dt.datetime) -> str:
    text = format_cursor(instant)
    return f"{text[:10]} {text[11:19]}Z"


def day_start(day: dt.date, read_tz: ZoneInfo) -> dt.datetime:
    """The UTC instant a day begins where Mixpanel reads days."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=read_tz).astimezone(UTC)


def time_filter(window: Window, source_tz: Optional[ZoneInfo]) -> Optional[str]:
    """The `where` text for the window's time bounds, or None.

    `properties["$time"] >= datetime(S)` (and `< datetime(U)`), S and U in Unix seconds on the clock
    the raw `time` is written in: UTC, or for a legacy project its local wall clock (so the bound
    reads as the local time of the same instant, the way Mixpanel compares it with stored times).
    Then the arrival bound, `number(properties["mp_processing_time_ms"]) >= <ms>` (the form of
    Mixpanel's own "Hot Shard Limits" scripts; UTC milliseconds for every project, legacy or not),
    or `not defined(properties["mp_processing_time_ms"])` for an unstamped-only sweep.
    """
    parts = []
    if window.since is not None:
        parts.append(f'properties["$time"] >= datetime({_seconds(window.since, source_tz)})')
    if window.until is not None:
        parts.append(f'properties["$time"] < datetime({_seconds(window.until, source_tz)})')
    if window.arrived_since is not None:
        parts.append(f'number(properties["{ARRIVAL_FIELD}"]) >= {arrival_ms(window.arrived_since)}')
    if window.unstamped:
        parts.append(f'not defined(properties["{ARRIVAL_FIELD}"])')
    return " and ".join(parts) or None


def arrival_ms(instant: dt.datetime) -> int:
    """An instant as `mp_processing_time_ms` writes it: UTC milliseconds."""
    return math.floor(instant.timestamp() * 1000)


def combined_where(theirs: Optional[str], ours: Optional[str]) -> Optional[str]:
    """The user's `where` AND-ed with ours: `(<theirs>) and (<ours>)`, or whichever is set."""
    if theirs and ours:
        return f"({theirs}) and ({ours})"
    return theirs or ours


def _seconds(instant: dt.datetime, source_tz: Optional[ZoneInfo]) -> int:
    if source_tz is not None:  # the wall clock there, written as if it were UTC: how legacy projects store `time`
        instant = instant.astimezone(source_tz).replace(tzinfo=UTC)
    return math.floor(instant.timestamp())


def window_cursor(window: Window, read_tz: ZoneInfo, requested_at: dt.datetime) -> dt.datetime:
    """The instant a completed window vouches for: the end of its last day (or its `until`), or when it was asked."""
    end_of_window = window.bounds(read_tz)[1] - dt.timedelta(milliseconds=1)
    return min(end_of_window, requested_at.astimezone(UTC))


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
