"""Raw Mixpanel export event -> AEP-shaped record (source_mixpanel_aep.records.mapping.to_record)."""

import calendar
import copy
import datetime as dt
import json
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from jsonschema import Draft7Validator, FormatChecker

from source_mixpanel_aep.records.mapping import UnmappableEvent, iso_timestamp, to_record

SCHEMA = json.loads((Path(__file__).parents[1] / "source_mixpanel_aep" / "schemas" / "events.json").read_text())
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_FORMATS = FormatChecker()


@_FORMATS.checks("date-time", raises=ValueError)  # jsonschema only checks date-time with an optional extra; check it ourselves
def _is_date_time(value):
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


VALIDATOR = Draft7Validator(SCHEMA, format_checker=_FORMATS)

SAMPLE_LINE = (
    '{"event":"Items purchased","properties":{"time":1652825148,"distinct_id":"test@test.com",'
    '"$insert_id":"935d87b1-00cd-41b7-be34-b9d98dd08b70","$mp_api_endpoint":"api.mixpanel.com",'
    '"$mp_api_timestamp_ms":1652850348643,"item_id":"29066","item_name":"charger","item_price":"800.00",'
    '"mp_processing_time_ms":1652850348702}}'
)
# _id = blake2b-128 of the JSON ["Items purchased","test@test.com",1652825148,"935d87b1-..."]: pinned, since a
# changed _id makes every destination see every event anew.
SAMPLE_RECORD = {
    "_id": "08031e7002ffbc85daebcf1856a06bd5",
    "timestamp": "2022-05-17T22:05:48.000Z",
    "time": 1652825148,
    "event_name": "Items purchased",
    "distinct_id": "test@test.com",
    "insert_id": "935d87b1-00cd-41b7-be34-b9d98dd08b70",
    "mp_api_endpoint": "api.mixpanel.com",
    "mp_api_timestamp_ms": 1652850348643,
    "mp_processing_time_ms": 1652850348702,
    "item_id": "29066",
    "item_name": "charger",
    "item_price": "800.00",
    "properties": {},
}


def assert_valid(record):
    errors = sorted(VALIDATOR.iter_errors(record), key=str)
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    return record


def event(name="Sign up", **properties):
    properties.setdefault("time", 1_700_000_000_000)
    return {"event": name, "properties": properties}


def mapped(raw, **kwargs):
    return assert_valid(to_record(raw, **kwargs))


def wall_ms(*fields):
    """Unix ms of a naive wall-clock time, as a legacy project stores it."""
    return calendar.timegm(dt.datetime(*fields).timetuple()) * 1000


def test_given_the_reference_sample_line_in_seconds_then_the_record_is_exactly_the_aep_shape():
    assert mapped(json.loads(SAMPLE_LINE), time_in_ms=False) == SAMPLE_RECORD


def test_given_the_reference_sample_line_in_milliseconds_then_only_the_timestamp_gains_milliseconds():
    raw = json.loads(SAMPLE_LINE)
    raw["properties"]["time"] = 1652825148643
    expected_id = "222265c7c8fafd97c834ca9d63f4c555"  # the exported time is part of the key: in ms here
    assert mapped(raw, time_in_ms=True) == {**SAMPLE_RECORD, "_id": expected_id, "timestamp": "2022-05-17T22:05:48.643Z"}


def test_the_raw_event_is_not_mutated():
    raw = json.loads(SAMPLE_LINE)
    before = copy.deepcopy(raw)
    to_record(raw, time_in_ms=False)
    assert raw == before


@pytest.mark.parametrize(
    "raw_time, time_in_ms, timestamp, seconds",
    [
        (1_700_000_000_123, True, "2023-11-14T22:13:20.123Z", 1_700_000_000),
        (1_700_000_000, False, "2023-11-14T22:13:20.000Z", 1_700_000_000),
        (1_700_000_000_123.9, True, "2023-11-14T22:13:20.123Z", 1_700_000_000),
        (1_700_000_000.5, False, "2023-11-14T22:13:20.500Z", 1_700_000_000),
        (1_700_000_000.0009765625, False, "2023-11-14T22:13:20.000Z", 1_700_000_000),
        (-1.5, True, "1969-12-31T23:59:59.998Z", -1),
        (0, False, "1970-01-01T00:00:00.000Z", 0),
    ],
    ids=["ms-int", "seconds-int", "ms-float-floored", "seconds-float-half", "seconds-float-floored-below-1ms", "negative-ms-floored-down", "epoch"],
)
def test_time_units_and_flooring(raw_time, time_in_ms, timestamp, seconds):
    record = mapped(event(time=raw_time), time_in_ms=time_in_ms)
    assert (record["timestamp"], record["time"]) == (timestamp, seconds)


LA, PARIS = ZoneInfo("America/Los_Angeles"), ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    "zone, wall, utc",
    [
        (LA, (2024, 7, 1, 12, 0), "2024-07-01T19:00:00.000Z"),
        (LA, (2024, 1, 15, 12, 0), "2024-01-15T20:00:00.000Z"),
        (LA, (2024, 3, 10, 1, 59, 59), "2024-03-10T09:59:59.000Z"),
        (LA, (2024, 3, 10, 2, 30), "2024-03-10T10:30:00.000Z"),
        (LA, (2024, 3, 10, 3, 0), "2024-03-10T10:00:00.000Z"),
        (LA, (2024, 11, 3, 0, 59, 59), "2024-11-03T07:59:59.000Z"),
        (LA, (2024, 11, 3, 1, 30), "2024-11-03T08:30:00.000Z"),
        (LA, (2024, 11, 3, 2, 0), "2024-11-03T10:00:00.000Z"),
        (PARIS, (2024, 7, 1, 12, 0), "2024-07-01T10:00:00.000Z"),
        (PARIS, (2024, 1, 15, 12, 0), "2024-01-15T11:00:00.000Z"),
        (PARIS, (2024, 3, 31, 2, 30), "2024-03-31T01:30:00.000Z"),
        (PARIS, (2024, 10, 27, 2, 30), "2024-10-27T00:30:00.000Z"),
        (ZoneInfo("UTC"), (2024, 7, 1, 12, 0), "2024-07-01T12:00:00.000Z"),
    ],
    ids=[
        "la-summer-pdt", "la-winter-pst", "la-just-before-spring-gap", "la-skipped-hour-shifted-forward",
        "la-just-after-spring-gap", "la-just-before-repeated-hour", "la-repeated-hour-earlier-instant",
        "la-after-repeated-hour-pst", "paris-summer-cest", "paris-winter-cet", "paris-skipped-hour-shifted-forward",
        "paris-repeated-hour-earlier-instant", "utc-zone-unchanged",
    ],
)
def test_given_legacy_local_time_then_it_is_converted_to_utc_with_fold_0(zone, wall, utc):
    local = wall_ms(*wall) + 250
    record = mapped(event(time=local), time_in_ms=True, source_timezone=zone)
    assert record["timestamp"] == utc.replace(".000Z", ".250Z")
    expected_seconds = calendar.timegm(dt.datetime.fromisoformat(utc.replace("Z", "+00:00")).utctimetuple())
    assert record["time"] == expected_seconds


def test_given_no_insert_id_then_id_is_a_content_hash_stable_across_copies_and_key_order():
    one = event(distinct_id="u1", plan="pro", nested={"a": 1, "b": [1, 2]})
    reordered = {"properties": dict(reversed(list(one["properties"].items()))), "event": one["event"]}
    reordered["properties"]["nested"] = {"b": [1, 2], "a": 1}
    first, again, other_order = mapped(one), mapped(copy.deepcopy(one)), mapped(reordered)
    assert first.get("insert_id") is None
    assert re.fullmatch(r"[0-9a-f]{32}", first["_id"])
    assert first["_id"] == again["_id"] == other_order["_id"]


@pytest.mark.parametrize(
    "change",
    [
        lambda raw: raw.update(event="Other"),
        lambda raw: raw["properties"].update(time=raw["properties"]["time"] + 1),
        lambda raw: raw["properties"].update(distinct_id="u2"),
        lambda raw: raw["properties"].update(extra=None),
        lambda raw: raw["properties"]["nested"].update(a=2),
    ],
    ids=["event-name", "time", "distinct-id", "extra-property", "nested-value"],
)
def test_given_no_insert_id_then_a_different_event_gets_a_different_id(change):
    raw = event(distinct_id="u1", nested={"a": 1})
    other = copy.deepcopy(raw)
    change(other)
    assert mapped(raw)["_id"] != mapped(other)["_id"]


def test_given_no_insert_id_and_a_huge_integer_then_the_hash_still_works():
    record = mapped(event(big=2**70))
    assert record["_id"] == mapped(event(big=2**70))["_id"] != mapped(event(big=2**70 + 1))["_id"]
    assert record["properties"]["big"] == 2**70


@pytest.mark.parametrize(
    "key, value, column, expected, kept_in_properties",
    [
        ("item_id", "29066", "item_id", "29066", False),
        ("item_id", 29066, "item_id", "29066", True),
        ("item_price", 800.5, "item_price", "800.5", True),
        ("item_price", 800, "item_price", "800", True),
        ("item_name", True, "item_name", "true", True),
        ("distinct_id", 12345, "distinct_id", "12345", True),
        ("distinct_id", ["a", "b"], "distinct_id", None, True),
        ("distinct_id", {"id": 1}, "distinct_id", None, True),
        ("distinct_id", None, "distinct_id", None, False),
        ("$insert_id", 77, "insert_id", "77", True),
        ("$mp_api_endpoint", "api-eu.mixpanel.com", "mp_api_endpoint", "api-eu.mixpanel.com", False),
        ("$mp_api_timestamp_ms", 1652850348643, "mp_api_timestamp_ms", 1652850348643, False),
        ("$mp_api_timestamp_ms", 1652850348643.0, "mp_api_timestamp_ms", 1652850348643, True),
        ("mp_processing_time_ms", " 1652850348702 ", "mp_processing_time_ms", 1652850348702, True),
        ("mp_processing_time_ms", 1652850348702.5, "mp_processing_time_ms", None, True),
        ("mp_processing_time_ms", "soon", "mp_processing_time_ms", None, True),
        ("mp_processing_time_ms", True, "mp_processing_time_ms", None, True),
        ("$import", True, "import", True, False),
        ("$import", False, "import", False, False),
        ("$import", "true", "import", None, True),
        ("$import", 1, "import", None, True),
    ],
    ids=[
        "string-kept", "int-item-id-to-string", "float-price-to-string", "int-price-to-string", "bool-name-to-string",
        "int-distinct-id-to-string", "list-distinct-id-null", "object-distinct-id-null", "null-distinct-id",
        "int-insert-id-to-string", "endpoint-string", "mp-int-kept", "mp-integral-float", "mp-string-int",
        "mp-fractional-float-null", "mp-junk-string-null", "mp-bool-null", "import-true", "import-false",
        "import-string-null", "import-int-null",
    ],
)
def test_promoted_property_conversion(key, value, column, expected, kept_in_properties):
    record = mapped(event(**{key: value}))
    assert record.get(column) == expected
    assert type(record.get(column)) is type(expected)
    if kept_in_properties:
        assert record["properties"][key] == value
        assert type(record["properties"][key]) is type(value)
    else:
        assert key not in record["properties"]


SAME_INSERT_ID = event("Sign up", distinct_id="u1", **{"$insert_id": "shared-id"})
DEDUPE_CASES = {
    # (the other event, same _id?): Mixpanel dedupes on (event name, distinct_id, time, $insert_id) together
    "another event name": (event("Log in", distinct_id="u1", **{"$insert_id": "shared-id"}), False),
    "another distinct_id": (event("Sign up", distinct_id="u2", **{"$insert_id": "shared-id"}), False),
    "another time": (event("Sign up", distinct_id="u1", time=1_700_000_000_001, **{"$insert_id": "shared-id"}), False),
    "another insert id": (event("Sign up", distinct_id="u1", **{"$insert_id": "other-id"}), False),
    "a numeric distinct_id of the same digits": (event("Sign up", distinct_id=1, **{"$insert_id": "shared-id"}), False),
    "a true duplicate with other properties": (event("Sign up", distinct_id="u1", plan="pro", **{"$insert_id": "shared-id"}), True),
    "a true duplicate, keys in another order": ({"properties": {"$insert_id": "shared-id", "distinct_id": "u1", "time": 1_700_000_000_000},
                                                 "event": "Sign up"}, True),
}


@pytest.mark.parametrize("other, same", DEDUPE_CASES.values(), ids=DEDUPE_CASES.keys())
def test_given_a_shared_insert_id_then_the_id_is_the_same_only_when_mixpanel_would_dedupe(other, same):
    one, two = mapped(SAME_INSERT_ID)["_id"], mapped(other)["_id"]
    assert (one == two) is same
    assert re.fullmatch(r"[0-9a-f]{32}", one) and ":" not in one


def test_given_the_same_event_read_twice_then_the_id_is_stable():
    assert mapped(copy.deepcopy(SAME_INSERT_ID))["_id"] == mapped(SAME_INSERT_ID)["_id"]


def test_given_a_huge_integer_distinct_id_then_the_dedupe_key_still_works():
    big = event(distinct_id=2**70, **{"$insert_id": "x"})
    assert mapped(big)["_id"] != mapped(event(distinct_id=2**70 + 1, **{"$insert_id": "x"}))["_id"]


def test_every_other_property_is_kept_with_its_original_name_and_value():
    others = {
        "$browser": "Chrome",
        "$city": "San Francisco",
        "utm_source": None,
        "tags": ["a", 1, None, {"x": [True]}],
        "cart": {"items": [{"sku": "A1", "qty": 2}], "total": 12.5},
        "mp_lib": "web",
        "flag": False,
        "count": 0,
        "time_spent": 1.25,
        "": "empty key",
    }
    record = mapped(event(**others, distinct_id="u1"))
    assert record["properties"] == others
    assert set(record) == set(SCHEMA["required"]) | {"distinct_id"}  # null columns are left out


@pytest.mark.parametrize(
    "raw, reason",
    [
        ([1, 2], "list"),
        ("Sign up", "str"),
        (None, "NoneType"),
        ({"properties": {"time": 1}}, "no name"),
        ({"event": "", "properties": {"time": 1}}, "no name"),
        ({"event": True, "properties": {"time": 1}}, "no name"),
        ({"event": "e"}, "properties"),
        ({"event": "e", "properties": ["time", 1]}, "properties"),
        ({"event": "e", "properties": {}}, "missing"),
        ({"event": "e", "properties": {"time": "1700000000"}}, "str"),
        ({"event": "e", "properties": {"time": None}}, "NoneType"),
        ({"event": "e", "properties": {"time": True}}, "bool"),
        ({"event": "e", "properties": {"time": float("nan")}}, "finite"),
        ({"event": "e", "properties": {"time": float("inf")}}, "finite"),
        ({"event": "e", "properties": {"time": 10**20}}, "outside"),
        ({"event": "e", "properties": {"time": -(10**15)}}, "outside"),
    ],
    ids=[
        "not-object-list", "not-object-string", "not-object-null", "no-event-name", "empty-event-name", "bool-event-name",
        "no-properties", "properties-not-object", "no-time", "time-string", "time-null", "time-bool", "time-nan",
        "time-infinite", "time-after-year-9999", "time-before-year-1",
    ],
)
def test_unmappable_events_raise_with_a_reason(raw, reason):
    with pytest.raises(UnmappableEvent, match=re.escape(reason)):
        to_record(raw, time_in_ms=True)


@pytest.mark.parametrize("raw_time", [10**17, -(10**15)], ids=["after-year-9999", "before-year-1"])
def test_given_legacy_local_time_and_time_out_of_range_then_unmappable(raw_time):
    with pytest.raises(UnmappableEvent):
        to_record(event(time=raw_time), time_in_ms=True, source_timezone=LA)


def test_given_huge_float_seconds_then_unmappable():
    with pytest.raises(UnmappableEvent):
        to_record(event(time=1e308), time_in_ms=False)


def test_numeric_event_name_becomes_its_text():
    assert mapped({"event": 42, "properties": {"time": 0}})["event_name"] == "42"


def test_the_schema_helper_rejects_a_bad_record():
    bad = {**SAMPLE_RECORD, "timestamp": "17 May 2022", "time": "1652825148"}
    assert len(list(VALIDATOR.iter_errors(bad))) == 2


def test_iso_timestamp_agrees_with_datetime_for_ten_thousand_instants_across_the_whole_range():
    import random

    rng = random.Random(7)
    lowest, highest = -62135596800000, 253402300799999  # 0001-01-01T00:00:00.000 .. 9999-12-31T23:59:59.999
    samples = [lowest, highest, 0, -1, 86_399_999] + [rng.randint(lowest, highest) for _ in range(10_000)]
    for ms in samples:
        expected = (dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=ms)).isoformat(timespec="milliseconds") + "Z"
        assert iso_timestamp(ms) == expected, ms


@pytest.mark.parametrize("legacy_zone", [None, ZoneInfo("America/Los_Angeles")], ids=["fast path", "general path"])
def test_columns_come_out_in_the_documented_order_whatever_the_property_order(legacy_zone):
    properties = {"item_price": 9, "$import": True, "zz": 1, "distinct_id": "u", "time": 1714521600000, "$insert_id": "i",
                  "$mp_api_endpoint": "api.mixpanel.com", "item_id": "x", "item_name": "n", "mp_processing_time_ms": 3,
                  "$mp_api_timestamp_ms": 2}
    record = to_record({"event": "e", "properties": properties}, source_timezone=legacy_zone)
    assert list(record) == ["_id", "timestamp", "time", "event_name", "distinct_id", "insert_id", "mp_api_endpoint", "import",
                            "mp_api_timestamp_ms", "mp_processing_time_ms", "item_id", "item_name", "item_price", "properties"]
    assert list(record["properties"]) == ["zz", "item_price"]  # the raw order, then the converted originals kept
