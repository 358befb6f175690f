"""Mixpanel's rolling request limits (per project: 60 queries an hour, 3 a second), kept without waiting while under them."""

from __future__ import annotations

import collections
from typing import Any, Callable, Deque, Optional

from airbyte_cdk.sources.streams.call_rate import AbstractAPIBudget, AbstractCallRatePolicy

from ..clock import SYSTEM_CLOCK

REQUESTS_PER_HOUR = 60
REQUESTS_PER_SECOND = 3


class PacingBudget(AbstractAPIBudget):
    """Keeps every request inside Mixpanel's rolling limits, and never waits while under them.

    Passed to the CDK's HttpClient as its API budget, so retries are paced too. `clock` and `sleep`
    are injectable so a test can drive a year-long backfill on a fake clock.
    """

    def __init__(
        self,
        per_hour: int = REQUESTS_PER_HOUR,
        per_second: int = REQUESTS_PER_SECOND,
        clock: Callable[[], float] = SYSTEM_CLOCK.monotonic,
        sleep: Callable[[float], None] = SYSTEM_CLOCK.sleep,
        on_wait: Optional[Callable[[float], None]] = None,
    ):
        self._limits = ((per_hour, 3600.0), (per_second, 1.0))
        self._sent: Deque[float] = collections.deque(maxlen=max(per_hour, per_second))
        self._clock = clock
        self._sleep = sleep
        self._on_wait = on_wait
        self.total_wait_seconds = 0.0

    def wait_needed(self, now: float) -> float:
        wait = 0.0
        for count, period in self._limits:
            if len(self._sent) >= count:
                oldest_in_window = self._sent[-count]
                wait = max(wait, oldest_in_window + period - now)
        return wait

    def acquire_call(self, request: Any, block: bool = True, timeout: Optional[float] = None) -> None:
        wait = self.wait_needed(self._clock())
        if wait > 0:
            if self._on_wait:
                self._on_wait(wait)
            self.total_wait_seconds += wait
            self._sleep(wait)
        self._sent.append(self._clock())

    def get_matching_policy(self, request: Any) -> Optional[AbstractCallRatePolicy]:
        return None

    def update_from_response(self, request: Any, response: Any) -> None:
        return None
