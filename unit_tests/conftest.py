"""The unit tests' one fake clock: time moves only when a test moves it or somebody sleeps.

`FakeClock` is a clock.Clock: pass it to `SourceMixpanelAep(clock=...)` or a stream's `clock=`, or
its `monotonic`/`sleep` to a PacingBudget, instead of patching `time` or `datetime` in a module.
"""

from __future__ import annotations

import datetime as dt
from typing import List

import pytest

START = dt.datetime(2025, 1, 1, 12, tzinfo=dt.timezone.utc)


class FakeClock:
    """A settable `now` (aware UTC); `monotonic` starts at `monotonic_start` and, like `now`, moves by every sleep (recorded in `sleeps`)."""

    def __init__(self, now: dt.datetime = START, monotonic_start: float = 1000.0) -> None:
        self.current = now
        self.seconds = monotonic_start  # the monotonic reading; a test may set it, or advance it with `advance`
        self.sleeps: List[float] = []

    def now(self) -> dt.datetime:
        return self.current

    def monotonic(self) -> float:
        return self.seconds

    def time(self) -> float:
        return self.current.timestamp()

    def time_ns(self) -> int:
        return int(self.current.timestamp() * 1_000_000_000)

    def advance(self, seconds: float) -> None:
        """Time passes (a response that takes time, work between calls) without a sleep."""
        self.seconds += seconds
        self.current += dt.timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
