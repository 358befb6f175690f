"""The one error type of config/: a user's mistake in a named field, with the fix.

Its own module because fields.py, xdm_fields.py and parse.py all raise it (and `streams/group_profiles.py`
too, through the package): one home they import without a cycle.
"""

from __future__ import annotations

from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..cdk.errors import config_error as traced_config_error


def config_error(field: str, problem: str, fix: str) -> AirbyteTracedException:
    """A user's mistake: the message names the field and says what to do."""
    message = f"Config field '{field}': {problem} {fix}".strip()
    return traced_config_error(message)
