"""The profile payloads (xdm_profile_payloads), the schema command's profile parts, and the validator's profile rules failing on purpose."""

from __future__ import annotations

import copy
import json

import pytest
from jsonschema import Draft7Validator

from source_mixpanel_aep.aep import command as xdm_command
from source_mixpanel_aep.records.people import to_profile
from source_mixpanel_aep.records.xdm import DEFAULT_NAMESPACES, XdmSettings
from source_mixpanel_aep.records.xdm_profile_payloads import (
    profile_field_group,
    profile_identity_descriptor,
    profile_payloads,
    profile_record_json_schema,
    profile_schema,
)
from source_mixpanel_aep.records.xdm_profiles import PROFILE_FIELDS, STANDARD_FIELDS, to_xdm_profile
from unit_tests.xdm_validator import XdmValidator

SETTINGS = XdmSettings("acme", dict(DEFAULT_NAMESPACES))
RESULT = {"$distinct_id": "u1", "$properties": {
    "$email": "ada@example.com", "$first_name": "Ada", "$last_name": "Lovelace", "$phone": "+44 20", "$city": "London", "$country_code": "GB",
    "$last_seen": "2024-05-01T09:00:00", "$created": "2023-01-02T03:04:05", "plan": "pro"}}


def good_record():
    return to_xdm_profile(to_profile(copy.deepcopy(RESULT)), SETTINGS)


def tenant_fields(group):
    return group["definitions"]["mixpanelProfile"]["properties"]["_acme"]["properties"]


def test_the_profile_field_group_extends_the_profile_class_and_declares_every_tenant_field_with_its_type():
    group = profile_field_group(SETTINGS)
    assert group["meta:intendedToExtend"] == ["https://ns.adobe.com/xdm/context/profile"]
    declared = tenant_fields(group)
    assert {name: (node["type"], node.get("format")) for name, node in declared.items() if name != "properties"} == {
        "distinct_id": ("string", None), "last_seen": ("string", "date-time"), "created": ("string", "date-time"), "timezone": ("string", None)}
    assert declared["properties"]["meta:xdmType"] == "map" and declared["properties"]["additionalProperties"] == {"type": "string"}
    assert set(good_record()["_acme"]) == {"distinct_id", "last_seen", "created", "properties"}  # no $timezone in RESULT
    assert [field.name for field in PROFILE_FIELDS] == [name for name in declared if name != "properties"]


def test_the_profile_schema_is_the_profile_class_identity_map_the_two_standard_field_groups_and_ours():
    assert [part["$ref"] for part in profile_schema(SETTINGS)["allOf"]] == [
        "https://ns.adobe.com/xdm/context/profile", "https://ns.adobe.com/xdm/context/identitymap",
        "https://ns.adobe.com/xdm/context/profile-person-details", "https://ns.adobe.com/xdm/context/profile-personal-details",
        "{{PROFILE_FIELD_GROUP_ID}}"]
    descriptor = profile_identity_descriptor(SETTINGS)
    assert (descriptor["xdm:sourceSchema"], descriptor["xdm:sourceProperty"], descriptor["xdm:namespace"], descriptor["xdm:isPrimary"]) == (
        "{{PROFILE_SCHEMA_ID}}", "/_acme/distinct_id", "MixpanelDistinctId", True)
    assert profile_identity_descriptor(XdmSettings("acme", {**DEFAULT_NAMESPACES, "distinct_id": None})) is None


def test_the_discover_schema_declares_each_standard_field_where_the_records_put_it():
    schema = profile_record_json_schema(SETTINGS)
    for field in STANDARD_FIELDS:
        node = schema
        for key in field.path:
            node = node["properties"][key]
        assert node["type"] == "string"
    assert schema["properties"]["homeAddress"]["properties"]["countryCode"]["pattern"] == "^[A-Z]{2}$"
    assert schema["required"] == ["_id", "_acme"] and schema["properties"]["_acme"]["required"] == ["distinct_id"]
    record = good_record()
    assert not list(Draft7Validator(schema).iter_errors(record))
    XdmValidator(profile_field_group(SETTINGS)).check(record)


# --- the validator fails on each profile rule broken on purpose ---------------------------------------
def _set(path, value):
    def breaker(record):
        node = record
        for key in path[:-1]:
            node = node[key] if isinstance(node, list) else node.setdefault(key, {})
        node[path[-1]] = value
    return breaker


@pytest.mark.parametrize(
    "break_it, complaint",
    [
        pytest.param(_set(["homeAddress", "countryCode"], "gb"), "does not match", id="a country code that is not ISO alpha-2"),
        pytest.param(_set(["personalEmail", "address"], "no-at-sign"), "is not a 'email'", id="an email address without @"),
        pytest.param(_set(["person", "name", "nickname"], "Ada"), "Additional properties", id="a person field Adobe does not have"),
        pytest.param(_set(["timestamp"], "2024-05-01T00:00:00.000Z"), "Additional properties", id="a timestamp: profiles have none"),
        pytest.param(_set(["last_seen"], "2024-05-01T00:00:00Z"), "Additional properties", id="a flat column at the top"),
        pytest.param(_set(["_acme", "properties", "n"], 5), "not a string", id="a map value that is not a string"),
        pytest.param(_set(["_acme", "timezone"], None), "null", id="a null"),
        pytest.param(_set(["identityMap", "Email", 0, "primary"], True), "primary identities", id="two primary identities"),
        pytest.param(_set(["_id"], "u1:2024"), "colon", id="a colon in _id"),
    ],
)
def test_the_validator_fails_on_each_broken_profile_rule(break_it, complaint):
    record, group = good_record(), profile_field_group(SETTINGS)
    assert XdmValidator(group).errors(record) == []
    break_it(record)
    errors = XdmValidator(group).errors(record)
    assert any(complaint in error for error in errors), errors


# --- the command --------------------------------------------------------------------------------------
def test_the_schema_command_prints_the_profile_parts_after_the_events_and_each_alone(tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"credentials": {"auth_type": "project_secret", "api_secret": "not-a-real-secret"}, "xdm_tenant_id": "acme"}))
    assert xdm_command.main(["schema", "--config", str(path)]) == 0
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert list(printed) == ["identity_namespaces", "field_group", "schema", "identity_descriptor",
                             "profile_field_group", "profile_schema", "profile_identity_descriptor"]
    assert {key: printed[key] for key in profile_payloads(SETTINGS)} == profile_payloads(SETTINGS)
    assert "{{PROFILE_FIELD_GROUP_ID}}" in captured.err and "{{PROFILE_SCHEMA_ID}}" in captured.err
    for part in ("profile_field_group", "profile_schema", "profile_identity_descriptor"):
        assert xdm_command.main(["schema", "--config", str(path), "--part", part]) == 0
        assert json.loads(capsys.readouterr().out) == profile_payloads(SETTINGS)[part]
