"""Flat profile -> XDM Individual Profile (source_mixpanel_aep.records.xdm_profiles): pure, table-driven, every record validated as AEP would."""

from __future__ import annotations

import copy
import json

import pytest
from jsonschema import Draft7Validator

from source_mixpanel_aep.records.people import to_profile
from source_mixpanel_aep.records.xdm import DEFAULT_NAMESPACES, XdmSettings
from source_mixpanel_aep.records.xdm_profile_payloads import profile_field_group, profile_record_json_schema
from source_mixpanel_aep.records.xdm_profiles import to_xdm_profile
from unit_tests.xdm_validator import XdmValidator

TENANT = "_acme"


def settings(**namespaces):
    return XdmSettings("acme", {**DEFAULT_NAMESPACES, **namespaces})


def xdm(properties, *, distinct_id="u1", namespaces=None):
    """The XDM record of one Engage result, checked against the generated field group and the discover schema."""
    chosen = settings(**(namespaces or {}))
    flat = to_profile(json.loads(json.dumps({"$distinct_id": distinct_id, "$properties": properties})))
    record = to_xdm_profile(copy.deepcopy(flat), chosen)
    XdmValidator(profile_field_group(chosen)).check(record)
    assert not [error.message for error in Draft7Validator(profile_record_json_schema(chosen)).iter_errors(record)]
    return record


PRIMARY_U1 = {"MixpanelDistinctId": [{"id": "u1", "authenticatedState": "ambiguous", "primary": True}]}


def test_given_a_profile_with_every_reserved_property_then_the_xdm_record_is_exactly_the_documented_shape():
    record = xdm({
        "$email": "ada@example.com", "$first_name": "Ada", "$last_name": "Lovelace", "$name": "Ada Lovelace", "$phone": "+44 20 7946 0000",
        "$city": "London", "$region": "England", "$country_code": "GB", "$timezone": "Europe/London",
        "$last_seen": "2024-05-01T09:00:00", "$created": "2023-01-02T03:04:05", "plan": "pro", "seats": 12, "$avatar": "https://example.com/a.png",
    })
    assert record == {
        "_id": record["_id"],
        "identityMap": {**PRIMARY_U1, "Email": [{"id": "ada@example.com", "authenticatedState": "ambiguous", "primary": False}]},
        "person": {"name": {"firstName": "Ada", "lastName": "Lovelace", "fullName": "Ada Lovelace"}},
        "personalEmail": {"address": "ada@example.com"},
        "mobilePhone": {"number": "+44 20 7946 0000"},
        "homeAddress": {"city": "London", "region": "England", "countryCode": "GB"},
        TENANT: {"distinct_id": "u1", "last_seen": "2024-05-01T09:00:00Z", "created": "2023-01-02T03:04:05Z", "timezone": "Europe/London",
                 "properties": {"plan": "pro", "seats": "12", "$avatar": "https://example.com/a.png"}},
    }
    assert len(record["_id"]) == 32 and ":" not in record["_id"]


@pytest.mark.parametrize(
    "properties, expected",
    [
        pytest.param({}, {"identityMap": PRIMARY_U1, TENANT: {"distinct_id": "u1"}}, id="no property at all: the id alone"),
        pytest.param({"$first_name": "Ada"}, {"identityMap": PRIMARY_U1, "person": {"name": {"firstName": "Ada"}}, TENANT: {"distinct_id": "u1"}},
                     id="one name part"),
        pytest.param({"$name": "Ada L."}, {"identityMap": PRIMARY_U1, "person": {"name": {"fullName": "Ada L."}}, TENANT: {"distinct_id": "u1"}},
                     id="$name is the full name"),
        pytest.param({"$email": "not-an-email"}, {"identityMap": PRIMARY_U1, TENANT: {"distinct_id": "u1", "properties": {"$email": "not-an-email"}}},
                     id="an email without a domain: no personalEmail, no Email identity, kept in properties"),
        pytest.param({"$email": ""}, {"identityMap": PRIMARY_U1, TENANT: {"distinct_id": "u1", "properties": {"$email": ""}}},
                     id="an empty email"),
        pytest.param({"$email": ["a@b.co"]}, {"identityMap": PRIMARY_U1, TENANT: {"distinct_id": "u1", "properties": {"$email": '["a@b.co"]'}}},
                     id="a list email: only in properties, as JSON text"),
        pytest.param({"$phone": 33100000005}, {"identityMap": PRIMARY_U1, "mobilePhone": {"number": "33100000005"},
                                               TENANT: {"distinct_id": "u1", "properties": {"$phone": "33100000005"}}},
                     id="a number phone: its text, the original kept"),
        pytest.param({"$country_code": "gb", "$city": "Leeds"}, {"identityMap": PRIMARY_U1, "homeAddress": {"city": "Leeds", "countryCode": "GB"},
                                                                 TENANT: {"distinct_id": "u1", "properties": {"$country_code": "gb"}}},
                     id="a lower-case country code: upper-cased, the original kept"),
        pytest.param({"$country_code": "United Kingdom"}, {"identityMap": PRIMARY_U1,
                                                           TENANT: {"distinct_id": "u1", "properties": {"$country_code": "United Kingdom"}}},
                     id="a country name is not a code: only in properties"),
        pytest.param({"$region": "US-CA"}, {"identityMap": PRIMARY_U1, "homeAddress": {"region": "US-CA"}, TENANT: {"distinct_id": "u1"}},
                     id="region is always the free-text region"),
        pytest.param({"$timezone": "Asia/Tokyo", "$last_seen": "nonsense"}, {
            "identityMap": PRIMARY_U1, TENANT: {"distinct_id": "u1", "timezone": "Asia/Tokyo", "properties": {"$last_seen": "nonsense"}}},
                     id="timezone on the tenant; an unreadable date stays a property"),
        pytest.param({"$last_seen": "2024-05-01T09:00:00+02:00"}, {"identityMap": PRIMARY_U1, TENANT: {"distinct_id": "u1", "last_seen": "2024-05-01T07:00:00Z"}},
                     id="a date with an offset in UTC"),
        pytest.param({"$first_name": None, "$email": None, "gone": None}, {"identityMap": PRIMARY_U1, TENANT: {"distinct_id": "u1"}},
                     id="nulls are left out everywhere"),
        pytest.param({"$first_name": True}, {"identityMap": PRIMARY_U1, "person": {"name": {"firstName": "true"}},
                                             TENANT: {"distinct_id": "u1", "properties": {"$first_name": "true"}}},
                     id="a boolean name: text, original kept"),
    ],
)
def test_reserved_properties_present_absent_and_odd(properties, expected):
    record = xdm(properties)
    assert {key: value for key, value in record.items() if key != "_id"} == expected


@pytest.mark.parametrize(
    "value, text",
    [
        pytest.param({"b": [1, {"c": None}], "d": 1.5}, '{"b":[1,{"c":null}],"d":1.5}', id="nested objects and lists: compact JSON, inner nulls kept"),
        pytest.param(123456789012345678901234567890, "123456789012345678901234567890", id="an integer beyond 64 bits: exact text"),
        pytest.param(2**53, "9007199254740992", id="an integer beyond XDM's long: text, never a number"),
        pytest.param(False, "false", id="a boolean"),
        pytest.param("ünïcødé ✓", "ünïcødé ✓", id="a string as it is"),
    ],
)
def test_other_properties_become_a_map_of_strings(value, text):
    assert xdm({"odd key.with $ and spaces": value})[TENANT]["properties"] == {"odd key.with $ and spaces": text}


@pytest.mark.parametrize(
    "distinct_id, text",
    [pytest.param(900003, "900003", id="a number"), pytest.param("42", "42", id="a numeric string"), pytest.param(7.5, "7.5", id="a float")],
)
def test_a_number_distinct_id_is_text_in_the_identity_and_the_tenant(distinct_id, text):
    record = xdm({}, distinct_id=distinct_id)
    assert record["identityMap"]["MixpanelDistinctId"][0]["id"] == text and record[TENANT]["distinct_id"] == text


@pytest.mark.parametrize(
    "namespaces, distinct_id, expected",
    [
        pytest.param({"distinct_id": None}, "u1", {"Email": [{"id": "a@b.co", "authenticatedState": "ambiguous", "primary": False}]},
                     id="distinct_id's namespace null: only the email identity, no primary"),
        pytest.param({"distinct_id": "Email"}, "a@b.co", {"Email": [{"id": "a@b.co", "authenticatedState": "ambiguous", "primary": True}]},
                     id="distinct ids are emails: one item, primary"),
        pytest.param({"distinct_id": "Email"}, "u1", {"Email": [{"id": "u1", "authenticatedState": "ambiguous", "primary": True},
                                                                {"id": "a@b.co", "authenticatedState": "ambiguous", "primary": False}]},
                     id="a shared namespace, two ids: one list"),
        pytest.param({"distinct_id": "AcmeId"}, "u1", {"AcmeId": [{"id": "u1", "authenticatedState": "ambiguous", "primary": True}],
                                                       "Email": [{"id": "a@b.co", "authenticatedState": "ambiguous", "primary": False}]},
                     id="a custom namespace"),
    ],
)
def test_identities_follow_the_configured_namespaces(namespaces, distinct_id, expected):
    assert xdm({"$email": "a@b.co"}, distinct_id=distinct_id, namespaces=namespaces)["identityMap"] == expected


def test_without_any_identity_the_record_has_no_identity_map():
    assert "identityMap" not in xdm({"$email": "nope"}, namespaces={"distinct_id": None})


def test_the_id_is_the_same_for_the_same_profile_and_changes_with_any_field():
    base = {"$email": "a@b.co", "$last_seen": "2024-05-01T09:00:00", "plan": "pro"}
    assert xdm(base)["_id"] == xdm(dict(base))["_id"]
    assert len({xdm(base)["_id"], xdm({**base, "plan": "team"})["_id"], xdm({**base, "$last_seen": "2024-05-02T09:00:00"})["_id"],
                xdm(base, distinct_id="u2")["_id"]}) == 4


def test_the_flat_record_is_not_needed_after_mapping_and_its_properties_are_reused():
    flat = to_profile({"$distinct_id": "u1", "$properties": {"plan": "pro"}})
    properties = flat["properties"]
    record = to_xdm_profile(flat, settings())
    assert record[TENANT]["properties"] is properties  # consumed, not copied: one dict per profile


# --- emails AEP's format: email refuses, and AEP's identity guardrails ------------------------------------
@pytest.mark.parametrize(
    "email",
    [
        pytest.param("ada@example.com", id="plain"),
        pytest.param("ada.lovelace+news@mail.example.co.uk", id="dots, plus and a subdomain"),
        pytest.param("o'brien_x-1@example.io", id="apostrophe, underscore, hyphen"),
        pytest.param("A@EXAMPLE.COM", id="capitals"),
    ],
)
def test_given_a_valid_email_then_it_is_the_personal_email_and_an_email_identity(email):
    record = xdm({"$email": email})
    assert record["personalEmail"] == {"address": email}
    assert record["identityMap"]["Email"] == [{"id": email, "authenticatedState": "ambiguous", "primary": False}]
    assert "properties" not in record[TENANT]


@pytest.mark.parametrize(
    "email",
    [
        pytest.param("a..b@example.com", id="two dots in a row"),
        pytest.param("a.@example.com", id="a dot before the @"),
        pytest.param(".a@example.com", id="a leading dot"),
        pytest.param("<a>@example.com", id="angle brackets"),
        pytest.param("a,b@example.com", id="a comma"),
        pytest.param("a b@example.com", id="a space"),
        pytest.param("josé@example.com", id="non-ASCII local part"),
        pytest.param("a@exämple.com", id="non-ASCII domain"),
        pytest.param("a@@example.com", id="two @"),
        pytest.param("a@example", id="no top-level domain"),
        pytest.param("a@example.c", id="a one-letter top-level domain"),
        pytest.param("a@-example.com", id="a label starting with a hyphen"),
        pytest.param("a@example..com", id="an empty label"),
        pytest.param("a@example.com\n", id="a trailing newline"),
        pytest.param("x" * 65 + "@example.com", id="a local part over 64 characters"),
        pytest.param("a@" + "b" * 250 + ".com", id="over 254 characters"),
        pytest.param("null", id="a blocked identity value"),
    ],
)
def test_given_an_email_aep_refuses_then_it_is_neither_personal_email_nor_identity_and_stays_in_properties(email):
    record = xdm({"$email": email})
    assert "personalEmail" not in record
    assert record["identityMap"] == PRIMARY_U1
    assert record[TENANT]["properties"] == {"$email": email}


@pytest.mark.parametrize(
    "distinct_id",
    [pytest.param("null", id="null"), pytest.param("Anonymous", id="anonymous"), pytest.param("INVALID", id="invalid"),
     pytest.param("x" * 1025, id="over 1,024 characters")],
)
def test_given_a_distinct_id_aep_blocks_then_the_profile_has_no_such_identity_but_keeps_it_as_its_key(distinct_id):
    record = xdm({"$email": "ada@example.com"}, distinct_id=distinct_id)
    assert record["identityMap"] == {"Email": [{"id": "ada@example.com", "authenticatedState": "ambiguous", "primary": False}]}
    assert record[TENANT]["distinct_id"] == distinct_id  # the stream's primary key: the record must keep it
