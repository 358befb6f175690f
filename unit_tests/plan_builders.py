"""Small builders shared by the read-plan tests (test_plan, test_arrival): days, instants and PlanSettings."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from source_mixpanel_aep.streams.plan import PlanSettings

UTC = ZoneInfo("UTC")


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def plan_settings(**overrides) -> PlanSettings:
    """The defaults of a UTC project from 2024-01-01 (the sweep plan's: full-day sweeps); `overrides` win."""
    values = dict(start_date=d("2024-01-01"), end_date=None, lookback_days=5, sweeps=1, overlap=dt.timedelta(minutes=10),
                  max_days=30, target_events=2_000_000, read_tz=UTC)
    values.update(overrides)
    return PlanSettings(**values)
