"""What the `events` stream says when a request or a window fails: each a user message with an honest failure type."""

from __future__ import annotations

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..cdk.errors import config_error, traced, transient_error
from ..cdk.http_errors import says_only_gave_up
from ..config import MixpanelConfig
from ..records.jsonl import MalformedLine
from .backoff import retries_said
from .failure_words import last_failure
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
    return config_error(message)


def check_failed(error: AirbyteTracedException) -> AirbyteTracedException:
    """What `check` saw, in its own words: the error table's message, or the last answer before the retries ran out."""
    said = error.message or ""
    if says_only_gave_up(said):  # the HttpClient's generic words
        said = f"Could not check the connection: {last_failure(error)}."
    return traced(error.failure_type or FailureType.transient_error, said, error.internal_message)


def requests_failed(window: Window, error: AirbyteTracedException, retries: int) -> AirbyteTracedException:
    message = (
        f"{window.label}: Mixpanel kept failing after {retries_said(retries)} (last answer: {last_failure(error)}). "
        "Nothing from this window was checkpointed; the state emitted so far lets the next run resume here. "
        "If Mixpanel is having an outage or rate-limiting the project, run the sync again later."
    )
    return traced(error.failure_type or FailureType.transient_error, message, error.internal_message)


def window_failed(window: Window, error: BaseException, breaks: int) -> AirbyteTracedException:
    if isinstance(error, MalformedLine):
        what = f"could not be read completely after {breaks} attempts (malformed data: {error})"
    else:
        what = f"could not be read completely: {breaks} reads in a row broke off, down to windows as small as they get (an incomplete response: {error})"
    message = f"{window.label} {what}. Nothing from this window was checkpointed; the state emitted so far lets the next run resume here."
    return transient_error(message)
