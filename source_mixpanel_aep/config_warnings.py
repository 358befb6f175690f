"""What a command WARNs about a config that works: unknown keys, XDM settings that change nothing, a retiring project secret.

Warned, never failed (see config.unknown_keys for why): said once per command (check, discover,
read) in the log, and `check` repeats them in its SUCCEEDED status message (source.py).
"""

from __future__ import annotations

from typing import Any, List, Mapping

from .config import unknown_keys

XDM_ONLY_FIELDS = ("xdm_tenant_id", "identity_namespaces", "xdm_fields")
PROJECT_SECRET_RETIRED = "2027-03-03"


def config_warnings(raw: Any) -> List[str]:
    """Every warning for `raw`, in this order: unknown keys, unused XDM settings, a project secret."""
    if not isinstance(raw, Mapping):
        return []
    warnings = unknown_keys(raw)
    unused = [key for key in XDM_ONLY_FIELDS if raw.get(key) is not None]
    if unused and raw.get("output_format", "flat") != "xdm":
        warnings.append(
            f"Config field(s) {', '.join(unused)} are set, but output_format is {raw.get('output_format', 'flat')!r}: records are "
            'written flat, not as XDM, and AEP refuses them for an XDM schema. Set output_format to "xdm" to use them, or remove them.'
        )
    credentials = raw.get("credentials")
    if isinstance(credentials, Mapping) and credentials.get("auth_type") == "project_secret":
        warnings.append(
            f"Config field 'credentials': a project secret is used, and Mixpanel retires project secrets on {PROJECT_SECRET_RETIRED}; "
            "from then on this config stops working. Switch to a service account (auth_type service_account, with project_id)."
        )
    return warnings
