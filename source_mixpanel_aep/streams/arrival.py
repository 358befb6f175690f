"""The arrival plan: every incremental sync reads what reached Mixpanel since the last one, whatever the event's day.

    GET https://data.mixpanel.com/api/2.0/export?from_date=<arrival day - lookback>&to_date=<today>&time_in_ms=true
        &where=(<user's where>) and (number(properties["mp_processing_time_ms"]) >= <arrived - overlap, UTC ms>)

Every exported event carries `mp_processing_time_ms`, when Mixpanel ingested it (UTC ms, whatever
the project's timezone); a late event has an old `time` and a recent arrival:
    {"event":"Sign up","properties":{"time":1714521600123,"distinct_id":"u1","$insert_id":"a1","mp_processing_time_ms":1714870800456}}
Mixpanel's own "Hot Shard Limits" scripts bound an export by it with this `where` form. Limits: the
same 60 requests an hour as any export; `from_date`/`to_date` still bound the event days read, so an
event more than `lookback_window_days` older than the previous sync is not read (as before).

The state's `arrived` is the promise "every event Mixpanel had ingested before this instant, of
the days read, was read". A sync moves it only once its whole plan is read (a sync cut short keeps
the old one, so the next reads again from there), to the earliest moment one of its requests was
answered: our clock at the request, or Mixpanel's (`Date` header of the answer) when that is
earlier, so a machine whose clock runs ahead cannot promise what Mixpanel had not ingested yet.
The read then asks from `arrived - overlap` (`arrival_overlap_minutes`, default 5): events become
exportable a little after Mixpanel stamps them (seconds, a minute at worst when its ingestion is
busy), and a clock of ours behind Mixpanel's by up to that much is covered too. Every sync sends
that many minutes' events again: 5 keeps a 15-minute schedule at 20/15 = 1.33 events sent per event. A state without `arrived` (written before this plan) gets the instant its own
fields vouch for: the cursor, and for each day still owed a sweep its last full read (or, never
read whole, the day's start): one read of those days' arrivals, then the plan runs as usual.

Checked, not trusted (`ArrivalCheck`): an answer holding an event that arrived before the bound, or
one without the property, means the filter was not applied or the project has events it cannot
find. They are delivered (nothing is lost), and the sync falls back to the sweep plan (plan.py:
the fresh part by event time, full sweeps), as do the syncs up to `sweep_plan_until`
(`lookback + 1` days later); then the arrival plan is tried again.

Pure: instants, states and parsed events in; windows, instants and counts out.
"""

from __future__ import annotations

import datetime as dt
from email.utils import parsedate_to_datetime
from typing import Any, Iterator, Optional

from .plan import DAY, PlanSettings, ReadState, WindowSizer, consecutive_windows
from .windows import ARRIVAL_FIELD, UTC, Window, arrival_ms, day_start


def arrival_base(state: ReadState, settings: PlanSettings, today: dt.date) -> Optional[dt.datetime]:
    """The instant since which arrivals are unread, or None when the sync follows the sweep plan (no cursor yet, or a fallback)."""
    if state.sweep_plan_until is not None and today <= state.sweep_plan_until:
        return None
    if state.arrived is not None:
        return state.arrived
    if state.cursor is None:
        return None
    vouched = [state.cursor] + [at if at is not None else day_start(day, settings.read_tz) for day, at in state.swept.items()]
    return min(vouched)


def arrival_windows(sizer: WindowSizer, base: dt.datetime, settings: PlanSettings, last: dt.date, now: dt.datetime) -> Iterator[Window]:
    """The days `[day of (base - overlap) - lookback, last]`, asking only for events that arrived since `base - overlap`.

    Sized like any read, from the share of each day's events the read can hold: what arrived in
    the time since the bound (a day or more: a whole day's worth).
    """
    since = base - settings.arrival_overlap
    share = min(1.0, max(0.0, (now - since) / DAY))
    return consecutive_windows(sizer, arrival_first_day(base, settings), None, last, sweep=False, now=now, share=share, arrived_since=since)


def arrival_first_day(base: dt.datetime, settings: PlanSettings) -> dt.date:
    """The first event day an arrival read asks for: the lookback before the bound's day (never before start_date)."""
    since = base - settings.arrival_overlap
    return max(settings.start_date, since.astimezone(settings.read_tz).date() - dt.timedelta(days=settings.lookback_days))


def answered_at(requested_at: dt.datetime, date_header: Optional[str]) -> dt.datetime:
    """When an answer's data was taken, at the latest, on the earlier of the two clocks (ours at the request, Mixpanel's `Date`)."""
    if date_header:
        try:
            theirs = parsedate_to_datetime(date_header)
        except (TypeError, ValueError, IndexError):
            theirs = None
        if theirs is not None and theirs.tzinfo is not None:
            return min(requested_at, theirs.astimezone(UTC))
    return requested_at


class ArrivalCheck:
    """Counts, in one answer, the events that arrived before the bound asked for and those without `mp_processing_time_ms`."""

    __slots__ = ("bound_ms", "below", "unstamped", "earliest_ms")

    def __init__(self, window: Window):
        self.bound_ms = arrival_ms(window.arrived_since) if window.arrived_since is not None else None
        self.below = self.unstamped = 0
        self.earliest_ms: Optional[float] = None

    def __call__(self, value: Any) -> None:
        try:
            arrived = value["properties"][ARRIVAL_FIELD]
        except (KeyError, TypeError, IndexError):
            arrived = None
        if isinstance(arrived, bool) or not isinstance(arrived, (int, float)):
            self.unstamped += 1
        elif self.bound_ms is not None and arrived < self.bound_ms:
            self.below += 1
            self.earliest_ms = arrived if self.earliest_ms is None else min(self.earliest_ms, arrived)

    @property
    def failed(self) -> bool:
        return bool(self.below or self.unstamped)


def fallback_until(today: dt.date, settings: PlanSettings) -> dt.date:
    """The last day of the sweep plan after a fallback: every day read meanwhile gets its full sweep before the arrival plan is tried again."""
    return today + dt.timedelta(days=settings.lookback_days + 1)
