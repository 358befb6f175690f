"""Every HTTP concern of the export API in one place: auth, errors -> user messages, retries, pacing.

Mixpanel's limits (per project): 60 queries per rolling hour, 3 per second. Over them: 429, often
with Retry-After. Errors come as a short text or `{"error": "..."}` body; the ones users hit are
mapped below to messages that say what to do.
"""

from __future__ import annotations

import base64
import collections
import time
from typing import Any, Callable, Deque, Optional, Union
from urllib.parse import urlsplit

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.call_rate import AbstractAPIBudget, AbstractCallRatePolicy
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy, ErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.sources.streams.http.requests_native_auth import BasicHttpAuthenticator, TokenAuthenticator
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets
from requests.auth import AuthBase

from ..config import Credentials

REQUESTS_PER_HOUR = 60
REQUESTS_PER_SECOND = 3
MAX_RETRIES = 6  # 5xx/timeouts: 5 + 10 + 20 + 40 + 60 + 60 s of backoff before giving up (~3 min)
MAX_RETRY_SECONDS = 30 * 60  # a long Retry-After is honoured, up to half an hour in all
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 60.0


def authenticator(credentials: Credentials) -> AuthBase:
    """Service account and project secret are HTTP Basic; an OAuth token is a Bearer header.

    The header's value is registered with the CDK's log filter: Basic credentials are only
    base64-encoded, and the CDK's debug log of each request prints its headers.
    """
    if credentials.auth_type == "service_account":
        user, password = credentials.username or "", credentials.secret or ""
    elif credentials.auth_type == "project_secret":
        user, password = credentials.api_secret or "", ""
    else:
        add_to_secrets(credentials.access_token or "")
        return TokenAuthenticator(token=credentials.access_token or "")
    add_to_secrets(base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii"))
    return BasicHttpAuthenticator(username=user, password=password)


def error_text(response: requests.Response) -> str:
    """The server's own words, short: `{"error": "..."}` or the plain body."""
    try:
        body = response.json()
        if isinstance(body, dict) and body.get("error"):
            return str(body["error"])[:300]
    except ValueError:
        pass
    return (response.text or "").strip()[:300]


class ExportErrorHandler(ErrorHandler):
    """Status -> what to do and what to tell the user (the Singer tap's error table, extended)."""

    def __init__(self, project_id: Optional[int], project_timezone: str, legacy_local_time: bool, max_retries: int = MAX_RETRIES):
        self._project_id = project_id
        self._timezone = project_timezone
        self._legacy = legacy_local_time
        self._max_retries = max_retries

    @property
    def max_retries(self) -> Optional[int]:
        return self._max_retries

    @property
    def max_time(self) -> Optional[int]:
        return MAX_RETRY_SECONDS

    def interpret_response(self, response: Optional[Union[requests.Response, Exception]]) -> ErrorResolution:
        if isinstance(response, Exception):
            return ErrorResolution(
                ResponseAction.RETRY,
                FailureType.transient_error,
                f"Could not reach Mixpanel ({type(response).__name__}). Check base_url/region and the network.",
            )
        if response is None:
            return ErrorResolution(ResponseAction.RETRY, FailureType.transient_error, "No response from Mixpanel.")
        status = response.status_code
        if status == 200:
            return ErrorResolution(ResponseAction.SUCCESS)
        if status == 429:
            return ErrorResolution(ResponseAction.RATE_LIMITED, FailureType.transient_error, "Mixpanel rate limit (429).")
        if status >= 500:
            return ErrorResolution(ResponseAction.RETRY, FailureType.transient_error, f"Mixpanel server error ({status}).")
        if 300 <= status < 400:  # not followed (allow_redirects=False): requests go to the configured host only
            target = urlsplit(response.headers.get("Location", "")).hostname or "an unnamed place"
            message = (
                f"Mixpanel answered with a redirect ({status} to {target}), which is not followed: the connector sends requests "
                "and credentials only to the configured host. Check region and base_url."
            )
            return ErrorResolution(ResponseAction.FAIL, FailureType.config_error, message)
        return ErrorResolution(ResponseAction.FAIL, FailureType.config_error, self.user_message(status, error_text(response)))

    def user_message(self, status: int, said: str) -> str:
        lowered = said.lower()
        if status == 400 and "to_date" in lowered:
            zone = f"the project timezone {self._timezone}" if self._legacy else "UTC"
            return (
                f"Mixpanel rejected the date range ({said}). Dates are read in {zone}. If the project was created "
                "before 2023, turn on legacy_local_time and set project_timezone to the project's timezone; "
                "otherwise leave legacy_local_time off. An end_date in the future is capped at today automatically."
            )
        if status == 401 or (status == 400 and "authenticate" in lowered):
            return (
                f"Mixpanel did not accept the credentials ({status}: {said}). Check the service account username and "
                "secret (or the project secret / token) and that they have not expired or been revoked."
            )
        if status == 400 and "project_id" in lowered:
            return f"Mixpanel needs a project_id with this service account ({said}). Set project_id in the config."
        if status == 402:
            return f"Mixpanel says the plan does not include the Raw Event Export API (402: {said}). Upgrade the plan or ask Mixpanel support."
        if status == 403:
            return (
                f"The credentials have no access to project {self._project_id} (403: {said}). Check project_id, and give "
                "the service account at least the Consumer role on that project. For EU or India data residency set region."
            )
        if status == 404:
            return f"Mixpanel's export endpoint was not found (404: {said}). Check region and base_url."
        return f"Mixpanel rejected the export request ({status}: {said}). Check the events and where settings."


def last_failure(error: BaseException) -> str:
    """What Mixpanel last answered before the CDK's HttpClient gave up retrying (it raises from its backoff exception)."""
    cause = error.__context__
    response = getattr(cause, "response", None)
    if isinstance(response, requests.Response):
        said = error_text(response)
        return f"HTTP {response.status_code}" + (f": {said}" if said else "")
    return str(cause or error).rstrip(".")


class ExportBackoffStrategy(BackoffStrategy):
    """Retry-After when the server gives one; otherwise bounded exponential backoff."""

    def __init__(self, base_seconds: float = BACKOFF_BASE_SECONDS, cap_seconds: float = BACKOFF_CAP_SECONDS):
        self._base = base_seconds
        self._cap = cap_seconds

    def backoff_time(self, response_or_exception: Any, attempt_count: int) -> Optional[float]:
        if isinstance(response_or_exception, requests.Response):
            retry_after = response_or_exception.headers.get("Retry-After")
            if retry_after:
                try:
                    return max(0.0, min(float(retry_after), float(MAX_RETRY_SECONDS)))
                except ValueError:
                    pass  # an HTTP-date Retry-After: fall back to exponential backoff
        return self.delay(attempt_count)

    def delay(self, attempt_count: int) -> float:
        return min(self._cap, self._base * (2 ** max(0, attempt_count - 1)))


class PacingBudget(AbstractAPIBudget):
    """Keeps every request inside Mixpanel's rolling limits, and never waits while under them.

    Passed to the CDK's HttpClient as its API budget, so retries are paced too. `clock` and `sleep`
    are injectable so a test can drive a year-long backfill on a fake clock.
    """

    def __init__(
        self,
        per_hour: int = REQUESTS_PER_HOUR,
        per_second: int = REQUESTS_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
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
