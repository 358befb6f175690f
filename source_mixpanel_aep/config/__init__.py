"""Typed connector configuration, built from the raw config dict.

`spec.json` declares the shape (types, enums, minimums); `parse_config` is the one place that
checks what a JSON schema can't (dates in order, a known timezone, base_url rules, project_id with
a service account) and turns every mistake into a `config_error` that names the field and says how
to fix it. Streams read a `MixpanelConfig`; nothing here knows about HTTP or records.

One job a module: model.py (the typed config, its defaults), files.py (spec.json, the --config
file, unknown keys), fields.py (each field's check), xdm_fields.py (the XDM settings' check),
parse.py (all checks at once), errors.py (the error). This file re-exports the names the rest of
the package, the tests and the bench import, so `from ..config import MixpanelConfig` keeps working.
"""

from .errors import config_error
from .files import SPEC, read_config_file, unknown_keys
from .model import REGION_HOSTS, REGION_QUERY_HOSTS, Credentials, MixpanelConfig, XdmConfig
from .parse import parse_config

__all__ = [
    "SPEC",
    "REGION_HOSTS",
    "REGION_QUERY_HOSTS",
    "Credentials",
    "MixpanelConfig",
    "XdmConfig",
    "config_error",
    "parse_config",
    "read_config_file",
    "unknown_keys",
]
