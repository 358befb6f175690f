"""What a sync is about to read, in words: the plan's log lines. Pure: dates and counts in, text out.

    Resuming from cursor 2026-06-08T10:00:00.000Z: reading events from 2026-06-08T09:50:00.000Z (the cursor minus
    10 min of overlap) to 2026-06-08; then sweeping 1 past day(s) for late events (2026-06-03). Each day D is read
    again in full on D+6.
"""

from __future__ import annotations

import datetime as dt
from typing import List, Optional

from .plan import PlanSettings, ReadState, sweep_days
from .windows import ARRIVAL_FIELD, Window, day_start, format_cursor


def describe_plan(stream: str, plan: PlanSettings, state: ReadState, first: dt.date, since: Optional[dt.datetime], last: dt.date, due: List[dt.date]) -> str:
    """Where the fresh part starts and why, which past days are swept now, and the sweep days."""
    if state.cursor is None:
        fresh = f"No saved state for stream '{stream}': reading everything from start_date {plan.start_date} to {last}"
    else:
        overlap = f"{plan.overlap.total_seconds() / 60:g} min"
        if since is not None:
            start = f"{format_cursor(since)} (the cursor minus {overlap} of overlap)"
        elif first == plan.start_date and state.cursor - plan.overlap < day_start(plan.start_date, plan.read_tz):
            start = f"start_date {first} (later than the cursor minus {overlap} of overlap)"
        else:
            start = f"the start of {first} (the cursor minus {overlap} of overlap)"
        fresh = f"Resuming from cursor {format_cursor(state.cursor)}: reading events from {start} to {last}"
        if state.migrated:
            fresh += " (the state has no sweep record yet: the cursor's day and the lookback before it count as read whole at the cursor)"
    points = sweep_days(plan.lookback_days, plan.sweeps)
    if not points:
        return fresh + "; late-event sweeps are off (lookback_window_days is 0)."
    sweeps = f"then sweeping {len(due)} past day(s) for late events ({', '.join(map(str, due))})" if due else "no past day is due for a late-event sweep"
    return f"{fresh}; {sweeps}. Each day D is read again in full on {', '.join(f'D+{point}' for point in points)}."


def budget_line(planned: int, per_hour: int, events_per_day: Optional[float]) -> Optional[str]:
    """For a sync of more requests than an hour allows: how long its pacing takes at least (None otherwise)."""
    if planned <= per_hour:
        return None
    seen = f"{events_per_day:,.0f} events a day seen so far" if events_per_day is not None else "no events per day known yet"
    return (
        f"Planned about {planned} requests ({seen}): Mixpanel allows {per_hour} an hour, so this sync paces itself over "
        f"at least {(planned - 1) // per_hour} h; each window is checkpointed."
    )


def describe_arrival_plan(stream: str, plan: PlanSettings, state: ReadState, base: dt.datetime, first: dt.date, last: dt.date, due: List[dt.date]) -> str:
    """The arrival read (arrival.py): since when, which days, and the safety sweeps."""
    overlap = f"{plan.arrival_overlap.total_seconds() / 60:g} min"
    if state.arrived is not None:
        start = f"Resuming from arrival cursor {format_cursor(base)}"
    else:
        start = f"Resuming from cursor {format_cursor(state.cursor)} (no arrival cursor yet: {format_cursor(base)}, what the cursor and each day's last full read vouch for)"
    text = (
        f"{start}: reading the events of stream '{stream}' that reached Mixpanel since {format_cursor(base - plan.arrival_overlap)} "
        f"(minus {overlap} of overlap; by {ARRIVAL_FIELD}), of the days {first} to {last}"
    )
    points = sweep_days(plan.lookback_days, plan.sweeps)
    if not points:
        return text + "; safety sweeps are off (lookback_window_days is 0)."
    what = "events without " + ARRIVAL_FIELD if plan.unstamped_sweeps else "every event"
    sweeps = f"then a safety sweep ({what}) of {len(due)} past day(s) ({', '.join(map(str, due))})" if due else "no past day is due for a safety sweep"
    return f"{text}; {sweeps}. Each day D is swept on {', '.join(f'D+{point}' for point in points)}."


def arrival_fallback_line(window: Window, check, until: dt.date) -> str:
    """The one WARN of a sync whose answer broke the arrival promise: what was seen, that it was delivered, what happens now."""
    if check.below:
        seen = (
            f"{check.below} event(s) that reached Mixpanel before {format_cursor(window.arrived_since)}, the bound it asked for: "
            f"the {ARRIVAL_FIELD} filter was not applied"
        )
    elif window.arrived_since is not None:
        seen = f"{check.unstamped} event(s) without {ARRIVAL_FIELD}, which the filter cannot match: it was not applied"
    else:
        seen = f"{check.unstamped} event(s) without {ARRIVAL_FIELD}: an arrival read could not find such events when they arrive late"
    return (
        f"{window.label}: Mixpanel sent {seen}. They were delivered (nothing is lost). This sync and the syncs up to {until} "
        "read by event time instead, each past day read again in full after its lookback window; then the arrival read is tried again."
    )
