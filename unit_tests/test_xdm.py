"""Flat record -> XDM ExperienceEvent (source_mixpanel_aep.records.xdm): pure, table-driven, every record validated as AEP would."""

from __future__ import annotations

import copy
import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from source_mixpanel_aep.records.mapping import PROMOTED, to_record
from source_mixpanel_aep.records.xdm import (
    AEP_FIELDS,
    DEFAULT_NAMESPACES,
    XdmSettings,
    add_identity,
    field_name,
    promoted_fields,
    record_builder,
)
from source_mixpanel_aep.records.xdm_payloads import field_group
from unit_tests.xdm_validator import XdmValidator

TENANT = "extconndev"
TIME_MS = 1_714_521_636_123  # 2024-05-01T00:00:36.123Z
BIG = 2**53  # one past XDM's long range


def settings(xdm_fields=None, **namespaces):
    return XdmSettings(TENANT, {**DEFAULT_NAMESPACES, **namespaces}, promoted_fields(xdm_fields or {}))


def xdm(properties, *, name="Sign up", xdm_fields=None, namespaces=None, **map_kwargs):
    """The XDM record of one raw event, checked against the field group generated for the same settings."""
    chosen = settings(xdm_fields, **(namespaces or {}))
    raw = {"event": name, "properties": {"time": TIME_MS, **properties}}
    flat = to_record(json.loads(json.dumps(raw)), **map_kwargs)
    record = record_builder(chosen)(copy.deepcopy(flat))
    XdmValidator(field_group(chosen)).check(record)
    assert record["_id"] == flat["_id"]  # the same id as the flat record, by construction
    return record


def tenant(record):
    return record["_" + TENANT]


def test_given_aeps_sample_event_then_the_xdm_record_is_exactly_the_documented_shape():
    record = xdm({
        "distinct_id": "test@test.com", "$insert_id": "935d87b1-00cd-41b7-be34-b9d98dd08b70", "$mp_api_endpoint": "api.mixpanel.com",
        "$mp_api_timestamp_ms": 1652850348643, "item_id": "29066", "item_name": "charger", "item_price": "800.00",
        "mp_processing_time_ms": 1652850348702, "$browser": "Chrome", "$screen_width": 412,
    }, name="Items purchased")
    assert record == {
        "_id": "0e936c54b5622dd99ecb1b667fa705b2",  # blake2b-128 of ["Items purchased","test@test.com",1714521636123,"935d87b1-..."]
        "timestamp": "2024-05-01T00:00:36.123Z",
        "eventType": "Items purchased",
        "identityMap": {"MixpanelDistinctId": [{"id": "test@test.com", "authenticatedState": "ambiguous", "primary": True}]},
        "_extconndev": {
            "distinct_id": "test@test.com", "event_name": "Items purchased", "insert_id": "935d87b1-00cd-41b7-be34-b9d98dd08b70",
            "item_id": "29066", "item_name": "charger", "item_price": "800.00", "mp_api_endpoint": "api.mixpanel.com",
            "mp_api_timestamp_ms": 1652850348643, "mp_processing_time_ms": 1652850348702, "time": 1714521636,
            "properties": {"$browser": "Chrome", "$screen_width": "412"},
        },
    }


# --- identities -------------------------------------------------------------------------------------
ALL_IDS = {"distinct_id": "u1", "$device_id": "$device:abc", "$user_id": "user-1"}


@pytest.mark.parametrize(
    "properties, namespaces, expected",
    [
        pytest.param(ALL_IDS, {}, {
            "MixpanelDistinctId": [{"id": "u1", "authenticatedState": "ambiguous", "primary": True}],
            "MixpanelDeviceId": [{"id": "$device:abc", "authenticatedState": "ambiguous", "primary": False}],
            "MixpanelUserId": [{"id": "user-1", "authenticatedState": "authenticated", "primary": False}],
        }, id="all three ids, default namespaces"),
        pytest.param({"distinct_id": "u1"}, {}, {"MixpanelDistinctId": [{"id": "u1", "authenticatedState": "ambiguous", "primary": True}]},
                     id="only distinct_id"),
        pytest.param({"$device_id": "d1"}, {}, {"MixpanelDeviceId": [{"id": "d1", "authenticatedState": "ambiguous", "primary": False}]},
                     id="an anonymous event: device only, no primary"),
        pytest.param(ALL_IDS, {"device_id": None, "user_id": None}, {
            "MixpanelDistinctId": [{"id": "u1", "authenticatedState": "ambiguous", "primary": True}],
        }, id="namespaces set to null leave those identities out"),
        pytest.param(ALL_IDS, {"distinct_id": "Email", "user_id": "Email"}, {
            "Email": [{"id": "u1", "authenticatedState": "ambiguous", "primary": True},
                      {"id": "user-1", "authenticatedState": "authenticated", "primary": False}],
            "MixpanelDeviceId": [{"id": "$device:abc", "authenticatedState": "ambiguous", "primary": False}],
        }, id="two ids in one namespace share its list"),
        pytest.param({"distinct_id": "same", "$user_id": "same"}, {"user_id": "MixpanelDistinctId"}, {
            "MixpanelDistinctId": [{"id": "same", "authenticatedState": "ambiguous", "primary": True}],
        }, id="the same id twice in one namespace is one item"),
        pytest.param({"distinct_id": 42, "$user_id": None, "$device_id": ["a"]}, {}, {
            "MixpanelDistinctId": [{"id": "42", "authenticatedState": "ambiguous", "primary": True}],
        }, id="a numeric id as text; null and list ids are no identity"),
        pytest.param({"distinct_id": "", "$device_id": ""}, {}, None, id="empty ids: no identityMap at all"),
    ],
)
def test_identity_map(properties, namespaces, expected):
    assert xdm(properties, namespaces=namespaces).get("identityMap") == expected


def item(id_, state="ambiguous", primary=False):
    return {"id": id_, "authenticatedState": state, "primary": primary}


@pytest.mark.parametrize(
    "properties, namespaces, expected",
    [
        pytest.param(ALL_IDS, {"device_id": "MixpanelDistinctId"}, [
            ("MixpanelDistinctId", [item("u1", primary=True), item("$device:abc")]),
            ("MixpanelUserId", [item("user-1", "authenticated")]),
        ], id="device in distinct_id's namespace"),
        pytest.param(ALL_IDS, {"user_id": "MixpanelDeviceId"}, [
            ("MixpanelDistinctId", [item("u1", primary=True)]),
            ("MixpanelDeviceId", [item("$device:abc"), item("user-1", "authenticated")]),
        ], id="user in device_id's namespace"),
        pytest.param(ALL_IDS, {"distinct_id": "X", "device_id": "X", "user_id": "X"}, [
            ("X", [item("u1", primary=True), item("$device:abc"), item("user-1", "authenticated")]),
        ], id="all three in one namespace, in that order"),
        pytest.param({"$device_id": "d1", "$user_id": "d1"}, {"device_id": "MixpanelDistinctId", "user_id": "MixpanelDistinctId"}, [
            ("MixpanelDistinctId", [item("d1")]),
        ], id="no distinct_id: the shared list starts with the device, the same id once"),
    ],
)
def test_given_shared_namespaces_then_the_lists_are_shared_in_identity_order(properties, namespaces, expected):
    assert list(xdm(properties, namespaces=namespaces)["identityMap"].items()) == expected


def test_given_identities_then_they_also_stay_in_properties_and_distinct_id_in_its_field():
    record = xdm(ALL_IDS)
    assert tenant(record)["distinct_id"] == "u1"
    assert tenant(record)["properties"] == {"$device_id": "$device:abc", "$user_id": "user-1"}


# --- promoted xdm_fields ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "xdm_type, value, field_value, left_in_properties",
    [
        pytest.param("string", "Chrome", "Chrome", None, id="string as is"),
        pytest.param("string", 107, "107", "107", id="string from an integer: converted, original kept"),
        pytest.param("string", 1.5, "1.5", "1.5", id="string from a float"),
        pytest.param("string", True, "true", "true", id="string from a boolean"),
        pytest.param("string", ["a", "b"], None, '["a","b"]', id="string from a list: does not convert"),
        pytest.param("integer", 412, 412, None, id="integer as is"),
        pytest.param("integer", "412", 412, "412", id="integer from its text"),
        pytest.param("integer", 412.0, 412, "412.0", id="integer from a whole float"),
        pytest.param("integer", 412.5, None, "412.5", id="integer from a fraction: does not convert"),
        pytest.param("integer", "wide", None, "wide", id="integer from words: does not convert"),
        pytest.param("integer", True, None, "true", id="integer from a boolean: does not convert"),
        pytest.param("integer", BIG, None, str(BIG), id="integer beyond XDM's long: stays as text"),
        pytest.param("integer", -(BIG - 1), -(BIG - 1), None, id="integer at the long's lower edge"),
        pytest.param("number", 19.99, 19.99, None, id="number as is"),
        pytest.param("number", 20, 20, None, id="number from an integer, as is"),
        pytest.param("number", "19.99", 19.99, "19.99", id="number from its text"),
        pytest.param("number", "nan", None, "nan", id="number from 'nan': does not convert"),
        pytest.param("number", {"a": 1}, None, '{"a":1}', id="number from an object: does not convert"),
        pytest.param("boolean", False, False, None, id="boolean as is"),
        pytest.param("boolean", "TRUE ", True, "TRUE ", id="boolean from its text"),
        pytest.param("boolean", 1, None, "1", id="boolean from 1: does not convert"),
    ],
)
def test_promoted_field(xdm_type, value, field_value, left_in_properties):
    fields = tenant(xdm({"plan": value}, xdm_fields={"plan": xdm_type}))
    assert fields.get("plan") == field_value
    assert type(fields.get("plan")) is type(field_value)
    assert fields.get("properties", {}).get("plan") == left_in_properties


def test_given_a_promoted_property_that_is_null_or_absent_then_neither_field_nor_map_has_it():
    assert "plan" not in tenant(xdm({"plan": None}, xdm_fields={"plan": "string"}))
    assert "plan" not in tenant(xdm({}, xdm_fields={"plan": "string"}))


@pytest.mark.parametrize(
    "property_name, expected",
    [
        pytest.param("$browser", "browser", id="leading dollar dropped"),
        pytest.param("Plan type", "Plan_type", id="space"),
        pytest.param("utm.source", "utm_source", id="dot"),
        pytest.param("__private__", "private", id="leading and trailing underscores"),
        pytest.param("prix (€)", "prix", id="non-ASCII and punctuation"),
        pytest.param("$$$", "property", id="nothing left"),
        pytest.param("seats-2024", "seats-2024", id="hyphen and digits kept"),
    ],
)
def test_field_name(property_name, expected):
    assert field_name(property_name) == expected


def test_given_names_that_clash_then_suffixes_follow_property_name_order_whatever_the_config_order():
    wanted = {"browser": "string", "$browser": "string", "event_name": "string", "properties": "string", "$properties": "string"}
    for order in (list(wanted), sorted(wanted, reverse=True)):
        names = {field.source: field.name for field in promoted_fields({key: wanted[key] for key in order})}
        assert names == {"$browser": "browser", "browser": "browser_2", "event_name": "event_name_2",
                         "$properties": "properties_2", "properties": "properties_3"}


def test_given_clashing_promoted_properties_then_each_lands_in_its_own_field():
    fields = tenant(xdm({"browser": "a", "$browser": "b", "event_name": "c"}, xdm_fields={"browser": "string", "$browser": "string", "event_name": "string"}))
    assert (fields["browser"], fields["browser_2"], fields["event_name_2"], fields["event_name"]) == ("b", "a", "c", "Sign up")


# --- the properties map -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, text",
    [
        pytest.param("x", "x", id="string"),
        pytest.param(107, "107", id="integer"),
        pytest.param(-1.25, "-1.25", id="float"),
        pytest.param(True, "true", id="boolean"),
        pytest.param(["a", "b"], '["a","b"]', id="list, compact"),
        pytest.param({"b": {"c": [1, None]}}, '{"b":{"c":[1,null]}}', id="nested object, null inside the text"),
        pytest.param(2**70, str(2**70), id="integer beyond 64 bits, exact"),
        pytest.param([2**70], f"[{2**70}]", id="huge integer nested"),
        pytest.param("日本 😀", "日本 😀", id="unicode as is"),
    ],
)
def test_properties_map_values_are_text(value, text):
    assert tenant(xdm({"odd": value}))["properties"] == {"odd": text}


@pytest.mark.parametrize("name", ["$browser", "a.b", "with space", "", "日本", "_x", "1st"])
def test_given_odd_property_names_then_the_map_keeps_them_as_they_are(name):
    assert tenant(xdm({name: "v"}))["properties"] == {name: "v"}


def test_given_a_null_property_then_it_is_left_out_and_an_event_with_no_other_property_has_no_map():
    assert "properties" not in tenant(xdm({"utm_source": None}))


def test_given_a_deeply_nested_value_then_it_is_one_line_of_json_text():
    deep = "leaf"
    for _ in range(300):  # deeper than orjson serialises
        deep = [deep]
    assert tenant(xdm({"deep": deep}))["properties"]["deep"] == "[" * 300 + '"leaf"' + "]" * 300


# --- AEP's fields: conversions and ranges -----------------------------------------------------------
@pytest.mark.parametrize(
    "properties, fields, kept",
    [
        pytest.param({"item_price": 800.0}, {"item_price": "800.0"}, {"item_price": "800.0"}, id="number item_price as text, original kept"),
        pytest.param({"$import": True}, {"import": True}, {}, id="import boolean"),
        pytest.param({"$mp_api_timestamp_ms": BIG}, {}, {"$mp_api_timestamp_ms": str(BIG)}, id="a long beyond XDM's range goes to properties"),
        pytest.param({"mp_processing_time_ms": 2**70}, {}, {"mp_processing_time_ms": str(2**70)}, id="beyond 64 bits too"),
        pytest.param({"$mp_api_timestamp_ms": BIG, "mp_processing_time_ms": -BIG}, {},
                     {"$mp_api_timestamp_ms": str(BIG), "mp_processing_time_ms": str(-BIG)}, id="both longs beyond the range, either side"),
        pytest.param({"$mp_api_timestamp_ms": BIG - 1, "mp_processing_time_ms": -(BIG - 1)},
                     {"mp_api_timestamp_ms": BIG - 1, "mp_processing_time_ms": -(BIG - 1)}, {}, id="both longs at the range's edges"),
        pytest.param({"$mp_api_timestamp_ms": "17"}, {"mp_api_timestamp_ms": 17}, {"$mp_api_timestamp_ms": "17"}, id="converted integer, original text kept"),
        pytest.param({"distinct_id": ["a"]}, {}, {"distinct_id": '["a"]'}, id="a list distinct_id: no field, kept as text"),
    ],
)
def test_aep_fields(properties, fields, kept):
    record = tenant(xdm(properties))
    aep_only = {key: value for key, value in record.items() if key not in ("event_name", "time", "properties")}
    assert aep_only == fields
    assert record.get("properties", {}) == kept


def test_given_a_legacy_local_time_then_timestamp_and_time_are_the_true_utc_instant():
    wall = int(dt.datetime(2024, 5, 1, 17, 0, 0, 250).replace(tzinfo=dt.timezone.utc).timestamp() * 1000)  # 17:00:00.000 in LA
    record = xdm({"time": wall}, source_timezone=ZoneInfo("America/Los_Angeles"))
    assert record["timestamp"] == "2024-05-02T00:00:00.000Z"  # PDT is UTC-7
    assert tenant(record)["time"] == 1714608000


def test_given_legacy_seconds_then_timestamp_has_zero_milliseconds():
    assert xdm({"time": 1714521636}, time_in_ms=False)["timestamp"] == "2024-05-01T00:00:36.000Z"


def test_given_no_insert_id_then_id_is_the_flat_records_hash_without_colons():
    record = xdm({"distinct_id": "u:1"})
    assert ":" not in record["_id"] and len(record["_id"]) >= 16


def test_every_flat_column_is_one_of_aeps_fields_so_the_tenant_object_can_be_the_flat_record_itself():
    """record_builder reuses the flat record as the tenant object without looking at its keys per event: a column the
    flat mapping gains one day must be declared in AEP_FIELDS (or kept out in record_builder), and this fails until it is."""
    every_column = {raw: "1" for raw in PROMOTED} | {"$import": True, "$mp_api_timestamp_ms": 1, "mp_processing_time_ms": 2}
    flat = to_record({"event": "e", "properties": {"time": TIME_MS, **every_column, "other": "x"}})
    assert set(flat) - {"_id", "timestamp", "properties"} == {field.name for field in AEP_FIELDS}


# --- AEP's identity guardrails ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "distinct_id",
    [
        pytest.param("null", id="the text null"),
        pytest.param("NULL", id="upper case"),
        pytest.param("Anonymous", id="anonymous, any case"),
        pytest.param("invalid", id="invalid"),
        pytest.param(" null ", id="blanks around a blocked value"),
        pytest.param("   ", id="only blanks"),
        pytest.param("x" * 1025, id="longer than 1,024 characters"),
    ],
)
def test_given_a_distinct_id_aep_blocks_then_it_is_no_identity_and_leaves_the_primary_field_for_properties(distinct_id):
    record = xdm({"distinct_id": distinct_id, "$device_id": "d-1"})
    assert record["identityMap"] == {"MixpanelDeviceId": [item("d-1")]}
    assert "distinct_id" not in tenant(record)  # the descriptor makes this field the primary identity
    assert tenant(record)["properties"]["distinct_id"] == distinct_id


@pytest.mark.parametrize(
    "properties, namespaces, expected",
    [
        pytest.param({"distinct_id": "u1", "$device_id": "anonymous", "$user_id": "null"}, {}, {"MixpanelDistinctId": [item("u1", primary=True)]},
                     id="blocked device and user ids"),
        pytest.param({"distinct_id": "u1", "$device_id": "d" * 1025}, {}, {"MixpanelDistinctId": [item("u1", primary=True)]},
                     id="a device id over 1,024 characters"),
        pytest.param({"distinct_id": "x" * 1024}, {}, {"MixpanelDistinctId": [item("x" * 1024, primary=True)]}, id="exactly 1,024 characters is taken"),
        pytest.param({"distinct_id": "nullable", "$user_id": "anon"}, {}, {"MixpanelDistinctId": [item("nullable", primary=True)],
                                                                           "MixpanelUserId": [item("anon", "authenticated")]},
                     id="a blocked word inside a longer id is fine"),
        pytest.param({"distinct_id": "u1", "$device_id": "invalid", "$user_id": "Null"},
                     {"device_id": "MixpanelDistinctId", "user_id": "MixpanelDistinctId"}, {"MixpanelDistinctId": [item("u1", primary=True)]},
                     id="ids sharing distinct_id's namespace: still refused"),
    ],
)
def test_given_device_or_user_ids_aep_blocks_then_they_stay_in_properties_only(properties, namespaces, expected):
    record = xdm(properties, namespaces=namespaces)
    assert record["identityMap"] == expected
    for key in ("$device_id", "$user_id"):
        if key in properties:
            assert tenant(record)["properties"][key] == properties[key]


def test_given_a_record_with_20_identities_then_a_21st_is_refused_and_the_caller_is_told():
    identity_map = {"X": [item(f"id-{index}") for index in range(20)]}
    assert add_identity(identity_map, "Y", "one-more", "ambiguous", False) is False
    assert "Y" not in identity_map and sum(map(len, identity_map.values())) == 20
    assert add_identity({}, "Y", "null", "ambiguous", False) is False
    assert add_identity({}, "Y", "ok-id", "ambiguous", False) is True


def test_the_vocabulary_config_checks_against_is_the_records_own():
    """config/ reads records/vocabulary.py (a leaf) instead of the XDM code: its tables must be what the records use."""
    from source_mixpanel_aep.records import vocabulary
    from source_mixpanel_aep.records.xdm import CONVERTERS

    assert vocabulary.PROMOTED_PROPERTIES == tuple(PROMOTED)
    assert vocabulary.TAKEN_PROPERTIES == frozenset(PROMOTED) | {"time"}
    assert set(vocabulary.XDM_TYPES) == set(CONVERTERS)
    assert set(vocabulary.IDENTITY_KEYS) == set(vocabulary.DEFAULT_NAMESPACES)
