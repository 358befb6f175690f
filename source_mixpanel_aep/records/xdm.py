"""Flat record -> XDM ExperienceEvent, as Adobe Experience Platform ingests it without a mapping set.

Pure functions only: no HTTP, no Airbyte protocol. The input is the record `mapping.to_record`
already made (so `_id`, `timestamp` and the promoted columns are exactly the flat record's), and
the output is

    {"_id": <flat _id>, "timestamp": <flat timestamp>, "eventType": <event name>,
     "identityMap": {"MixpanelDistinctId": [{"id": "u1", "authenticatedState": "ambiguous", "primary": true}], ...},
     "_<tenant>": {<AEP's 11 Mixpanel fields, same names>, <the configured xdm_fields>,
                   "properties": {<every other property, original name, value as text>}}}

One table (`AEP_FIELDS` plus the user's `xdm_fields`) drives the records here and the field
group, schema and discover schema in `xdm_payloads`, so they cannot disagree.

XDM rules kept here (Adobe's Schema Registry and ingestion docs):
- no null anywhere: a field without a value is left out (a null property too: a map of strings
  has no way to say null, and "null" as text would read as the string "null");
- integers within XDM's long range, ±(2^53 - 1); one outside it goes to `properties` as its text;
- a map's values are all strings: numbers, booleans, lists and objects become compact JSON text
  (`107`, `true`, `["a","b"]`);
- field names: ASCII letters, digits, `_` and `-`, not starting with `_` (see `field_name`);
- AEP's identity guardrails (`usable_identity`): an id Identity Service blocks is no identity, and a
  blocked distinct_id leaves `_<tenant>.distinct_id` (the primary identity's field) for `properties`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Tuple

from .mapping import PROMOTED
from .values import XDM_LONG_MAX, json_text, xdm_boolean, xdm_integer, xdm_number, xdm_string
from .vocabulary import DEFAULT_NAMESPACES  # noqa: F401  # re-exported: xdm_payloads and the tests read it here; its home is the leaf config/ reads

PROPERTIES_FIELD = "properties"
# AEP's identity guardrails (Identity Service): these values are blocked, a longer id is refused, and a
# record holds at most MAX_IDENTITIES. Such a value never goes into identityMap (or the primary
# identity's field); it stays in the tenant's `properties`.
BLOCKED_IDENTITY_VALUES = frozenset({"", "null", "anonymous", "invalid"})  # compared stripped and lower-cased
IDENTITY_MAX_LENGTH = 1024
MAX_IDENTITIES = 20
_BLOCKED_MAX_LENGTH = max(len(value) for value in BLOCKED_IDENTITY_VALUES)


@dataclass(frozen=True)
class Field:
    """A typed field of the tenant object: its XDM name and type, and where its value comes from."""

    name: str
    xdm_type: str
    source: str  # the Mixpanel property (raw name) it is read from
    title: str
    description: str
    format: Optional[str] = None  # a string's XDM format ("date-time"), declared in the field group


# AEP's own Mixpanel mapping: `data.<field>` -> `_<tenant>.<field>`, in the order of its docs. The flat
# record already has each as a column of the same name; `source` is the raw property, where a value
# outside XDM's long range is kept as text instead.
_RAW_NAME = {column: raw for raw, (column, _) in PROMOTED.items()}
AEP_FIELDS: Tuple[Field, ...] = tuple(
    Field(name, xdm_type, _RAW_NAME.get(name, name), title, description)
    for name, xdm_type, title, description in (
        ("distinct_id", "string", "Distinct ID", "Mixpanel's id of the person (properties.distinct_id)."),
        ("event_name", "string", "Event name", "The Mixpanel event's name (event)."),
        ("import", "boolean", "Imported", "True when the event was sent through Mixpanel's /import (properties.$import)."),
        ("insert_id", "string", "Insert ID", "Mixpanel's deduplication id (properties.$insert_id)."),
        ("item_id", "string", "Item ID", "properties.item_id, as text."),
        ("item_name", "string", "Item name", "properties.item_name, as text."),
        ("item_price", "string", "Item price", "properties.item_price, as text (AEP's Mixpanel mapping types it as a string)."),
        ("mp_api_endpoint", "string", "API endpoint", "The Mixpanel API host that received the event (properties.$mp_api_endpoint)."),
        ("mp_api_timestamp_ms", "integer", "API timestamp (ms)", "When Mixpanel's API received the event, Unix ms (properties.$mp_api_timestamp_ms)."),
        ("mp_processing_time_ms", "integer", "Processing time (ms)", "When Mixpanel processed the event, Unix ms (properties.mp_processing_time_ms)."),
        ("time", "integer", "Time", "The event's true instant in Unix seconds, UTC (properties.time)."),
    )
)
RESERVED_NAMES = frozenset(field.name for field in AEP_FIELDS) | {PROPERTIES_FIELD}


@dataclass(frozen=True)
class XdmSettings:
    """What the XDM shape depends on, made from the config's checked settings by `xdm_settings`."""

    tenant: str  # without the leading underscore
    namespaces: Mapping[str, Optional[str]]  # IDENTITY_KEYS -> namespace code; None leaves that identity out
    fields: Tuple[Field, ...] = ()  # the promoted xdm_fields, named by promoted_fields()

    @property
    def tenant_key(self) -> str:
        return "_" + self.tenant

    @property
    def all_fields(self) -> Tuple[Field, ...]:
        return AEP_FIELDS + self.fields


def field_name(property_name: str) -> str:
    """A valid XDM field name for a Mixpanel property: `$browser` -> `browser`, `Plan type` -> `Plan_type`.

    Every run of characters other than ASCII letters, digits, `_` and `-` becomes one `_`, and
    leading/trailing `_` are dropped (a leading `$` with them); a name with nothing left is `property`.
    """
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", property_name).strip("_")
    return name or "property"


def promoted_fields(xdm_fields: Mapping[str, str]) -> Tuple[Field, ...]:
    """The configured properties as fields, with unique names that avoid AEP's fields and `properties`.

    Clashes are resolved in the order of the property names (sorted, so the order of keys in the
    config does not matter): the first keeps the derived name, the next gets `_2`, then `_3`...;
    a name that is one of AEP's 11 fields or `properties` always gets a suffix.
    """
    taken = set(RESERVED_NAMES)
    fields = []
    for source in sorted(xdm_fields):
        base = field_name(source)
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        fields.append(Field(name, xdm_fields[source], source, source, f"Mixpanel property {source!r}, as an XDM {xdm_fields[source]}."))
    return tuple(fields)


class ConfiguredXdm(Protocol):
    """The XDM settings as config/ keeps them (config.XdmConfig): plain data, checked there, so config imports no XDM code."""

    tenant: str
    namespaces: Mapping[str, Optional[str]]
    fields: Mapping[str, str]  # xdm_fields: Mapping property -> XDM type


def xdm_settings(configured: ConfiguredXdm) -> XdmSettings:
    """The settings the records and payloads use: the config's, with the xdm_fields named (promoted_fields)."""
    return XdmSettings(configured.tenant, configured.namespaces, promoted_fields(configured.fields))


# --- values (the converters themselves are values.py's) -----------------------------------------------
CONVERTERS: Mapping[str, Callable[[Any], Tuple[Any, bool]]] = {
    "string": xdm_string, "integer": xdm_integer, "number": xdm_number, "boolean": xdm_boolean,
}


# --- the record ---------------------------------------------------------------------------------------
def identity_id(value: Any) -> Optional[str]:
    """An identity's id: a non-empty string, or an integer's text; anything else is no identity."""
    if type(value) is str:
        return value or None
    if type(value) is int:
        return str(value)
    return None


def usable_identity(value: str) -> bool:
    """Whether AEP's Identity Service takes `value` as an id: not blocked ("", "null", "anonymous", "invalid", any case,
    blanks around), at most 1,024 characters. Most ids are longer than any blocked value: then only the length is looked at."""
    length = len(value)
    if length > _BLOCKED_MAX_LENGTH:
        return length <= IDENTITY_MAX_LENGTH
    return value.strip().lower() not in BLOCKED_IDENTITY_VALUES


def record_builder(settings: XdmSettings) -> Callable[[Dict[str, Any]], Dict[str, Any]]:
    """The per-event function flat record -> XDM record for these settings; it consumes the flat record.

    It runs once per event, so everything that depends only on the settings is worked out here, once
    (the tenant key, each identity's namespace and whether it shares it with an earlier one, the
    promoted fields' table) and the per-event code is short: the flat record's own dicts are reused
    (its columns are AEP's fields, its properties become the map), the three identities are
    written out rather than looped over, only the two `*_ms` integers can be out of XDM's range
    (`time` is years 1-9999 in seconds), and a promoted value already of its field's type skips
    the converter. Callers that still need the flat record pass a copy.
    """
    tenant_key = settings.tenant_key
    blocked_max, max_length = _BLOCKED_MAX_LENGTH, IDENTITY_MAX_LENGTH
    low, high = -XDM_LONG_MAX, XDM_LONG_MAX
    ranged = tuple((field.name, field.source) for field in AEP_FIELDS if field.xdm_type == "integer" and field.name != "time")
    (api_ms, _), (processed_ms, _) = ranged  # mp_api_timestamp_ms, mp_processing_time_ms
    exact_types = {"string": str, "integer": int, "number": float, "boolean": bool}
    promoted = tuple((field.source, field.name, exact_types[field.xdm_type], field.xdm_type == "integer", CONVERTERS[field.xdm_type]) for field in settings.fields)
    # Each identity's namespace (None: left out) and whether an earlier identity has the same one (then they share its list).
    namespaces = settings.namespaces
    distinct_ns = namespaces.get("distinct_id") or None
    device_ns = namespaces.get("device_id") or None
    user_ns = namespaces.get("user_id") or None
    device_shares = device_ns is not None and device_ns == distinct_ns
    user_shares = user_ns is not None and user_ns in (distinct_ns, device_ns)

    def to_xdm(flat: Dict[str, Any]) -> Dict[str, Any]:
        """Consumes `flat`: its dicts become the tenant object and the map, in place (no copies per event)."""
        properties = flat.pop(PROPERTIES_FIELD)
        id_, timestamp, event_type = flat.pop("_id"), flat.pop("timestamp"), flat["event_name"]
        tenant = flat  # what is left is AEP's fields: the flat columns are exactly those (unit_tests/test_xdm.py pins it)
        identity_map: Dict[str, List[Dict[str, Any]]] = {}  # read first: the ids as the event has them
        # The three ids are written out, not looped over: this runs per event, and a loop over (namespace, key, state)
        # tuples cost more instructions than the repetition (callgrind, bench/instructions.py 20000 xdm).
        if distinct_ns is not None:
            value = flat.get("distinct_id")
            if type(value) is not str:
                value = identity_id(value)
            if value is not None and not (blocked_max < len(value) <= max_length or usable_identity(value)):
                # `_<tenant>.distinct_id` is the schema's primary identity (descriptor): a value AEP blocks leaves that field too
                properties.setdefault("distinct_id", tenant.pop("distinct_id"))
                value = None
            if value:
                identity_map[distinct_ns] = [{"id": value, "authenticatedState": "ambiguous", "primary": True}]
        if device_ns is not None:
            value = properties.get("$device_id")
            if type(value) is not str:
                value = identity_id(value)
            if value and (blocked_max < len(value) <= max_length or usable_identity(value)):  # the id stays in properties either way
                if device_shares:
                    add_identity(identity_map, device_ns, value, "ambiguous", False)
                else:
                    identity_map[device_ns] = [{"id": value, "authenticatedState": "ambiguous", "primary": False}]
        if user_ns is not None:
            value = properties.get("$user_id")
            if type(value) is not str:
                value = identity_id(value)
            if value and (blocked_max < len(value) <= max_length or usable_identity(value)):  # the id stays in properties either way
                if user_shares:
                    add_identity(identity_map, user_ns, value, "authenticated", False)
                else:
                    identity_map[user_ns] = [{"id": value, "authenticatedState": "authenticated", "primary": False}]
        for source, name, exact_type, ranged_int, convert in promoted:
            value = properties.get(source)
            if type(value) is exact_type and (not ranged_int or low <= value <= high):  # never true for an absent value (None)
                tenant[name] = value
                del properties[source]
            elif value is not None:
                converted, exact = convert(value)
                if converted is not None:
                    tenant[name] = converted
                if exact:
                    del properties[source]
        if not (low <= (tenant.get(api_ms) or 0) <= high and low <= (tenant.get(processed_ms) or 0) <= high):  # both in range: one test
            for column, raw_name in ranged:
                value = tenant.get(column)
                if value is not None and not low <= value <= high:
                    del tenant[column]
                    properties.setdefault(raw_name, str(value))  # kept as text; the flat record may hold the original already
        strings_in_place(properties)
        if properties:
            tenant[PROPERTIES_FIELD] = properties
        if identity_map:
            return {"_id": id_, "timestamp": timestamp, "eventType": event_type, "identityMap": identity_map, tenant_key: tenant}
        return {"_id": id_, "timestamp": timestamp, "eventType": event_type, tenant_key: tenant}

    return to_xdm


def strings_in_place(properties: Dict[str, Any]) -> Dict[str, Any]:
    """`properties` made an XDM map of strings, in place (no copy per record): nulls left out, other values as compact JSON text.

    Shared by events and profiles (`xdm_profiles`), so their `properties` maps follow the same rules.
    Runs once per property of every record: the loop does as little as it can for a string.
    """
    nulls = None
    str_, type_ = str, type  # locals: read once per property
    for key, value in properties.items():  # replacing a value in place keeps the dict's size: allowed while iterating
        if type_(value) is not str_:
            if value is None:
                if nulls is None:
                    nulls = [key]
                else:
                    nulls.append(key)
            elif type_(value) is int:  # the common non-string: its text without json_text's checks
                properties[key] = str_(value)
            else:
                properties[key] = json_text(value)
    if nulls:
        for key in nulls:
            del properties[key]
    return properties


def add_identity(identity_map: Dict[str, List[Dict[str, Any]]], namespace: str, id_: str, state: str, primary: bool) -> bool:
    """Two Mixpanel ids configured into one namespace share its list, one item per distinct id.

    False when AEP would refuse the id (`usable_identity`) or the record holds MAX_IDENTITIES already: the caller keeps the
    value elsewhere. An event has three identities at most, a profile two, so the cap is a backstop."""
    if not usable_identity(id_) or sum(len(items) for items in identity_map.values()) >= MAX_IDENTITIES:
        return False
    items = identity_map.setdefault(namespace, [])
    if not any(item["id"] == id_ for item in items):
        items.append({"id": id_, "authenticatedState": state, "primary": primary})
    return True
