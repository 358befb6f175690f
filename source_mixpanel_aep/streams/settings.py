"""How patient a caller of Mixpanel is: a `read` waits out outages and rate limits for minutes, `check` answers in 30 s.

Mixpanel's limits (per project): 60 queries per rolling hour, 3 per second (streams/pacing.py keeps
to them). Over them: 429, often with Retry-After. READ_SETTINGS retries 5xx and timeouts with
backoff (streams/backoff.py) for about 3 minutes and honours a long Retry-After up to half an hour;
CHECK_SETTINGS (short timeouts, one short retry, a 429 reported at once with its Retry-After)
keeps `check` within CHECK_BUDGET_SECONDS whatever the server does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..config import MixpanelConfig

MAX_RETRIES = 6  # 5xx/timeouts: 5 + 10 + 20 + 40 + 60 + 60 s of backoff before giving up (~3 min)
MAX_RETRY_SECONDS = 30 * 60  # a long Retry-After is honoured, up to half an hour in all
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 60.0
CHECK_BUDGET_SECONDS = 30  # `check` answers within this, whatever the server does


@dataclass(frozen=True)
class HttpSettings:
    """How patient a caller is: retries, timeouts (connect, each read) and the longest wait between tries."""

    max_retries: int
    connect_timeout: float
    read_timeout: Optional[float]  # None: the config's request_timeout_seconds
    backoff_cap_seconds: float
    max_time_seconds: float
    wait_out_rate_limits: bool  # False: a 429 fails at once, saying when to try again

    def timeouts(self, config: MixpanelConfig) -> tuple:
        read = self.read_timeout if self.read_timeout is not None else config.request_timeout_seconds
        return (min(self.connect_timeout, read), read)


READ_SETTINGS = HttpSettings(MAX_RETRIES, 30.0, None, BACKOFF_CAP_SECONDS, MAX_RETRY_SECONDS, True)
# Worst case: connect 5 + read 8, a pause of at most 4 s (a longer Retry-After too), connect 5 + read 8 = 30 s.
CHECK_SETTINGS = HttpSettings(1, 5.0, 8.0, 4.0, 25.0, False)
