"""The one clock the connector reads time from: wall time, monotonic time, epoch seconds, and sleeping.

Injected through the source (`SourceMixpanelAep(clock=...)`) into every stream and pacing budget,
so a test drives a year-long backfill or a session that expires on a fake clock by passing one
object, instead of patching `time`/`datetime` in the modules that happen to read them.

A leaf: standard library only. `SYSTEM_CLOCK` looks `time.*` up at each call (not bound at import),
so a process that replaces `time.sleep` before it runs (the tests' fast launch) is still obeyed.
"""

from __future__ import annotations

import datetime as dt
import time as _time
from typing import Protocol


class Clock(Protocol):
    """What the connector asks of a clock."""

    def now(self) -> dt.datetime:
        """The current instant, an aware UTC datetime."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for durations and pacing)."""

    def time(self) -> float:
        """Epoch seconds (for protocol timestamps)."""

    def time_ns(self) -> int:
        """Epoch nanoseconds (a RECORD's emitted_at, per record: the C function itself on the system clock)."""

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`."""


class SystemClock:
    """The machine's clock."""

    time_ns = staticmethod(_time.time_ns)  # per record: no Python frame in between

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)

    def monotonic(self) -> float:
        return _time.monotonic()

    def time(self) -> float:
        return _time.time()

    def sleep(self, seconds: float) -> None:
        _time.sleep(seconds)


SYSTEM_CLOCK: Clock = SystemClock()
