"""What comes in before any field is checked: spec.json (`SPEC`), the --config file, and its unknown keys.

spec.json stays at the package's top (package data in setup.py), so it is read from the parent
package, not from config/.
"""

from __future__ import annotations

import difflib
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any, List, Mapping, MutableMapping

from airbyte_cdk.sources.utils.schema_helpers import InternalConfig
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..cdk.errors import config_error as traced_config_error
from .model import CREDENTIAL_KEYS

_PACKAGE = __package__.rpartition(".")[0]  # spec.json is the package's (setup.py package_data), beside source.py
SPEC: Mapping[str, Any] = json.loads(resources.files(_PACKAGE).joinpath("spec.json").read_text(encoding="utf-8"))


def read_config_file(path: str) -> MutableMapping[str, Any]:
    """The --config file as a dict; a config_error saying what is wrong with the file otherwise.

    Never quotes the file's content: it holds secrets. Line and column are enough to find a typo.
    """
    def file_error(problem: str) -> AirbyteTracedException:
        message = f"The --config file {path} {problem}"
        return traced_config_error(message)

    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise file_error(f"could not be read ({type(error).__name__}: {getattr(error, 'strerror', None) or 'not UTF-8 text'}).") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise file_error(
            f"is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}. "
            "Fix the file (a JSON object, keys and strings in double quotes, no trailing commas)."
        ) from None
    if not isinstance(raw, MutableMapping):
        raise file_error(f"holds a JSON {type(raw).__name__}, not an object. Pass a JSON object such as {{\"credentials\": {{...}}}}.")
    return raw


def unknown_keys(raw: Any) -> List[str]:
    """One warning per top-level key the spec does not know, naming the closest known field.

    Warned, never failed: the Airbyte UI only sends the spec's fields, but a saved config can keep a
    field an older version had, and a config written for another Mixpanel connector has its own;
    failing would stop those syncs for a key that changes nothing. A misspelling is the case that
    matters (`startDate` means the 30-day default start), hence "did you mean". The CDK's own keys
    (`_limit`, `_page_size`, `__injected_...`) are not the user's and are left alone.
    """
    if not isinstance(raw, Mapping):
        return []
    known = list(SPEC["connectionSpecification"]["properties"])
    by_spelling = {_normalised(name): name for name in known}
    warnings = []
    for key in raw:
        if not isinstance(key, str) or key in known or key in InternalConfig.KEYWORDS or key.startswith("__"):
            continue
        closest = difflib.get_close_matches(_normalised(key), list(by_spelling), n=1, cutoff=0.6)
        if key in CREDENTIAL_KEYS:
            hint = f"It belongs inside 'credentials'{CREDENTIAL_KEYS[key]}."
        elif closest:
            hint = f"Did you mean '{by_spelling[closest[0]]}'?"
        else:
            hint = f"Known fields: {', '.join(known)}."
        warnings.append(f"Config key '{key}' is not a field of this connector and is ignored. {hint}")
    return warnings


def _normalised(key: str) -> str:
    """`startDate`, `Start-Date`, `start date` -> `startdate`: compares spellings, not styles."""
    return re.sub(r"[^a-z0-9]", "", key.lower())
