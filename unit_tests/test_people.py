"""source_mixpanel_aep.records.people: Engage results and cohorts -> records, table-driven."""

from __future__ import annotations

import pytest

from source_mixpanel_aep.records.people import Unmappable, to_cohort, to_member, to_profile, utc_datetime


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2008-06-09T23:08:40", "2008-06-09T23:08:40Z"),  # Mixpanel's offset-less profile datetime: UTC
        ("2019-03-19 23:49:51", "2019-03-19T23:49:51Z"),  # cohorts/list's form
        ("2024-05-01T10:00:00+02:00", "2024-05-01T08:00:00Z"),  # an offset: converted to UTC
        ("2024-05-01T00:30:00-0130", "2024-05-01T02:00:00Z"),
        ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
        ("2024-05-01T10:00:00.250", "2024-05-01T10:00:00.250000Z"),
        ("2024-05-01T10:00", "2024-05-01T10:00:00Z"),
        ("2024-02-30T10:00:00", None),  # no such day
        ("yesterday", None),
        ("2024-05-01", None),  # a day is not an instant
        (1714521600, None),
        (None, None),
    ],
)
def test_utc_datetime(raw, expected):
    assert utc_datetime(raw) == expected


@pytest.mark.parametrize(
    "result, expected",
    [
        (  # every reserved column, a custom property kept as is
            {"$distinct_id": "4", "$properties": {
                "$created": "2008-12-12T11:20:47", "$last_seen": "2008-06-09T23:08:40", "$email": "e@x.com",
                "$first_name": "Ex", "$last_name": "Name", "$name": "Ex Name", "$phone": "+1 555", "$city": "Paris",
                "$region": "IDF", "$country_code": "FR", "$timezone": "Europe/Paris", "plan": {"tier": 2}}},
            {"distinct_id": "4", "last_seen": "2008-06-09T23:08:40Z", "created": "2008-12-12T11:20:47Z", "email": "e@x.com",
             "first_name": "Ex", "last_name": "Name", "name": "Ex Name", "phone": "+1 555", "city": "Paris", "region": "IDF",
             "country_code": "FR", "timezone": "Europe/Paris", "properties": {"plan": {"tier": 2}}},
        ),
        (  # a numeric distinct_id becomes text
            {"$distinct_id": 12345, "$properties": {}},
            {"distinct_id": "12345", "properties": {}},
        ),
        (  # a converted value keeps its original in properties; an unconvertible one stays only there
            {"$distinct_id": "u", "$properties": {"$phone": 33612345678, "$email": ["a@x", "b@x"], "$avatar": "http://a"}},
            {"distinct_id": "u", "phone": "33612345678", "properties": {"$phone": 33612345678, "$email": ["a@x", "b@x"], "$avatar": "http://a"}},
        ),
        (  # an unreadable datetime: no column, the original kept
            {"$distinct_id": "u", "$properties": {"$last_seen": "not a date", "$created": 5}},
            {"distinct_id": "u", "properties": {"$last_seen": "not a date", "$created": 5}},
        ),
        (  # no $properties at all (a cohort member without a profile)
            {"$distinct_id": "u"},
            {"distinct_id": "u", "properties": {}},
        ),
        (  # a boolean value of a text column: its JSON text, original kept
            {"$distinct_id": "u", "$properties": {"$name": True}},
            {"distinct_id": "u", "name": "true", "properties": {"$name": True}},
        ),
    ],
)
def test_to_profile(result, expected):
    record = to_profile(result)
    assert record == expected
    assert list(record)[-1] == "properties"


def test_to_profile_columns_come_in_a_fixed_order_whatever_the_input_order():
    forward = {"$distinct_id": "u", "$properties": {"$email": "e", "$last_seen": "2024-01-01T00:00:00", "$city": "c"}}
    backward = {"$distinct_id": "u", "$properties": dict(reversed(list(forward["$properties"].items())))}
    assert list(to_profile(forward)) == list(to_profile(backward)) == ["distinct_id", "last_seen", "email", "city", "properties"]


def test_to_profile_does_not_change_its_input():
    result = {"$distinct_id": "u", "$properties": {"$email": "e"}}
    to_profile(result)
    assert result == {"$distinct_id": "u", "$properties": {"$email": "e"}}


@pytest.mark.parametrize(
    "result",
    [{"$properties": {}}, {"$distinct_id": None}, {"$distinct_id": ""}, {"$distinct_id": ["a"]}, {"$distinct_id": "u", "$properties": [1]}, "u1"],
)
def test_to_profile_refuses_what_cannot_be_a_profile(result):
    with pytest.raises(Unmappable):
        to_profile(result)


@pytest.mark.parametrize(
    "raw, expected",
    [
        (
            {"id": 1000, "name": "Cohort One", "description": "d", "count": 150, "is_visible": 1, "created": "2019-03-19 23:49:51", "project_id": 1},
            {"id": 1000, "name": "Cohort One", "description": "d", "count": 150, "is_visible": True, "created": "2019-03-19T23:49:51Z", "project_id": 1},
        ),
        ({"id": "7", "is_visible": 0, "count": "12"}, {"id": 7, "count": 12, "is_visible": False}),
        ({"id": 7, "is_visible": False, "created": "bad", "count": None, "description": None}, {"id": 7, "is_visible": False}),
        ({"id": 7.0, "is_visible": "yes"}, {"id": 7}),  # a visibility that is not 0/1/bool is left out, not guessed
    ],
)
def test_to_cohort(raw, expected):
    assert to_cohort(raw) == expected


@pytest.mark.parametrize("raw", [{"name": "no id"}, {"id": "x"}, {"id": True}, {"id": 1.5}, [1]])
def test_to_cohort_refuses_a_cohort_without_an_integer_id(raw):
    with pytest.raises(Unmappable):
        to_cohort(raw)


@pytest.mark.parametrize(
    "result, expected",
    [
        ({"$distinct_id": "u1", "$properties": {"$last_seen": "2024-01-01T00:00:00"}}, {"cohort_id": 7, "distinct_id": "u1"}),
        ({"$distinct_id": 42}, {"cohort_id": 7, "distinct_id": "42"}),
    ],
)
def test_to_member(result, expected):
    assert to_member(7, result) == expected


def test_to_member_refuses_a_result_without_an_id():
    with pytest.raises(Unmappable):
        to_member(7, {"$properties": {}})
