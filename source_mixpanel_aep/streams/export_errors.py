"""What the `events` stream says when a request or a window fails: each a user message with an honest failure type."""

from __future__ import annotations

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..config import MixpanelConfig
from ..records.jsonl import MalformedLine
from .http import last_failure, retries_said
from .windows import Window


class NotYetAtMixpanel(Exception):
    """Mixpanel refused the window's last day as later than its today: its clock is behind ours (midnight)."""


def date_range_refused(config: MixpanelConfig, said: str) -> AirbyteTracedException:
    zone = f"the project timezone {config.project_timezone}" if config.legacy_local_time else "UTC"
    message = (
        f"Mixpanel rejected the date range ({said}). Dates are read in {zone}. If the project was created "
        "before 2023, turn on legacy_local_time and set project_timezone to the project's timezone; "
        "otherwise leave legacy_local_time off."
    )
    return AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.config_error)


def check_failed(error: AirbyteTracedException) -> AirbyteTracedException:
    """What `check` saw, in its own words: the error table's message, or the last answer before the retries ran out."""
    said = error.message or ""
    if said.startswith(("Exhausted available request attempts", "API rate limit exceeded")):  # the HttpClient's generic words
        said = f"Could not check the connection: {last_failure(error)}."
    return AirbyteTracedException(message=said, internal_message=error.internal_message, failure_type=error.failure_type or FailureType.transient_error)


def requests_failed(window: Window, error: AirbyteTracedException, retries: int) -> AirbyteTracedException:
    message = (
        f"{window.label}: Mixpanel kept failing after {retries_said(retries)} (last answer: {last_failure(error)}). "
        "Nothing from this window was checkpointed; the state emitted so far lets the next run resume here. "
        "If Mixpanel is having an outage or rate-limiting the project, run the sync again later."
    )
    return AirbyteTracedException(message=message, internal_message=error.internal_message, failure_type=error.failure_type or FailureType.transient_error)


def window_failed(window: Window, error: BaseException, breaks: int) -> AirbyteTracedException:
    if isinstance(error, MalformedLine):
        what = f"could not be read completely after {breaks} attempts (malformed data: {error})"
    else:
        what = f"could not be read completely: {breaks} reads in a row broke off, down to windows as small as they get (an incomplete response: {error})"
    message = f"{window.label} {what}. Nothing from this window was checkpointed; the state emitted so far lets the next run resume here."
    return AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.transient_error)
