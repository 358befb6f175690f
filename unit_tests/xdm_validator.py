"""A test-side check that a record is what AEP would ingest: the generated field group plus the XDM rules.

For events and for profiles: the field group's `meta:intendedToExtend` says which class it is for,
ExperienceEvent or XDM Individual Profile, and so which standard fields are joined to it.

Built independently of the connector's own discover schema: the JSON schema here is derived from
the *field group payload* a user POSTs (`xdm_payloads.field_group`), joined with ExperienceEvent's
`_id`, `timestamp`, `eventType` and the IdentityMap field group written out by hand from Adobe's
XDM definitions; no key outside them is allowed (streaming ingestion rejects unknown keys). On top,
the XDM rules a JSON schema cannot say: no null anywhere, field names, integers within XDM's long
range anywhere, `_id` without colons, a UTC timestamp with milliseconds (events), at most one primary identity,
AEP's identity guardrails (no blocked id, none over 1,024 characters, at most 20 per record).

For profiles the standard fields are the XDM Individual Profile class's `_id`, the IdentityMap
field group, and the fields records use of Demographic Details (`person.name`) and Personal
Contact Details (`personalEmail`, `mobilePhone`, `homeAddress`), written out by hand from Adobe's
datatypes (person-name, emailaddress, phonenumber, address/geo), with their format and pattern.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any, Dict, List, Mapping

from jsonschema import Draft7Validator, FormatChecker

XDM_LONG_MAX = 2**53 - 1  # written again here on purpose: the test must not borrow the code's constant
FIELD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
UTC_MILLIS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

# ExperienceEvent (https://ns.adobe.com/xdm/context/experienceevent), its time-series base and the
# IdentityMap field group (https://ns.adobe.com/xdm/context/identitymap), as far as records use them.
EXPERIENCE_EVENT_FIELDS: Dict[str, Any] = {
    "_id": {"type": "string", "minLength": 1},
    "timestamp": {"type": "string"},
    "eventType": {"type": "string"},
    "identityMap": {
        "type": "object",
        "additionalProperties": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string", "minLength": 1},
                    "authenticatedState": {"enum": ["ambiguous", "authenticated", "loggedOut"]},
                    "primary": {"type": "boolean"},
                },
            },
        },
    },
}


EXPERIENCE_EVENT = "https://ns.adobe.com/xdm/context/experienceevent"
PROFILE = "https://ns.adobe.com/xdm/context/profile"


def _strings(*names: str, **constrained: Dict[str, Any]) -> Dict[str, Any]:
    properties = {name: {"type": "string"} for name in names}
    properties.update({name: {"type": "string", **extra} for name, extra in constrained.items()})
    return {"type": "object", "additionalProperties": False, "properties": properties}


PROFILE_FIELDS: Dict[str, Any] = {
    "_id": {"type": "string", "minLength": 1},
    "identityMap": EXPERIENCE_EVENT_FIELDS["identityMap"],
    # Demographic Details: person (person-name datatype)
    "person": {"type": "object", "additionalProperties": False, "properties": {
        "name": _strings("firstName", "middleName", "lastName", "fullName", "courtesyTitle", "suffix")}},
    # Personal Contact Details: emailaddress, phonenumber and address (with geo's countryCode and stateProvince) datatypes
    "personalEmail": _strings("label", "type", "status", "statusReason", address={"format": "email"}),
    "mobilePhone": _strings("number", "extension", "status", "statusReason", "validity"),
    "homeAddress": _strings("street1", "street2", "city", "region", "postalCode", "country", "label", "status",
                            countryCode={"pattern": "^[A-Z]{2}$"}, stateProvince={"pattern": "([A-Z]{2}-[A-Z0-9]{1,3}|)"}),
}
BASE_FIELDS = {EXPERIENCE_EVENT: (EXPERIENCE_EVENT_FIELDS, ["_id", "timestamp"]), PROFILE: (PROFILE_FIELDS, [])}


def _plain(node: Mapping[str, Any]) -> Dict[str, Any]:
    """A Schema Registry definition as strict JSON schema: a map keeps additionalProperties, an object allows no other keys."""
    plain = {key: copy.deepcopy(value) for key, value in node.items() if not key.startswith("meta:") and key not in ("title", "description")}
    if node.get("meta:xdmType") == "map":
        assert node["additionalProperties"]["type"] in ("string", "integer"), "XDM maps hold strings or integers only"
        return plain
    if node.get("type") == "object":
        plain["properties"] = {name: _plain(child) for name, child in node.get("properties", {}).items()}
        plain["additionalProperties"] = False
    return plain


def schema_from_field_group(field_group: Mapping[str, Any]) -> Dict[str, Any]:
    [extends] = field_group["meta:intendedToExtend"]
    assert extends in BASE_FIELDS, f"a field group for {extends}"
    base, required = BASE_FIELDS[extends]
    properties = dict(base)
    for ref in field_group["allOf"]:
        definition = field_group["definitions"][ref["$ref"].split("/")[-1]]
        for name, node in definition["properties"].items():
            assert name.startswith("_") and node["type"] == "object", "a field group's own fields live under its tenant object"
            properties[name] = _plain(node)
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": False}


class XdmValidator:
    def __init__(self, field_group: Mapping[str, Any]):
        self.schema = schema_from_field_group(field_group)
        self._validator = Draft7Validator(self.schema, format_checker=FormatChecker(formats=["email"]))

    def errors(self, record: Any) -> List[str]:
        found = [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in self._validator.iter_errors(record)]
        found += xdm_rule_violations(record, self.schema)
        return found

    def check(self, record: Any) -> Any:
        errors = self.errors(record)
        assert not errors, errors
        return record


def xdm_rule_violations(record: Any, schema: Mapping[str, Any]) -> List[str]:
    problems: List[str] = []
    _walk(record, schema, "", problems, top=True)
    if isinstance(record, dict):
        if ":" in str(record.get("_id", "")):
            problems.append("_id: contains a colon")
        timestamp = record.get("timestamp")
        if "timestamp" not in schema["properties"]:  # a profile: no timestamp
            pass
        elif not (isinstance(timestamp, str) and UTC_MILLIS.match(timestamp)):
            problems.append(f"timestamp: {timestamp!r} is not UTC ISO 8601 with milliseconds")
        else:
            dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        primaries = [item for items in (record.get("identityMap") or {}).values() for item in items if isinstance(item, dict) and item.get("primary")]
        if len(primaries) > 1:
            problems.append(f"identityMap: {len(primaries)} primary identities")
        items = [item for items in (record.get("identityMap") or {}).values() for item in items if isinstance(item, dict)]
        if len(items) > 20:
            problems.append(f"identityMap: {len(items)} identities, AEP takes 20 per record")
        for item in items:
            id_ = item.get("id")
            if isinstance(id_, str) and (id_.strip().lower() in ("", "null", "anonymous", "invalid") or len(id_) > 1024):
                problems.append(f"identityMap: the id {id_[:40]!r} is one AEP's Identity Service blocks")
    return problems


def _walk(value: Any, schema: Mapping[str, Any], path: str, problems: List[str], *, top: bool = False) -> None:
    if value is None:
        problems.append(f"{path or '/'}: null")
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not -XDM_LONG_MAX <= value <= XDM_LONG_MAX:
            problems.append(f"{path}: {value} is outside XDM's long range")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, schema.get("items", {}), f"{path}/{index}", problems)
    elif isinstance(value, dict):
        declared = schema.get("properties", {})
        is_map = isinstance(schema.get("additionalProperties"), dict)
        for key, child in value.items():
            if not is_map and not FIELD_NAME.match(key) and not (top and key.startswith("_") and FIELD_NAME.match(key[1:])):
                problems.append(f"{path}/{key}: not a valid XDM field name")
            child_schema = schema["additionalProperties"] if is_map else declared.get(key, {})
            if is_map and child_schema.get("type") == "string" and not isinstance(child, str):
                problems.append(f"{path}/{key}: map value {child!r} is not a string")
            _walk(child, child_schema, f"{path}/{key}", problems)
