"""The --catalog file of `read`, read with an answer a user can act on when it is not a configured catalog.

The CDK's own reader ends a file that is not JSON, or not a catalog, as a system_error with a stack
trace ("Something went wrong in the connector"): the file is the user's, so the mistake is theirs
(config_error), said in one line with what the file must be. A catalog holds no secrets, so the
validator's words are quoted (shortened).
"""

from __future__ import annotations

import json
from pathlib import Path

from airbyte_cdk.models import ConfiguredAirbyteCatalog, ConfiguredAirbyteCatalogSerializer
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..cdk.errors import config_error

EXPECTED = (
    'Expected a configured catalog: {"streams": [{"stream": {"name": "events", "json_schema": {}, "supported_sync_modes": '
    '["full_refresh", "incremental"]}, "sync_mode": "incremental", "destination_sync_mode": "append"}]} '
    "(`discover` prints the streams to choose from)."
)


def catalog_error(path: str, problem: str) -> AirbyteTracedException:
    message = f"The --catalog file {path} {problem}. {EXPECTED}"
    return config_error(message)


def read_catalog_file(path: str) -> ConfiguredAirbyteCatalog:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise catalog_error(path, f"could not be read ({type(error).__name__}: {getattr(error, 'strerror', None) or 'not UTF-8 text'})") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise catalog_error(path, f"is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("streams"), list):
        raise catalog_error(path, "has no list of streams")
    try:
        return ConfiguredAirbyteCatalogSerializer.load(raw)
    except Exception as error:  # noqa: BLE001 - serpyco's SchemaValidationError and friends: the same clear answer
        said = " ".join(str(error).replace("Schema validation failed:", "").split())[:300]
        raise catalog_error(path, f"is not a configured catalog ({said})") from None
