"""What a user POSTs to AEP once for XDM profiles, and the JSON schema `discover` shows for them.

Pure functions of `XdmSettings`, built from the same tables as the records (`xdm_profiles`): the
field group (the tenant object: distinct_id, last_seen, created, timezone and the `properties`
map), the schema (XDM Individual Profile class + IdentityMap + Demographic Details + Personal
Contact Details + that field group), the primary identity descriptor, and the Airbyte stream
schema. The identity namespaces are the events' (`xdm_payloads.identity_namespaces`): `Email` is
one of AEP's standard namespaces and is never created.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from .xdm import PROPERTIES_FIELD, XdmSettings
from .xdm_payloads import (
    IDENTITY_MAP_FIELD_GROUP,
    IDENTITY_MAP_SCHEMA,
    field_definition,
    identity_descriptor,
    json_schema_of,
    tenant_field_group,
)
from .xdm_profiles import PROFILE_FIELDS, STANDARD_FIELDS

PROFILE_CLASS = "https://ns.adobe.com/xdm/context/profile"
PERSON_DETAILS_FIELD_GROUP = "https://ns.adobe.com/xdm/context/profile-person-details"  # Demographic Details: person.name
PERSONAL_DETAILS_FIELD_GROUP = "https://ns.adobe.com/xdm/context/profile-personal-details"  # Personal Contact Details
PROFILE_FIELD_GROUP_ID = "{{PROFILE_FIELD_GROUP_ID}}"  # the profile field group's $id, from the answer to its POST
PROFILE_SCHEMA_ID = "{{PROFILE_SCHEMA_ID}}"  # the profile schema's $id, from the answer to its POST
PROFILE_DEFINITION = "mixpanelProfile"


def profile_tenant_object(settings: XdmSettings) -> Dict[str, Any]:
    """The `_<tenant>` object of profile records as the field group declares it: the typed fields, then the `properties` map."""
    properties = {field.name: field_definition(field) for field in PROFILE_FIELDS}
    properties[PROPERTIES_FIELD] = {
        "title": "Other Mixpanel profile properties",
        "description": "Every other profile property under its original name (also a reserved one XDM's standard field refused "
                       "or that had to be converted); values that are not strings as compact JSON text.",
        "type": "object",
        "meta:xdmType": "map",
        "additionalProperties": {"type": "string"},
    }
    return {"title": "Mixpanel profile", "type": "object", "properties": properties}


def profile_field_group(settings: XdmSettings) -> Dict[str, Any]:
    return tenant_field_group(settings, f"Mixpanel profiles ({settings.tenant_key})",
                              "Mixpanel user profiles as source-mixpanel-aep writes them: distinct_id, last_seen, created, timezone, "
                              "and every other property in a map (names, email, phone and address go to Adobe's standard field groups).",
                              PROFILE_CLASS, PROFILE_DEFINITION, profile_tenant_object(settings))


def profile_schema(settings: XdmSettings) -> Dict[str, Any]:
    return {
        "title": "Mixpanel profiles",
        "description": "XDM Individual Profiles from source-mixpanel-aep.",
        "type": "object",
        "allOf": [{"$ref": ref} for ref in (PROFILE_CLASS, IDENTITY_MAP_FIELD_GROUP, PERSON_DETAILS_FIELD_GROUP,
                                             PERSONAL_DETAILS_FIELD_GROUP, PROFILE_FIELD_GROUP_ID)],
    }


def profile_identity_descriptor(settings: XdmSettings) -> Optional[Dict[str, Any]]:
    """`_<tenant>.distinct_id` as the profile schema's primary identity; None when distinct_id has no namespace."""
    return identity_descriptor(settings, PROFILE_SCHEMA_ID)


def profile_payloads(settings: XdmSettings) -> Dict[str, Any]:
    """The profile parts to create in AEP, after the events' (the identity namespaces are shared), in order."""
    return {
        "profile_field_group": profile_field_group(settings),
        "profile_schema": profile_schema(settings),
        "profile_identity_descriptor": profile_identity_descriptor(settings),
    }


# --- the Airbyte stream schema (discover) ---------------------------------------------------------------
def standard_json_schema() -> Dict[str, Any]:
    """The standard field groups' fields that records use, as nested JSON schema objects, from STANDARD_FIELDS."""
    root: Dict[str, Any] = {"properties": {}}
    for field in STANDARD_FIELDS:
        node = root
        for key in field.path[:-1]:
            node = node["properties"].setdefault(key, {"type": "object", "additionalProperties": False, "properties": {}})
        node["properties"][field.path[-1]] = {"type": "string", "description": f"{field.title}: {field.source}.", **dict(field.constraint)}
    return root["properties"]


def profile_record_json_schema(settings: XdmSettings) -> Dict[str, Any]:
    """The JSON schema of an XDM profile record (what `discover` returns for `profiles` in xdm mode)."""
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Mixpanel user profile as an XDM Individual Profile",
        "type": "object",
        "additionalProperties": False,
        "required": ["_id", settings.tenant_key],
        "properties": {
            "_id": {"type": "string", "minLength": 1, "pattern": "^[^:]+$", "description": "XDM _id: a digest of the flat profile record."},
            "identityMap": {**IDENTITY_MAP_SCHEMA, "description": "Identity namespace code -> the profile's identities in it."},
            **standard_json_schema(),
            settings.tenant_key: {**json_schema_of(profile_tenant_object(settings)), "required": ["distinct_id"]},
        },
    }
