"""The AEP payloads (xdm_payloads), the schema command, and the validator the XDM tests rely on.

The validator (unit_tests/xdm_validator.py) is what every XDM record in the tests is checked
with, so each rule it enforces is broken here on purpose once, to prove it can fail.
"""

from __future__ import annotations

import copy
import json

import pytest
from jsonschema import Draft7Validator

from source_mixpanel_aep.aep import command as xdm_command
from source_mixpanel_aep.records.mapping import to_record
from source_mixpanel_aep.records.xdm import AEP_FIELDS, DEFAULT_NAMESPACES, XdmSettings, promoted_fields, record_builder
from source_mixpanel_aep.records.xdm_payloads import all_payloads, field_group, identity_descriptor, identity_namespaces, record_json_schema
from source_mixpanel_aep.records.xdm_profile_payloads import profile_payloads
from unit_tests.xdm_validator import XdmValidator

FIELDS = {"$browser": "string", "$screen_width": "integer", "price": "number", "is_logged_in": "boolean"}
SETTINGS = XdmSettings("acme", dict(DEFAULT_NAMESPACES), promoted_fields(FIELDS))
RAW = {"event": "Sign up", "properties": {
    "time": 1714521636123, "distinct_id": "u1", "$device_id": "d1", "$user_id": "u1", "$insert_id": "i1", "$import": True,
    "$mp_api_timestamp_ms": 1714521636200, "$browser": "Chrome", "$screen_width": 412, "price": 9.5, "is_logged_in": True, "tags": ["a"],
}}


def good_record():
    return record_builder(SETTINGS)(to_record(copy.deepcopy(RAW)))


def test_the_field_group_declares_every_field_of_the_records_with_its_type():
    declared = field_group(SETTINGS)["definitions"]["mixpanelEvent"]["properties"]["_acme"]["properties"]
    expected = {field.name: field.xdm_type for field in AEP_FIELDS} | {"browser": "string", "screen_width": "integer", "price": "number", "is_logged_in": "boolean"}
    assert {name: node["type"] for name, node in declared.items() if name != "properties"} == expected
    assert declared["properties"]["meta:xdmType"] == "map" and declared["properties"]["additionalProperties"] == {"type": "string"}
    record = good_record()
    assert set(record["_acme"]) <= set(declared)
    assert set(declared) - set(record["_acme"]) == {"item_id", "item_name", "item_price", "mp_processing_time_ms", "mp_api_endpoint"}  # absent from RAW


def test_the_discover_schema_and_the_field_group_validator_accept_the_same_record():
    record = good_record()
    XdmValidator(field_group(SETTINGS)).check(record)
    assert not list(Draft7Validator(record_json_schema(SETTINGS)).iter_errors(record))


def test_the_schema_extends_experience_event_with_identity_map_and_the_field_group_and_the_descriptor_names_distinct_id():
    payloads = all_payloads(SETTINGS)
    assert [part["$ref"] for part in payloads["schema"]["allOf"]] == [
        "https://ns.adobe.com/xdm/context/experienceevent", "https://ns.adobe.com/xdm/context/identitymap", "{{FIELD_GROUP_ID}}"]
    descriptor = payloads["identity_descriptor"]
    assert (descriptor["xdm:sourceProperty"], descriptor["xdm:namespace"], descriptor["xdm:isPrimary"]) == ("/_acme/distinct_id", "MixpanelDistinctId", True)
    assert descriptor["xdm:sourceSchema"] == "{{SCHEMA_ID}}"
    assert [ns["code"] for ns in payloads["identity_namespaces"]] == ["MixpanelDistinctId", "MixpanelDeviceId", "MixpanelUserId"]


@pytest.mark.parametrize(
    "namespaces, codes, descriptor",
    [
        pytest.param({"distinct_id": "Email"}, ["MixpanelDeviceId", "MixpanelUserId"], "Email", id="a standard namespace is not created"),
        pytest.param({"distinct_id": None}, ["MixpanelDeviceId", "MixpanelUserId"], None, id="no distinct_id namespace: no descriptor"),
        pytest.param({"device_id": "Acme", "user_id": "Acme"}, ["MixpanelDistinctId", "Acme"], "MixpanelDistinctId", id="a shared custom code once"),
    ],
)
def test_namespaces_and_descriptor_follow_the_config(namespaces, codes, descriptor):
    chosen = XdmSettings("acme", {**DEFAULT_NAMESPACES, **namespaces})
    assert [ns["code"] for ns in identity_namespaces(chosen)] == codes
    assert (identity_descriptor(chosen) or {}).get("xdm:namespace") == descriptor


# --- the validator fails on each rule broken on purpose ---------------------------------------------
def _set(path, value):
    def breaker(record, group):
        node = record
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return breaker


def _declare(name, definition):
    def breaker(record, group):
        group["definitions"]["mixpanelEvent"]["properties"]["_acme"]["properties"][name] = definition
        record["_acme"][name] = "x" if definition["type"] == "string" else 1
    return breaker


@pytest.mark.parametrize(
    "break_it, complaint",
    [
        pytest.param(_set(["_acme", "browser"], None), "null", id="a null"),
        pytest.param(_set(["_acme", "properties", "tags"], None), "null", id="a null in the map"),
        pytest.param(_set(["_acme", "properties", "n"], 5), "not a string", id="a map value that is not a string"),
        pytest.param(_set(["_acme", "screen_width"], 2**53), "long range", id="an integer beyond XDM's long"),
        pytest.param(_set(["_acme", "screen_width"], "412"), "not of type 'integer'", id="a typed field of the wrong type"),
        pytest.param(_declare("$browser", {"type": "string"}), "field name", id="a field name with a dollar"),
        pytest.param(_declare("_private", {"type": "string"}), "field name", id="a field name with a leading underscore"),
        pytest.param(_declare("a.b", {"type": "string"}), "field name", id="a field name with a dot"),
        pytest.param(_set(["_acme", "undeclared"], "x"), "Additional properties", id="a field the field group does not declare"),
        pytest.param(_set(["extra"], "x"), "Additional properties", id="a top-level key ExperienceEvent does not have"),
        pytest.param(_set(["_id"], "a:b"), "colon", id="a colon in _id"),
        pytest.param(lambda record, group: record.pop("_id"), "'_id' is a required property", id="no _id"),
        pytest.param(_set(["timestamp"], "2024-05-01T00:00:36+02:00"), "UTC ISO 8601", id="a timestamp not in UTC"),
        pytest.param(_set(["timestamp"], "2024-05-01T00:00:36Z"), "milliseconds", id="a timestamp without milliseconds"),
        pytest.param(_set(["identityMap", "MixpanelUserId", 0, "primary"], True), "primary identities", id="two primary identities"),
        pytest.param(_set(["identityMap", "MixpanelUserId", 0, "id"], "Anonymous"), "Identity Service blocks", id="a blocked identity value"),
        pytest.param(_set(["identityMap", "MixpanelUserId", 0, "id"], "x" * 1025), "Identity Service blocks", id="an id over 1,024 characters"),
        pytest.param(_set(["identityMap", "Many"], [{"id": f"i{n}"} for n in range(20)]), "AEP takes 20 per record", id="over 20 identities"),
        pytest.param(_set(["identityMap", "MixpanelUserId", 0, "id"], ""), "non-empty", id="an empty identity id"),
        pytest.param(_set(["identityMap", "MixpanelUserId", 0, "authenticatedState"], "yes"), "is not one of", id="an unknown authenticatedState"),
    ],
)
def test_the_validator_fails_on_each_broken_rule(break_it, complaint):
    record, group = good_record(), field_group(SETTINGS)
    assert XdmValidator(group).errors(record) == []
    break_it(record, group)
    errors = XdmValidator(group).errors(record)
    assert any(complaint in error for error in errors), errors


def test_the_validator_refuses_a_map_of_anything_but_strings_or_integers():
    group = field_group(SETTINGS)
    group["definitions"]["mixpanelEvent"]["properties"]["_acme"]["properties"]["properties"]["additionalProperties"] = {"type": "object"}
    with pytest.raises(AssertionError, match="strings or integers"):
        XdmValidator(group)


# --- the command ------------------------------------------------------------------------------------
def test_given_a_connector_config_then_the_command_prints_the_payloads_of_the_same_definitions(tmp_path, capsys):
    config = {"credentials": {"auth_type": "project_secret", "api_secret": "not-a-real-secret"}, "xdm_tenant_id": "_acme", "xdm_fields": FIELDS}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    assert xdm_command.main(["schema", "--config", str(path)]) == 0
    assert json.loads(capsys.readouterr().out) == {**all_payloads(SETTINGS), **profile_payloads(SETTINGS)}  # events, then profiles
    assert xdm_command.main(["schema", "--config", str(path), "--part", "field_group"]) == 0
    assert json.loads(capsys.readouterr().out) == field_group(SETTINGS)


@pytest.mark.parametrize(
    "overrides, field",
    [
        pytest.param({}, "xdm_tenant_id", id="no tenant"),
        pytest.param({"xdm_tenant_id": "acme", "xdm_fields": {"x": "date"}}, "xdm_fields.x", id="an unsupported type"),
    ],
)
def test_given_a_bad_config_then_the_command_names_the_field_and_exits_1(tmp_path, capsys, overrides, field):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"credentials": {"auth_type": "project_secret", "api_secret": "not-a-real-secret"}, **overrides}))
    assert xdm_command.main(["schema", "--config", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and f"Config field '{field}'" in captured.err and "Traceback" not in captured.err
