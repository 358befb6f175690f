"""What this connector reads off the exceptions the CDK's HttpClient raises: their shapes are the HttpClient's, not a public API.

airbyte_cdk.sources.streams.http.http_client.HttpClient raises an AirbyteTracedException in two ways
(registered in cdk/upstream.py, so a CDK upgrade that changes either fails unit_tests/test_cdk_drift.py):

- `_handle_error_resolution`, when the error handler says FAIL: `message` is the handler's own
  error_message (our error table's words), and `internal_message` the request and response.
- `_send_with_retry`, when the retries ran out: raised inside `except BaseBackoffException`, so the
  backoff exception (carrying the last response, if any) is the traced exception's `__context__`,
  and the message is one of two generic sentences (GAVE_UP_WORDS).
"""

from __future__ import annotations

from typing import Optional

from airbyte_cdk.sources.streams.http.exceptions import BaseBackoffException
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

# How HttpClient._send_with_retry's two messages begin ("Exhausted available request attempts. Please see logs ...").
GAVE_UP_WORDS = ("Exhausted available request attempts", "API rate limit exceeded")


def error_table_words(error: AirbyteTracedException) -> str:
    """The error handler's own message, which HttpClient._handle_error_resolution makes the exception's message."""
    return error.message or ""


def retries_ran_out(error: BaseException) -> bool:
    """The HttpClient gave up after its retries (_send_with_retry raises from its backoff exception), not the error table saying stop."""
    return isinstance(error.__context__, BaseBackoffException)


def last_attempt(error: BaseException) -> Optional[BaseException]:
    """What the HttpClient's last try ended with (its backoff exception, with `.response` when there was one), if it gave up retrying."""
    return error.__context__


def says_only_gave_up(message: str) -> bool:
    """The message is one of _send_with_retry's generic sentences, which say nothing of what happened."""
    return message.startswith(GAVE_UP_WORDS)
