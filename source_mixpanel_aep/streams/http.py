"""Every HTTP concern of the export API in one place: auth, errors -> user messages, retries, pacing.

Mixpanel's limits (per project): 60 queries per rolling hour, 3 per second. Over them: 429, often
with Retry-After. Errors come as a short text or `{"error": "..."}` body; the ones users hit are
mapped below to messages that say what to do, with an honest failure type: the user's to fix
(config_error), an outage or limit that passes (transient_error), or ours (system_error).

Two ways of asking, one table: a `read` waits out outages and rate limits for minutes
(READ_SETTINGS); `check` answers within CHECK_BUDGET_SECONDS whatever the server does
(CHECK_SETTINGS: short timeouts, one short retry, a 429 reported at once with its Retry-After).
"""

from __future__ import annotations

import base64
import collections
import json
import logging
from dataclasses import dataclass
from typing import Any, Callable, Deque, Iterable, Optional, Tuple, Union
from urllib.parse import urlsplit

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.call_rate import AbstractAPIBudget, AbstractCallRatePolicy
from airbyte_cdk.sources.streams.http import HttpClient
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy, ErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.sources.streams.http.exceptions import BaseBackoffException
from airbyte_cdk.sources.streams.http.requests_native_auth import BasicHttpAuthenticator, TokenAuthenticator
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from requests.auth import AuthBase

from ..clock import SYSTEM_CLOCK
from ..config import Credentials, MixpanelConfig

REQUESTS_PER_HOUR = 60
REQUESTS_PER_SECOND = 3
MAX_RETRIES = 6  # 5xx/timeouts: 5 + 10 + 20 + 40 + 60 + 60 s of backoff before giving up (~3 min)
MAX_RETRY_SECONDS = 30 * 60  # a long Retry-After is honoured, up to half an hour in all
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 60.0
CHECK_BUDGET_SECONDS = 30  # `check` answers within this, whatever the server does
RETRIED_STATUSES = (408, 425, 429)  # timeout, too early, rate limit: worth asking again; so is any 5xx
# How the error table's messages about the credentials and project begin: every stream uses them (see rejects_credentials).
CREDENTIALS_REJECTED = "Mixpanel did not accept the credentials"
PROJECT_ID_NEEDED = "Mixpanel needs a project_id with this service account"
NO_PROJECT_ACCESS = "The credentials have no access to project"


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


def secret_forms(value: str) -> Iterable[str]:
    """Every way a secret may be printed: as is, trimmed, JSON- and repr-escaped (a header error quotes it escaped)."""
    for text in {value, value.strip()}:
        if text:
            yield text
            yield json.dumps(text)[1:-1]
            yield json.dumps(text, ensure_ascii=False)[1:-1]
            yield repr(text)[1:-1]


def register_secrets(credentials: Credentials) -> None:
    """Give the CDK's log and trace filter every form of every secret, before anything can echo one."""
    for value in (credentials.secret, credentials.api_secret, credentials.access_token):
        for form in secret_forms(value or ""):
            add_to_secrets(form)
    if credentials.auth_type != "oauth_token":  # Basic credentials are only base64-encoded in the header
        user, password = basic_pair(credentials)
        add_to_secrets(base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii"))


def basic_pair(credentials: Credentials) -> tuple:
    if credentials.auth_type == "service_account":
        return credentials.username or "", credentials.secret or ""
    return credentials.api_secret or "", ""


def authenticator(credentials: Credentials) -> AuthBase:
    """Service account and project secret are HTTP Basic; an OAuth token is a Bearer header."""
    register_secrets(credentials)
    if credentials.auth_type == "oauth_token":
        return TokenAuthenticator(token=credentials.access_token or "")
    user, password = basic_pair(credentials)
    return BasicHttpAuthenticator(username=user, password=password)


def export_client(config: MixpanelConfig, settings: HttpSettings, logger: logging.Logger, budget: AbstractAPIBudget, backoff: "ExportBackoffStrategy") -> HttpClient:
    """The CDK's HttpClient with our auth, error table, backoff and pacing: every export request goes through one."""
    return HttpClient(
        name="events",
        logger=logger,
        error_handler=ExportErrorHandler(config.project_id, config.project_timezone, config.legacy_local_time, settings, host=urlsplit(config.base_url).hostname),
        api_budget=budget,  # type: ignore[arg-type]  # the HttpClient only calls acquire_call/update_from_response
        authenticator=authenticator(config.credentials),
        backoff_strategy=backoff,
    )


def backoff_strategy(settings: HttpSettings, logger: Optional[logging.Logger] = None) -> "ExportBackoffStrategy":
    """A read honours a Retry-After of up to half an hour; `check` never waits longer than its own cap."""
    retry_after_cap = settings.max_time_seconds if settings.wait_out_rate_limits else settings.backoff_cap_seconds
    return ExportBackoffStrategy(
        cap_seconds=settings.backoff_cap_seconds, retry_after_cap_seconds=retry_after_cap, logger=logger, max_retries=settings.max_retries
    )


def what_happened(response_or_exception: Any) -> str:
    """One request's failure in a few words: HTTP status and the server's short text, or the connection error."""
    if isinstance(response_or_exception, requests.Response):
        said = error_text(response_or_exception)
        retry_after = response_or_exception.headers.get("Retry-After")
        return (f"Mixpanel answered HTTP {response_or_exception.status_code}" + (f" ({said[:120]})" if said else "")
                + (f", Retry-After {retry_after} s" if retry_after else ""))
    if isinstance(response_or_exception, requests.exceptions.Timeout):
        return f"Mixpanel did not answer in time ({_reason(response_or_exception)})"
    if isinstance(response_or_exception, Exception):
        return f"the connection failed ({_reason(response_or_exception)})"
    return "no answer"


def is_future_day_refusal(response: requests.Response) -> bool:
    """Mixpanel's 400 for a to_date after its own today ("to_date cannot be later than today")."""
    return response.status_code == 400 and "to_date" in error_text(response).lower()


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
    """Status or exception -> what to do and what to tell the user (the Singer tap's error table, extended)."""

    def __init__(
        self, project_id: Optional[int], project_timezone: str, legacy_local_time: bool, settings: HttpSettings = READ_SETTINGS, host: Optional[str] = None
    ):
        self._project_id = project_id
        self._timezone = project_timezone
        self._legacy = legacy_local_time
        self._settings = settings
        self._host = host
        self._host_answered = False  # a refused connection or DNS failure is worth minutes of backoff only from a host that answered before

    @property
    def max_retries(self) -> Optional[int]:
        return self._settings.max_retries

    @property
    def max_time(self) -> Optional[int]:
        return int(self._settings.max_time_seconds)

    def interpret_response(self, response: Optional[Union[requests.Response, Exception]]) -> ErrorResolution:
        if isinstance(response, Exception):
            if not self._host_answered and is_unreachable(response):
                return self._never_answered(response)
            return exception_resolution(response)
        if response is None:
            return ErrorResolution(ResponseAction.RETRY, FailureType.transient_error, "No response from Mixpanel.")
        self._host_answered = True
        status = response.status_code
        if status == 200:
            return ErrorResolution(ResponseAction.SUCCESS)
        if is_future_day_refusal(response):  # the stream decides: the newest day not yet at Mixpanel, or a timezone mistake
            return ErrorResolution(ResponseAction.IGNORE, None, f"Mixpanel refused the date range ({error_text(response)}).")
        if status == 429 and not self._settings.wait_out_rate_limits:
            wait = response.headers.get("Retry-After")
            when = f"in {wait} s" if wait else "in a minute"
            message = f"Mixpanel is rate-limiting this project (HTTP 429): the credentials were not checked. Try again {when}."
            return ErrorResolution(ResponseAction.FAIL, FailureType.transient_error, message)
        if status in RETRIED_STATUSES or status >= 500:
            said = error_text(response)
            detail = f"HTTP {status}" + (f": {said[:120]}" if said else "") + (f" (Retry-After: {response.headers['Retry-After']} s)" if response.headers.get("Retry-After") else "")
            action = ResponseAction.RATE_LIMITED if status == 429 else ResponseAction.RETRY
            what = "rate-limited the request" if status == 429 else "could not answer"
            return ErrorResolution(action, FailureType.transient_error, f"Mixpanel {what} ({detail}).")
        if 300 <= status < 400:  # not followed (allow_redirects=False): requests go to the configured host only
            target = urlsplit(response.headers.get("Location", "")).hostname or "an unnamed place"
            message = (
                f"Mixpanel answered with a redirect ({status} to {target}), which is not followed: the connector sends requests "
                "and credentials only to the configured host. Check region and base_url."
            )
            return ErrorResolution(ResponseAction.FAIL, FailureType.config_error, message)
        return ErrorResolution(ResponseAction.FAIL, FailureType.config_error, self.user_message(status, error_text(response)))

    def _never_answered(self, error: Exception) -> ErrorResolution:
        """The host has not answered once in this run: a wrong host or port, or no network. Said at once, not after minutes."""
        message = (
            f"Could not connect to {self._host or 'Mixpanel'} ({_reason(error)}); it has not answered once in this run, so the "
            "connector does not spend minutes retrying. Check base_url (or region, which picks the host) and that this machine "
            "can reach that host (DNS, firewall, proxy). Run the sync again once it is reachable."
        )
        return ErrorResolution(ResponseAction.FAIL, FailureType.transient_error, message)

    def user_message(self, status: int, said: str) -> str:
        lowered = said.lower()
        if status == 401 or (status == 400 and "authenticate" in lowered):
            return (
                f"{CREDENTIALS_REJECTED} ({status}: {said}). Check the service account username and "
                "secret (or the project secret / token) and that they have not expired or been revoked."
            )
        if status == 400 and "project_id" in lowered:
            return f"{PROJECT_ID_NEEDED} ({said}). Set project_id in the config."
        if status == 402:
            return f"Mixpanel says the plan does not include the Raw Event Export API (402: {said}). Upgrade the plan or ask Mixpanel support."
        if status == 403:
            return (
                f"{NO_PROJECT_ACCESS} {self._project_id} (403: {said}). Check project_id, and give "
                "the service account at least the Consumer role on that project. For EU or India data residency set region."
            )
        if status == 404:
            return f"Mixpanel's export endpoint was not found (404: {said}). Check region and base_url."
        return f"Mixpanel rejected the export request ({status}: {said}). Check the events and where settings."


def rejects_credentials(error: AirbyteTracedException) -> bool:
    """Mixpanel refused the credentials or the project (401, 403, no project_id), which every stream uses; not a stream's own mistake.

    Told by the message's start: the CDK's HttpClient makes the exception from the error table's words alone.
    The Query API's refusal of an OAuth token is not one of these: the export accepts that token.
    """
    return error.failure_type == FailureType.config_error and (error.message or "").startswith((CREDENTIALS_REJECTED, PROJECT_ID_NEEDED, NO_PROJECT_ACCESS))


def retries_ran_out(error: AirbyteTracedException) -> bool:
    """The CDK's HttpClient gave up after its retries (it raises from its backoff exception), not the error table saying stop."""
    return isinstance(error.__context__, BaseBackoffException)


def retries_said(retries: int) -> str:
    """How many retries were made, as the failure's message says it (the 30-minute budget may end them before MAX_RETRIES)."""
    if not retries:
        return "no retry (the request itself used up the 30 minutes allowed for retries)"
    return f"{retries} retr{'y' if retries == 1 else 'ies'}"


def exception_resolution(error: Exception) -> ErrorResolution:
    """A request that got no HTTP answer: say what happened, in words a user can act on."""
    if isinstance(error, requests.exceptions.SSLError):
        message = (
            f"The TLS connection to Mixpanel failed ({_reason(error)}). Nothing was retried: this does not pass by waiting. "
            "Check base_url, and a proxy's or private CA's certificate (set REQUESTS_CA_BUNDLE to its CA file)."
        )
        return ErrorResolution(ResponseAction.FAIL, FailureType.config_error, message)
    if isinstance(error, (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema)):
        return ErrorResolution(ResponseAction.FAIL, FailureType.config_error, f"The request could not be sent ({type(error).__name__}). Check the credentials and base_url.")
    if isinstance(error, requests.exceptions.Timeout):
        return ErrorResolution(ResponseAction.RETRY, FailureType.transient_error, f"Mixpanel did not answer in time ({type(error).__name__}).")
    return ErrorResolution(ResponseAction.RETRY, FailureType.transient_error, f"Could not reach Mixpanel ({_reason(error)}). Check region/base_url and the network.")


# A connection failure's text -> the words a user can act on, and whether there was no connection at all.
# First match wins; matched without regard to case. One table for _reason and is_unreachable.
_CONNECTION_FAILURES = (
    ("name or service not known", "the host name could not be resolved (DNS)", True),
    ("temporary failure in name resolution", "the host name could not be resolved (DNS)", True),
    ("nodename nor servname", "the host name could not be resolved (DNS)", True),
    ("connection refused", "connection refused", True),
    ("no route to host", "no route to host", True),
    ("network is unreachable", "network is unreachable", True),
    ("connection reset", "connection reset", False),
    ("certificate_verify_failed", "certificate verify failed", False),
    ("certificate verify failed", "certificate verify failed", False),
    ("wrong version number", "the server does not speak TLS on that port", False),
    ("read timed out", "read timed out", False),
    ("timed out", "timed out", False),
)


def _connection_failure(error: BaseException) -> Optional[Tuple[str, str, bool]]:
    text = str(error).lower()
    return next((entry for entry in _CONNECTION_FAILURES if entry[0] in text), None)


def is_unreachable(error: Exception) -> bool:
    """No connection at all (refused, DNS, no route): not a timeout, a reset or a TLS failure of a host that was reached."""
    if not isinstance(error, requests.exceptions.ConnectionError):
        return False
    if isinstance(error, (requests.exceptions.SSLError, requests.exceptions.Timeout, requests.exceptions.ChunkedEncodingError)):
        return False
    failure = _connection_failure(error)
    return failure is not None and failure[2]


def _reason(error: BaseException) -> str:
    """The innermost cause's words, without the URL (it may carry a proxy's password) or the request."""
    failure = _connection_failure(error)
    return failure[1] if failure is not None else type(error).__name__


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
