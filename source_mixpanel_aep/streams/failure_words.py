"""A failed request in words a user can act on: the server's own text, a connection failure's cause, the last answer.

Pure reading of requests' responses and exceptions, shared by the error table (streams/error_table.py),
the retry lines (streams/backoff.py) and the streams' own failure messages. Nothing here decides
what to do about a failure.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import requests

from ..cdk.http_errors import last_attempt


def error_text(response: requests.Response) -> str:
    """The server's own words, short: `{"error": "..."}` or the plain body."""
    try:
        body = response.json()
        if isinstance(body, dict) and body.get("error"):
            return str(body["error"])[:300]
    except ValueError:
        pass
    return (response.text or "").strip()[:300]


def what_happened(response_or_exception: Any) -> str:
    """One request's failure in a few words: HTTP status and the server's short text, or the connection error."""
    if isinstance(response_or_exception, requests.Response):
        said = error_text(response_or_exception)
        retry_after = response_or_exception.headers.get("Retry-After")
        return (f"Mixpanel answered HTTP {response_or_exception.status_code}" + (f" ({said[:120]})" if said else "")
                + (f", Retry-After {retry_after} s" if retry_after else ""))
    if isinstance(response_or_exception, requests.exceptions.Timeout):
        return f"Mixpanel did not answer in time ({reason(response_or_exception)})"
    if isinstance(response_or_exception, Exception):
        return f"the connection failed ({reason(response_or_exception)})"
    return "no answer"


def is_future_day_refusal(response: requests.Response) -> bool:
    """Mixpanel's 400 for a to_date after its own today ("to_date cannot be later than today")."""
    return response.status_code == 400 and "to_date" in error_text(response).lower()


# A connection failure's text -> the words a user can act on, and whether there was no connection at all.
# First match wins; matched without regard to case. One table for reason and is_unreachable.
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


def reason(error: BaseException) -> str:
    """The innermost cause's words, without the URL (it may carry a proxy's password) or the request."""
    failure = _connection_failure(error)
    return failure[1] if failure is not None else type(error).__name__


def last_failure(error: BaseException) -> str:
    """What Mixpanel last answered before the CDK's HttpClient gave up retrying (cdk/http_errors.last_attempt)."""
    cause = last_attempt(error)
    response = getattr(cause, "response", None)
    if isinstance(response, requests.Response):
        said = error_text(response)
        return f"HTTP {response.status_code}" + (f": {said}" if said else "")
    return str(cause or error).rstrip(".")
