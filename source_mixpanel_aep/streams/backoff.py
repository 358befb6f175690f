"""How long to wait before asking Mixpanel again: its Retry-After when it gives one, else bounded exponential backoff.

The CDK's HttpClient asks ExportBackoffStrategy for every wait; the retry line a user reads is
logged here, once per retry, saying what happened (the CDK's own line is dropped, protocol/logs.py).
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import requests
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy

from .failure_words import what_happened
from .settings import BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS, MAX_RETRIES, MAX_RETRY_SECONDS, HttpSettings


class ExportBackoffStrategy(BackoffStrategy):
    """Retry-After when the server gives one; otherwise bounded exponential backoff."""

    def __init__(
        self,
        base_seconds: float = BACKOFF_BASE_SECONDS,
        cap_seconds: float = BACKOFF_CAP_SECONDS,
        retry_after_cap_seconds: float = MAX_RETRY_SECONDS,
        logger: Optional[logging.Logger] = None,
        max_retries: int = MAX_RETRIES,
    ):
        self._base = base_seconds
        self._cap = cap_seconds
        self._retry_after_cap = retry_after_cap_seconds
        self._logger = logger
        self._max_retries = max_retries
        self.attempts = 0  # failed tries of the latest request (reset by its sender), see `retries`

    @property
    def retries(self) -> int:
        """Retries the latest request got: the CDK asks for a wait after every failed try, the last one too, then gives up
        (after max_retries, or sooner when the 30-minute budget runs out first)."""
        return max(0, self.attempts - 1)

    def backoff_time(self, response_or_exception: Any, attempt_count: int) -> Optional[float]:
        """The wait before the next try; the retry line a user reads is logged here, once per retry, saying what happened."""
        self.attempts = attempt_count
        seconds = self._wait(response_or_exception, attempt_count)
        if self._logger is not None and attempt_count <= self._max_retries:  # past the last retry there is none to announce ("Retry 7 of 6")
            # The CDK's HttpClient sleeps this plus 1 s; its own line ("Rate limit exceeded") is dropped (logs.py).
            self._logger.info(f"Retry {attempt_count} of {self._max_retries}: {what_happened(response_or_exception)}; trying again in {seconds + 1:.0f} s.")
        return seconds

    def _wait(self, response_or_exception: Any, attempt_count: int) -> float:
        if isinstance(response_or_exception, requests.Response):
            retry_after = response_or_exception.headers.get("Retry-After")
            if retry_after:
                try:
                    return max(0.0, min(float(retry_after), float(self._retry_after_cap)))
                except ValueError:
                    pass  # an HTTP-date Retry-After: fall back to exponential backoff
        return self.delay(attempt_count)

    def delay(self, attempt_count: int) -> float:
        return min(self._cap, self._base * (2 ** max(0, attempt_count - 1)))


def backoff_strategy(settings: HttpSettings, logger: Optional[logging.Logger] = None) -> ExportBackoffStrategy:
    """A read honours a Retry-After of up to half an hour; `check` never waits longer than its own cap."""
    retry_after_cap = settings.max_time_seconds if settings.wait_out_rate_limits else settings.backoff_cap_seconds
    return ExportBackoffStrategy(
        cap_seconds=settings.backoff_cap_seconds, retry_after_cap_seconds=retry_after_cap, logger=logger, max_retries=settings.max_retries
    )


def retries_said(retries: int) -> str:
    """How many retries were made, as the failure's message says it (the 30-minute budget may end them before MAX_RETRIES)."""
    if not retries:
        return "no retry (the request itself used up the 30 minutes allowed for retries)"
    return f"{retries} retr{'y' if retries == 1 else 'ies'}"
