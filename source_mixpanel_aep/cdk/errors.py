"""One way to build the CDK's AirbyteTracedException: a failure type, the user's words and the maintainers' words.

The CDK's exception takes `message` (what the user reads), `internal_message` (what the logs and the
TRACE's internal field keep) and `failure_type` (whose problem it is: the user's - config_error; an
outage that passes - transient_error; ours - system_error) as keywords with None defaults, so a
hand-built one that forgets a keyword silently says less. Every site of this connector builds its
exceptions here instead. By default the internal message is the message itself, as every site used
to spell out; pass `internal_message=` to keep other words (None too: then the TRACE has none).

A leaf: only the CDK's models and exception are imported, so config.py and the pure layers may use it.
"""

from __future__ import annotations

from typing import Optional, Union

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException


class _SameAsMessage:
    """The default internal message: the message itself (None is a value a caller may pass)."""


SAME_AS_MESSAGE = _SameAsMessage()
Internal = Union[Optional[str], _SameAsMessage]


def traced(
    failure_type: Optional[FailureType], message: Optional[str], internal_message: Internal = SAME_AS_MESSAGE
) -> AirbyteTracedException:
    """The exception with these words and this failure type (for a type copied from another error)."""
    internal = message if isinstance(internal_message, _SameAsMessage) else internal_message
    return AirbyteTracedException(message=message, internal_message=internal, failure_type=failure_type)


def config_error(message: str, internal_message: Internal = SAME_AS_MESSAGE) -> AirbyteTracedException:
    """The user's to fix (a config, a state or catalog file, rejected credentials): said without a stack trace."""
    return traced(FailureType.config_error, message, internal_message)


def transient_error(message: str, internal_message: Internal = SAME_AS_MESSAGE) -> AirbyteTracedException:
    """An outage or limit that passes: the next sync may succeed as it is."""
    return traced(FailureType.transient_error, message, internal_message)


def system_error(message: str, internal_message: Internal = SAME_AS_MESSAGE) -> AirbyteTracedException:
    """Ours to fix."""
    return traced(FailureType.system_error, message, internal_message)
