"""Date windows and the cursor (source_mixpanel_aep.streams.windows)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from source_mixpanel_aep.streams.windows import (
    StateError,
    Window,
    format_cursor,
    parse_cursor,
    window_cursor,
)

UTC, LA = ZoneInfo("UTC"), ZoneInfo("America/Los_Angeles")


def d(text):
    return dt.date.fromisoformat(text)


def at(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_window_slice_round_trips():
    window = Window(d("2024-05-01"), d("2024-05-30"))
    assert window.as_slice() == {"from_date": "2024-05-01", "to_date": "2024-05-30"}
    assert Window.from_slice(window.as_slice()) == window


def test_a_sweep_window_with_time_bounds_round_trips_and_names_itself():
    window = Window(d("2024-05-01"), d("2024-05-01"), at("2024-05-01T06:00:00Z"), at("2024-05-01T12:00:00Z"), sweep=True)
    assert Window.from_slice(window.as_slice()) == window
    assert window.label == "Sweep 2024-05-01..2024-05-01 from 2024-05-01 06:00:00Z until 2024-05-01 12:00:00Z"


def test_window_cursor_of_a_window_with_until_is_just_before_it():
    window = Window(d("2024-05-01"), d("2024-05-01"), until=at("2024-05-01T12:00:00Z"))
    assert window_cursor(window, UTC, at("2024-06-01T00:00:00Z")) == at("2024-05-01T11:59:59.999Z")


@pytest.mark.parametrize(
    "window_end, tz, requested_at, expected",
    [
        ("2024-05-30", UTC, "2024-06-15T03:00:00Z", "2024-05-30T23:59:59.999Z"),
        ("2024-06-15", UTC, "2024-06-15T03:00:00Z", "2024-06-15T03:00:00.000Z"),
        ("2024-05-30", LA, "2024-06-15T03:00:00Z", "2024-05-31T06:59:59.999Z"),
        ("2024-01-15", LA, "2024-06-15T03:00:00Z", "2024-01-16T07:59:59.999Z"),
        ("2024-03-09", LA, "2024-06-15T03:00:00Z", "2024-03-10T07:59:59.999Z"),
        ("2024-03-10", LA, "2024-06-15T03:00:00Z", "2024-03-11T06:59:59.999Z"),
        ("2024-06-14", LA, "2024-06-15T03:00:00Z", "2024-06-15T03:00:00.000Z"),
        ("2024-06-14", LA, "2024-06-15T08:00:00Z", "2024-06-15T06:59:59.999Z"),
    ],
    ids=["utc-end-of-day", "utc-capped-at-request", "la-summer-end-of-day", "la-winter-end-of-day", "la-day-before-spring-forward", "la-spring-forward-day", "la-today-capped-at-request", "la-yesterday-after-midnight"],
)
def test_window_cursor(window_end, tz, requested_at, expected):
    cursor = window_cursor(Window(d(window_end), d(window_end)), tz, at(requested_at))
    assert cursor == at(expected)
    assert cursor.utcoffset() == dt.timedelta(0)


def test_window_cursor_with_a_request_time_in_another_zone_compares_instants():
    requested = dt.datetime(2024, 6, 14, 20, 0, tzinfo=LA)  # 2024-06-15T03:00Z
    assert window_cursor(Window(d("2024-06-15"), d("2024-06-15")), UTC, requested) == at("2024-06-15T03:00:00Z")


@pytest.mark.parametrize(
    "instant, text",
    [
        (at("2024-05-30T23:59:59.999Z"), "2024-05-30T23:59:59.999Z"),
        (at("2024-05-30T23:59:59.999999Z"), "2024-05-30T23:59:59.999Z"),
        (at("2024-01-01T00:00:00Z"), "2024-01-01T00:00:00.000Z"),
        (dt.datetime(2024, 5, 30, 16, 59, 59, 999000, tzinfo=LA), "2024-05-30T23:59:59.999Z"),
    ],
    ids=["millis", "micros-truncated", "midnight", "other-zone-to-utc"],
)
def test_format_cursor(instant, text):
    assert format_cursor(instant) == text


def test_format_then_parse_is_the_same_instant():
    instant = at("2024-05-30T23:59:59.999Z")
    assert parse_cursor({"timestamp": format_cursor(instant)}) == instant


@pytest.mark.parametrize(
    "state, expected",
    [
        (None, None),
        ({}, None),
        ({"timestamp": "2024-05-30T23:59:59.999Z"}, at("2024-05-30T23:59:59.999Z")),
        ({"timestamp": "2024-05-30T16:59:59.999-07:00"}, at("2024-05-30T23:59:59.999Z")),
        ({"date": "2024-05-30"}, at("2024-05-30T00:00:00Z")),
        ({"date": "2024-05-30T10:00:00"}, at("2024-05-30T10:00:00Z")),
        ({"time": "2024-05-30T10:00:00+02:00"}, at("2024-05-30T08:00:00Z")),
        ({"time": 1717027200}, at("2024-05-30T00:00:00Z")),
        ({"time": 1717027200123}, at("2024-05-30T00:00:00.123Z")),
        ({"date": 1717027200.5}, at("2024-05-30T00:00:00.500Z")),
        ({"timestamp": "2024-05-30T00:00:00Z", "date": "2020-01-01"}, at("2024-05-30T00:00:00Z")),
    ],
    ids=["none", "empty", "ours", "ours-with-offset", "legacy-date", "legacy-naive-datetime-as-utc", "legacy-time-iso", "unix-seconds", "unix-ms", "unix-float-seconds", "ours-wins-over-legacy"],
)
def test_parse_cursor(state, expected):
    assert parse_cursor(state) == expected


@pytest.mark.parametrize(
    "state",
    [
        {"cursor": "2024-05-30"},
        {"timestamp": "not a date"},
        {"timestamp": ""},
        {"timestamp": None},
        {"timestamp": True},
        {"date": ["2024-05-30"]},
        {"time": {"value": 1}},
        ["timestamp"],
        {"timestamp": "P1D"},
    ],
    ids=["unknown-key", "junk-string", "empty-string", "null", "bool", "list-value", "object-value", "not-a-mapping", "duration"],
)
def test_parse_cursor_junk_is_a_state_error(state):
    with pytest.raises(StateError):
        parse_cursor(state)


@pytest.mark.parametrize(
    "state",
    [{"timestamp": float("nan")}, {"timestamp": float("inf")}, {"time": 10**20}, {"date": 1e300}],
    ids=["nan", "infinity", "huge-int", "huge-float"],
)
def test_parse_cursor_non_finite_or_huge_numbers_are_a_state_error(state):
    with pytest.raises(StateError):
        parse_cursor(state)


def test_parse_cursor_the_word_now_is_a_state_error():
    with pytest.raises(StateError):
        parse_cursor({"timestamp": "now"})
