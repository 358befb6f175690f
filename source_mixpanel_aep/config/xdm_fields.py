"""The XDM settings' check (output_format, xdm_tenant_id, identity_namespaces, xdm_fields) into an XdmConfig.

It reads records/vocabulary.py (a leaf: tables only), never the XDM code, so config/ stays a leaf.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from ..records.vocabulary import DEFAULT_NAMESPACES, IDENTITY_KEYS, TAKEN_PROPERTIES, XDM_TYPES  # a leaf: tables only, no XDM code
from .errors import config_error
from .model import XdmConfig

_TENANT = re.compile(r"_?([A-Za-z0-9][A-Za-z0-9_]*)")
_NAMESPACE_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def parse_xdm(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """output_format and, for "xdm", the tenant, identity namespaces and promoted fields (XdmConfig).

    The XDM fields are checked whenever they are given, even with flat output: a mistake there
    would otherwise only show the day someone switches to xdm.
    """
    output_format = raw.get("output_format", "flat")
    if output_format not in ("flat", "xdm"):
        raise config_error("output_format", f"{output_format!r} is not an output format.", 'Use "flat" (the default) or "xdm".')
    tenant_value = raw.get("xdm_tenant_id")
    tenant = None
    if tenant_value is not None:
        match = _TENANT.fullmatch(tenant_value.strip()) if isinstance(tenant_value, str) else None
        if not match:
            raise config_error("xdm_tenant_id", f"{tenant_value!r} is not a tenant id.",
                               "Use your organisation's tenant id, letters and digits, with or without the leading underscore (e.g. _extconndev).")
        tenant = match.group(1)
    elif output_format == "xdm":
        raise config_error("xdm_tenant_id", 'is required when output_format is "xdm".',
                           "Set it to your organisation's tenant id (AEP: the `_<tenant>` object in your schemas, e.g. _extconndev).")
    namespaces = dict(DEFAULT_NAMESPACES)
    for key, code in _object(raw, "identity_namespaces", '{"distinct_id": "MixpanelDistinctId", "device_id": null}').items():
        field = f"identity_namespaces.{key}"
        if key not in IDENTITY_KEYS:
            raise config_error(field, "is not a Mixpanel id this connector maps.", f"Use {', '.join(IDENTITY_KEYS)}.")
        if code is not None and not (isinstance(code, str) and _NAMESPACE_CODE.fullmatch(code)):
            raise config_error(field, f"{code!r} is not an identity namespace code.", "Use a code such as MixpanelDistinctId or Email, or null to leave this identity out.")
        namespaces[key] = code
    xdm_fields = _object(raw, "xdm_fields", '{"$browser": "string", "plan_seats": "integer"} (Mixpanel property name -> type)')
    for name, xdm_type in xdm_fields.items():
        field = f"xdm_fields.{name}"
        if not name:
            raise config_error("xdm_fields", "has an empty property name.", "Use Mixpanel property names as keys.")
        if name in TAKEN_PROPERTIES:
            raise config_error(field, "is already a field of its own in every XDM record.", "Remove it from xdm_fields.")
        if xdm_type not in XDM_TYPES:
            raise config_error(field, f"{xdm_type!r} is not a supported XDM type.", f"Use one of {', '.join(XDM_TYPES)}.")
    if output_format != "xdm":
        return {"output_format": output_format}
    return {"output_format": output_format, "xdm": XdmConfig(tenant, namespaces, dict(xdm_fields))}


def _object(raw: Mapping[str, Any], field: str, example: str) -> Mapping[str, Any]:
    """An optional JSON object field; absent or null is empty."""
    value = raw.get(field)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise config_error(field, "is not an object.", f"Use e.g. {example}.")
    return value
