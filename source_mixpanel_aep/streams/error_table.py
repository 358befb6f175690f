"""Mixpanel's answers -> what the CDK's HttpClient does next and what the user is told (the Singer tap's error table, extended).

Errors come as a short text or `{"error": "..."}` body; the ones users hit are mapped here to messages
that say what to do, with an honest failure type: the user's to fix (config_error), an outage or
limit that passes (transient_error), or ours (system_error). A read retries what may pass
(RETRIED_STATUSES, any 5xx, a dropped connection); `check` (streams/settings.CHECK_SETTINGS) reports
a 429 at once.
"""

from __future__ import annotations

from typing import Optional, Union
from urllib.parse import urlsplit

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers import ErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..cdk.http_errors import error_table_words
from .failure_words import error_text, is_future_day_refusal, is_unreachable, reason
from .settings import READ_SETTINGS, HttpSettings

RETRIED_STATUSES = (408, 425, 429)  # timeout, too early, rate limit: worth asking again; so is any 5xx
# How the error table's messages about the credentials and project begin: every stream uses them (see rejects_credentials).
CREDENTIALS_REJECTED = "Mixpanel did not accept the credentials"
PROJECT_ID_NEEDED = "Mixpanel needs a project_id with this service account"
NO_PROJECT_ACCESS = "The credentials have no access to project"


class ExportErrorHandler(ErrorHandler):
    """Status or exception -> what to do and what to tell the user."""

    def __init__(self, project_id: Optional[int], settings: HttpSettings = READ_SETTINGS, host: Optional[str] = None):
        self._project_id = project_id
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
            f"Could not connect to {self._host or 'Mixpanel'} ({reason(error)}); it has not answered once in this run, so the "
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

    Told by the message's start: the CDK's HttpClient makes the exception from the error table's words alone
    (cdk/http_errors.error_table_words). The Query API's refusal of an OAuth token is not one of these: the export accepts that token.
    """
    return error.failure_type == FailureType.config_error and error_table_words(error).startswith((CREDENTIALS_REJECTED, PROJECT_ID_NEEDED, NO_PROJECT_ACCESS))


def exception_resolution(error: Exception) -> ErrorResolution:
    """A request that got no HTTP answer: say what happened, in words a user can act on."""
    if isinstance(error, requests.exceptions.SSLError):
        message = (
            f"The TLS connection to Mixpanel failed ({reason(error)}). Nothing was retried: this does not pass by waiting. "
            "Check base_url, and a proxy's or private CA's certificate (set REQUESTS_CA_BUNDLE to its CA file)."
        )
        return ErrorResolution(ResponseAction.FAIL, FailureType.config_error, message)
    if isinstance(error, (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema)):
        return ErrorResolution(ResponseAction.FAIL, FailureType.config_error, f"The request could not be sent ({type(error).__name__}). Check the credentials and base_url.")
    if isinstance(error, requests.exceptions.Timeout):
        return ErrorResolution(ResponseAction.RETRY, FailureType.transient_error, f"Mixpanel did not answer in time ({type(error).__name__}).")
    return ErrorResolution(ResponseAction.RETRY, FailureType.transient_error, f"Could not reach Mixpanel ({reason(error)}). Check region/base_url and the network.")
