"""What a user POSTs to Adobe Experience Platform once, and the JSON schema `discover` shows, for XDM output.

Pure functions of `XdmSettings`, built from the same field table as the records (`xdm.py`): the
identity namespaces, the field group (the tenant object with every field and its type), the
schema (ExperienceEvent class + IdentityMap + that field group), the primary identity
descriptor, and the Airbyte stream schema. The ids AEP gives the field group and the schema are
only known after their POST, so the payloads that need them carry the placeholders below.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List

from .values import XDM_LONG_MAX
from .xdm import DEFAULT_NAMESPACES, PROPERTIES_FIELD, Field, XdmSettings

EXPERIENCE_EVENT = "https://ns.adobe.com/xdm/context/experienceevent"
IDENTITY_MAP_FIELD_GROUP = "https://ns.adobe.com/xdm/context/identitymap"
FIELD_GROUP_ID = "{{FIELD_GROUP_ID}}"  # the field group's $id, from the answer to its POST
SCHEMA_ID = "{{SCHEMA_ID}}"  # the schema's $id, from the answer to its POST
DEFINITION = "mixpanelEvent"
# AEP's standard namespaces: every organisation has them, a POST would fail.
STANDARD_NAMESPACES = frozenset({"ECID", "Email", "Phone", "Email_LC_SHA256", "Phone_SHA256", "Phone_E.164", "AAID", "GAID", "IDFA", "AdCloud", "TNTID"})
AUTHENTICATED_STATES = ("ambiguous", "authenticated", "loggedOut")
NAMESPACE_INFO = {  # identity key -> (namespace name, idType, description)
    "distinct_id": ("Mixpanel distinct ID", "CROSS_DEVICE", "Mixpanel's distinct_id: the person, across devices."),
    "device_id": ("Mixpanel device ID", "DEVICE", "Mixpanel's $device_id: an anonymous device or browser."),
    "user_id": ("Mixpanel user ID", "CROSS_DEVICE", "Mixpanel's $user_id: the logged-in user's id."),
}


def field_definition(field: Field) -> Dict[str, Any]:
    definition: Dict[str, Any] = {"title": field.title, "description": field.description, "type": field.xdm_type}
    if field.format:
        definition["format"] = field.format
    if field.xdm_type == "integer":  # with this range the Schema Registry makes it a long
        definition.update(minimum=-XDM_LONG_MAX, maximum=XDM_LONG_MAX)
    return definition


def tenant_object(settings: XdmSettings) -> Dict[str, Any]:
    """The `_<tenant>` object as the field group declares it: every field, then the `properties` map."""
    properties = {field.name: field_definition(field) for field in settings.all_fields}
    properties[PROPERTIES_FIELD] = {
        "title": "Other Mixpanel properties",
        "description": "Every other property of the event under its original name; values that are not strings as compact JSON text.",
        "type": "object",
        "meta:xdmType": "map",
        "additionalProperties": {"type": "string"},
    }
    return {"title": "Mixpanel event", "type": "object", "properties": properties}


def identity_namespaces(settings: XdmSettings) -> List[Dict[str, Any]]:
    """A custom namespace for each configured identity, except AEP's standard ones (Email, ECID...), which exist already."""
    payloads, seen = [], set()
    for key, code in settings.namespaces.items():
        if not code or code in STANDARD_NAMESPACES or code in seen:
            continue
        seen.add(code)
        name, id_type, description = NAMESPACE_INFO[key]
        payloads.append({"name": name if code == DEFAULT_NAMESPACES[key] else code, "code": code, "description": description, "idType": id_type})
    return payloads


def field_group(settings: XdmSettings) -> Dict[str, Any]:
    return tenant_field_group(settings, f"Mixpanel events ({settings.tenant_key})",
                              "Mixpanel raw events as source-mixpanel-aep writes them: AEP's Mixpanel source fields, "
                              "promoted properties, and every other property in a map.", EXPERIENCE_EVENT, DEFINITION, tenant_object(settings))


def tenant_field_group(settings: XdmSettings, title: str, description: str, extends: str, definition: str, tenant: Dict[str, Any]) -> Dict[str, Any]:
    """A field group of one definition holding the `_<tenant>` object, for the class `extends` (events' or profiles')."""
    return {
        "title": title,
        "description": description,
        "type": "object",
        "meta:intendedToExtend": [extends],
        "definitions": {definition: {"properties": {settings.tenant_key: tenant}}},
        "allOf": [{"$ref": f"#/definitions/{definition}"}],
    }


def schema(settings: XdmSettings) -> Dict[str, Any]:
    return {
        "title": "Mixpanel events",
        "description": "XDM ExperienceEvents from source-mixpanel-aep.",
        "type": "object",
        "allOf": [{"$ref": EXPERIENCE_EVENT}, {"$ref": IDENTITY_MAP_FIELD_GROUP}, {"$ref": FIELD_GROUP_ID}],
    }


def identity_descriptor(settings: XdmSettings, schema_id: str = SCHEMA_ID) -> Dict[str, Any] | None:
    """`_<tenant>.distinct_id` as the primary identity of schema `schema_id` (events', or profiles'); None when distinct_id has no namespace."""
    code = settings.namespaces.get("distinct_id")
    if not code:
        return None
    return {
        "@type": "xdm:descriptorIdentity",
        "xdm:sourceSchema": schema_id,
        "xdm:sourceVersion": 1,
        "xdm:sourceProperty": f"/{settings.tenant_key}/distinct_id",
        "xdm:namespace": code,
        "xdm:property": "xdm:code",
        "xdm:isPrimary": True,
    }


def all_payloads(settings: XdmSettings) -> Dict[str, Any]:
    """Everything to create in AEP, in the order it must be created."""
    return {
        "identity_namespaces": identity_namespaces(settings),
        "field_group": field_group(settings),
        "schema": schema(settings),
        "identity_descriptor": identity_descriptor(settings),
    }


# --- the Airbyte stream schema (discover) ---------------------------------------------------------------
def json_schema_of(definition: Dict[str, Any]) -> Dict[str, Any]:
    """A field group definition as plain JSON schema: Schema Registry's `meta:`/`title` keys dropped, no extra keys allowed."""
    plain = {key: copy.deepcopy(value) for key, value in definition.items() if not key.startswith("meta:") and key != "title"}
    if "properties" in plain:
        plain["properties"] = {name: json_schema_of(child) for name, child in plain["properties"].items()}
        plain["additionalProperties"] = False
    return plain


IDENTITY_MAP_SCHEMA: Dict[str, Any] = {
    "type": "object",
    "description": "Identity namespace code -> the event's identities in it.",
    "additionalProperties": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["id"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string", "minLength": 1},
                "authenticatedState": {"type": "string", "enum": list(AUTHENTICATED_STATES)},
                "primary": {"type": "boolean"},
            },
        },
    },
}


def record_json_schema(settings: XdmSettings) -> Dict[str, Any]:
    """The JSON schema of an XDM record (what `discover` returns): ExperienceEvent's fields + the tenant object."""
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Mixpanel raw event as an XDM ExperienceEvent",
        "type": "object",
        "additionalProperties": False,
        "required": ["_id", "timestamp", "eventType", settings.tenant_key],
        "properties": {
            "_id": {"type": "string", "minLength": 1, "pattern": "^[^:]+$", "description": "XDM _id: the flat record's _id."},
            "timestamp": {"type": "string", "format": "date-time", "airbyte_type": "timestamp_with_timezone",
                          "description": "XDM timestamp: the true UTC instant, ISO 8601 with milliseconds."},
            "eventType": {"type": "string", "minLength": 1, "description": "The Mixpanel event's name."},
            "identityMap": IDENTITY_MAP_SCHEMA,
            settings.tenant_key: json_schema_of(tenant_object(settings)),
        },
    }
