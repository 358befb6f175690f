"""The read plan of a scheduled sync (source_mixpanel_aep.streams.plan): pure functions, named cases."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from source_mixpanel_aep.streams.plan import (
    FIRST_WINDOW_DAYS,
    ReadState,
    WindowSizer,
    fresh_start,
    fresh_windows,
    split,
    sweep_days,
    sweep_windows,
)
from source_mixpanel_aep.streams.windows import StateError, Window, combined_where, time_filter
from unit_tests.plan_builders import at, d, plan_settings

UTC, LA = ZoneInfo("UTC"), ZoneInfo("America/Los_Angeles")


settings = plan_settings


# --- when each day is swept --------------------------------------------------------------------


@pytest.mark.parametrize(
    "lookback, sweeps, expected",
    [(5, 1, [6]), (5, 2, [3, 6]), (5, 3, [2, 4, 6]), (5, 6, [1, 2, 3, 4, 5, 6]), (3, 10, [1, 2, 3, 4]), (0, 1, []), (1, 1, [2])],
    ids=["default-once-the-day-after-the-lookback", "twice", "three-times", "daily", "more-sweeps-than-days-is-daily", "no-lookback-no-sweeps", "one-day"],
)
def test_sweep_days_spread_evenly_and_end_the_day_after_the_lookback(lookback, sweeps, expected):
    assert sweep_days(lookback, sweeps) == expected


@pytest.mark.parametrize(
    "swept, today, sweeps, expected",
    [
        ({"2024-05-05": None}, "2024-05-10", 1, []),  # D+5: still inside the lookback, not yet
        ({"2024-05-05": None}, "2024-05-11", 1, ["2024-05-05"]),  # D+6: its one sweep, everything that arrived up to D+5 is in
        ({"2024-05-05": "2024-05-11T00:10:00Z"}, "2024-05-11", 1, []),  # swept today already: not twice
        ({"2024-05-05": "2024-05-05T00:10:00Z"}, "2024-05-13", 1, ["2024-05-05"]),  # a missed sweep day is made up later
        ({"2024-05-05": None}, "2024-05-08", 2, ["2024-05-05"]),  # with two sweeps: D+3 ...
        ({"2024-05-05": "2024-05-08T01:00:00Z"}, "2024-05-10", 2, []),  # ... not D+4 or D+5 ...
        ({"2024-05-05": "2024-05-08T01:00:00Z"}, "2024-05-11", 2, ["2024-05-05"]),  # ... and D+6
        ({"2024-05-09": None, "2024-05-10": None}, "2024-05-10", 6, ["2024-05-09"]),  # today is never swept
        ({"2023-12-20": None}, "2024-05-10", 1, []),  # before start_date: never read, never swept
    ],
    ids=["not-yet", "due", "done-today", "made-up-after-a-pause", "first-of-two", "between-two", "second-of-two", "today-never", "before-start"],
)
def test_due_sweeps(swept, today, sweeps, expected):
    state = ReadState.parse({"timestamp": "2024-05-01T00:00:00Z", "swept": swept}, UTC, 5)
    assert state.due_sweeps(d(today), settings(sweeps=sweeps)) == [d(day) for day in expected]


# --- the state ---------------------------------------------------------------------------------


def test_given_an_old_format_state_when_parsed_then_the_cursors_day_and_lookback_count_as_read_whole_at_the_cursor():
    state = ReadState.parse({"timestamp": "2024-05-10T12:00:00.000Z"}, UTC, 2)
    cursor = at("2024-05-10T12:00:00Z")
    assert state.cursor == cursor and state.migrated
    # each still owed its last sweep, on D+3: the old plan would have read 2024-05-08 again on later syncs of the 10th
    assert state.swept == {d("2024-05-08"): cursor, d("2024-05-09"): cursor, d("2024-05-10"): cursor}
    assert ReadState.parse({"timestamp": "2024-05-10T12:00:00.000Z"}, UTC, 0).swept == {}  # no lookback: nothing owed


def test_given_another_connectors_date_state_in_a_legacy_timezone_when_parsed_then_days_are_the_projects():
    state = ReadState.parse({"date": "2024-05-10"}, LA, 1)  # midnight UTC is the 9th in Los Angeles
    assert set(state.swept) == {d("2024-05-08"), d("2024-05-09")}


def test_the_state_round_trips_with_nulls_for_days_only_partly_read():
    raw = {"timestamp": "2024-05-10T12:00:00.000Z", "swept": {"2024-05-09": "2024-05-09T00:10:00.000Z", "2024-05-10": None}, "events_per_day": 41250}
    assert ReadState.parse(raw, UTC, 5).to_state() == raw


@pytest.mark.parametrize(
    "raw, words",
    [
        ({"timestamp": "2024-05-10T12:00:00Z", "swept": ["2024-05-09"]}, "not an object"),
        ({"timestamp": "2024-05-10T12:00:00Z", "swept": {"yesterday": None}}, "not a YYYY-MM-DD day"),
        ({"timestamp": "2024-05-10T12:00:00Z", "swept": {"2024-05-09": 5}}, "not an ISO 8601 instant"),
        ({"timestamp": "2024-05-10T12:00:00Z", "swept": {}, "events_per_day": -1}, "not a non-negative number"),
        ({"timestamp": "2024-05-10T12:00:00Z", "swept": {}, "events_per_day": "many"}, "not a non-negative number"),
    ],
    ids=["swept-a-list", "swept-key-not-a-day", "swept-value-a-number", "negative-rate", "rate-a-string"],
)
def test_a_state_that_cannot_be_understood_is_a_state_error_naming_the_field(raw, words):
    with pytest.raises(StateError, match=words):
        ReadState.parse(raw, UTC, 5)


def test_given_a_fresh_window_from_mid_day_when_read_then_that_day_is_owed_its_sweeps_and_later_days_count_as_read_whole():
    state = ReadState.parse({"timestamp": "2024-05-09T23:55:00Z", "swept": {}}, UTC, 5)
    window = Window(d("2024-05-09"), d("2024-05-10"), since=at("2024-05-09T23:45:00Z"))
    state.record_read(window, at("2024-05-10T00:15:00Z"), 100, settings(), d("2024-05-10"))
    assert state.swept == {d("2024-05-09"): None, d("2024-05-10"): at("2024-05-10T00:15:00Z")}
    assert state.cursor == at("2024-05-10T00:15:00Z")  # capped at the request: nothing later could have been in the answer


def test_given_a_days_last_sweep_when_read_then_the_day_leaves_the_state_and_the_cursor_stays():
    state = ReadState.parse({"timestamp": "2024-05-11T06:00:00Z", "swept": {"2024-05-05": None, "2024-05-06": None}}, UTC, 5)
    state.record_read(Window(d("2024-05-05"), d("2024-05-05"), sweep=True), at("2024-05-11T06:05:00Z"), 10, settings(), d("2024-05-11"))
    assert state.swept == {d("2024-05-06"): None} and state.cursor == at("2024-05-11T06:00:00Z")


def test_given_a_day_read_whole_on_its_last_lookback_day_then_it_is_still_owed_the_sweep_after_it():
    state = ReadState.parse({"timestamp": "2024-05-10T06:00:00Z", "swept": {"2024-05-05": None}}, UTC, 5)
    state.record_read(Window(d("2024-05-05"), d("2024-05-05"), sweep=True), at("2024-05-10T06:05:00Z"), 10, settings(), d("2024-05-10"))
    assert state.swept == {d("2024-05-05"): at("2024-05-10T06:05:00Z")}  # events can still arrive for it until the 10th ends


def test_given_a_day_read_in_two_halves_when_both_complete_then_it_counts_as_read_whole_from_the_first_halfs_request():
    state = ReadState.parse({"timestamp": "2024-05-08T00:00:00Z", "swept": {}}, UTC, 5)
    first, second = Window(d("2024-05-08"), d("2024-05-08"), until=at("2024-05-08T12:00:00Z")), Window(d("2024-05-08"), d("2024-05-08"), since=at("2024-05-08T12:00:00Z"))
    state.record_read(first, at("2024-05-09T01:00:00Z"), 5, settings(), d("2024-05-09"))
    assert state.swept == {d("2024-05-08"): None}  # half a day is not the day
    state.record_read(second, at("2024-05-09T01:05:00Z"), 5, settings(), d("2024-05-09"))
    assert state.swept == {d("2024-05-08"): at("2024-05-09T01:00:00Z")}


# --- where the fresh part starts, and its filter ----------------------------------------------


@pytest.mark.parametrize(
    "cursor, start_date, expected_day, expected_since",
    [
        ("2024-05-10T12:00:00Z", "2024-01-01", "2024-05-10", "2024-05-10T11:50:00Z"),
        ("2024-05-10T00:05:00Z", "2024-01-01", "2024-05-09", "2024-05-09T23:55:00Z"),  # the overlap reaches into yesterday
        ("2024-05-10T00:10:00Z", "2024-01-01", "2024-05-10", None),  # exactly midnight: the whole day, no filter needed
        ("2024-05-10T00:05:00Z", "2024-05-10", "2024-05-10", None),  # never before start_date
    ],
    ids=["mid-day", "overlap-into-yesterday", "overlap-to-midnight", "clamped-to-start-date"],
)
def test_fresh_start_is_the_cursor_minus_the_overlap(cursor, start_date, expected_day, expected_since):
    state = ReadState.parse({"timestamp": cursor, "swept": {}}, UTC, 5)
    day, since = fresh_start(state, settings(start_date=d(start_date)))
    assert (day, since) == (d(expected_day), at(expected_since) if expected_since else None)


@pytest.mark.parametrize(
    "window, source_tz, user_where, expected",
    [
        (Window(d("2024-05-01"), d("2024-05-01"), since=at("2024-05-01T00:00:00Z")), None, None, 'properties["$time"] >= datetime(1714521600)'),
        (Window(d("2024-05-01"), d("2024-05-01"), since=at("2024-05-01T10:00:00.999Z")), None, 'properties["$os"] == "Linux"',
         '(properties["$os"] == "Linux") and (properties["$time"] >= datetime(1714557600))'),
        # legacy project, Los Angeles (UTC-7 in May): 10:00 UTC is 03:00 on the local clock the raw time is written in
        (Window(d("2024-05-01"), d("2024-05-01"), since=at("2024-05-01T10:00:00Z")), LA, None, 'properties["$time"] >= datetime(1714532400)'),
        (Window(d("2024-05-01"), d("2024-05-01"), since=at("2024-05-01T00:00:00Z"), until=at("2024-05-01T12:00:00Z")), None, "a or b",
         '(a or b) and (properties["$time"] >= datetime(1714521600) and properties["$time"] < datetime(1714564800))'),
        (Window(d("2024-05-01"), d("2024-05-03")), None, 'properties["$os"] == "Linux"', 'properties["$os"] == "Linux"'),
        (Window(d("2024-05-01"), d("2024-05-03")), None, None, None),
    ],
    ids=["utc-since", "with-user-where", "legacy-local-clock", "since-and-until-with-an-or", "whole-days-keep-the-user-where-alone", "whole-days-no-filter"],
)
def test_the_where_sent_is_the_users_and_our_time_bounds(window, source_tz, user_where, expected):
    assert combined_where(user_where, time_filter(window, source_tz)) == expected


# --- window sizes ------------------------------------------------------------------------------


def test_given_no_rate_known_when_planning_a_year_then_6_days_first_and_13_requests_in_all():
    start = d("2024-05-10") - dt.timedelta(days=365)  # a year back from today, today included: 366 days
    plan = settings(start_date=start)
    windows = list(fresh_windows(WindowSizer(plan, None), start, None, d("2024-05-10"), at("2024-05-10T12:00:00Z")))
    assert windows[0].days == FIRST_WINDOW_DAYS and len(windows) == 13
    assert windows[-1].end == d("2024-05-10") and all(b.start == a.end + dt.timedelta(days=1) for a, b in zip(windows, windows[1:], strict=False))


@pytest.mark.parametrize(
    "rate, expected_days, expected_until",
    [(1_000, 30, None), (100_000, 20, None), (2_000_000, 1, None), (5_000_000, 1, "2024-05-01T08:00:00Z"), (10**9, 1, "2024-05-01T00:15:00Z")],
    ids=["small-project-30-days", "20-days-of-100k", "one-day-of-2M", "a-third-of-a-day-of-5M", "never-under-15-minutes"],
)
def test_windows_aim_at_the_target_events(rate, expected_days, expected_until):
    window = WindowSizer(settings(), rate).window(d("2024-05-01"), d("2024-12-31"), None)
    assert (window.days, window.until) == (expected_days, at(expected_until) if expected_until else None)


def test_given_a_big_projects_fresh_part_today_when_planned_then_no_window_starts_after_the_request():
    plan = settings()
    now = at("2024-05-10T10:00:00Z")
    windows = list(fresh_windows(WindowSizer(plan, 10_000_000), d("2024-05-10"), at("2024-05-10T08:50:00Z"), d("2024-05-10"), now))
    # 10M a day against 2M: parts of 4 h 48 min; the first would reach past 10:00, so it is the last, open-ended
    assert windows == [Window(d("2024-05-10"), d("2024-05-10"), since=at("2024-05-10T08:50:00Z"))]


def test_given_a_big_projects_backfill_of_yesterday_when_planned_then_the_day_is_in_parts_and_today_ends_open():
    plan = settings()
    now = at("2024-05-10T03:00:00Z")
    windows = list(fresh_windows(WindowSizer(plan, 10_000_000), d("2024-05-09"), None, d("2024-05-10"), now))
    assert [w.until for w in windows[:5]] == [at("2024-05-09T04:48:00Z"), at("2024-05-09T09:36:00Z"), at("2024-05-09T14:24:00Z"), at("2024-05-09T19:12:00Z"), None]
    assert windows[5:] == [Window(d("2024-05-10"), d("2024-05-10"))]  # 00:00-04:48 would reach past 03:00: open-ended


def test_given_a_piece_of_300k_events_had_to_be_split_then_later_windows_aim_at_half_of_that():
    sizer = WindowSizer(settings(), 1_000_000)
    sizer.broke_off(0.3)  # 0.3 days of 1M a day
    window = sizer.window(d("2024-05-01"), d("2024-05-31"), None)
    assert window.until == at("2024-05-01T03:26:00Z")  # 1M a day in 150k pieces: 7 of them, 3 h 26 min each (rounded up)


def test_given_a_split_when_pieces_complete_then_the_aim_doubles_back_to_the_target_and_no_further():
    sizer = WindowSizer(settings(target_events=2_000_000), 1_000_000)
    sizer.broke_off(0.3)
    targets = []
    for _ in range(6):
        sizer.completed()
        targets.append(sizer.target)
    assert targets == [300_000, 600_000, 1_200_000, 2_000_000, 2_000_000, 2_000_000]
    assert sizer.window(d("2024-05-01"), d("2024-05-31"), None) == Window(d("2024-05-01"), d("2024-05-02"))  # two days again


def test_given_a_connection_that_drops_at_a_size_when_capped_then_the_aim_never_grows_past_half_of_it():
    sizer = WindowSizer(settings(target_events=2_000_000), 1_000_000)
    sizer.cap(10_000)
    for _ in range(20):
        sizer.completed()
    assert sizer.target == 5_000


@pytest.mark.parametrize(
    "share, expected_end",
    [(1.0, "2024-05-02"), (1 / 24, "2024-05-30")],
    ids=["a-day-of-arrivals-sizes-like-full-days", "an-hour-of-arrivals-fits-a-month-of-days"],
)
def test_given_a_share_of_each_days_events_then_the_window_is_sized_from_that_share(share, expected_end):
    sizer = WindowSizer(settings(), 1_000_000)
    assert sizer.window(d("2024-05-01"), d("2024-05-31"), None, share=share).end == d(expected_end)


def test_sweeps_of_consecutive_days_share_windows_and_a_gap_starts_a_new_one():
    sizer = WindowSizer(settings(), 1_000)
    windows = list(sweep_windows(sizer, [d("2024-05-01"), d("2024-05-02"), d("2024-05-04")]))
    assert windows == [Window(d("2024-05-01"), d("2024-05-02"), sweep=True), Window(d("2024-05-04"), d("2024-05-04"), sweep=True)]


# --- splitting a window that broke off ---------------------------------------------------------


@pytest.mark.parametrize(
    "window, requested_at, expected",
    [
        (Window(d("2024-05-01"), d("2024-05-30")), "2024-06-02T00:00:00Z",
         [Window(d("2024-05-01"), d("2024-05-15")), Window(d("2024-05-16"), d("2024-05-30"))]),
        (Window(d("2024-05-01"), d("2024-05-03"), since=at("2024-05-01T22:00:00Z"), sweep=True), "2024-06-02T00:00:00Z",
         [Window(d("2024-05-01"), d("2024-05-01"), since=at("2024-05-01T22:00:00Z"), sweep=True), Window(d("2024-05-02"), d("2024-05-03"), sweep=True)]),
        (Window(d("2024-05-01"), d("2024-05-01")), "2024-06-02T00:00:00Z",
         [Window(d("2024-05-01"), d("2024-05-01"), until=at("2024-05-01T12:00:00Z")), Window(d("2024-05-01"), d("2024-05-01"), since=at("2024-05-01T12:00:00Z"))]),
        # today, asked at 06:00: the halves split what can exist (00:00-06:00); the second stays open-ended
        (Window(d("2024-05-01"), d("2024-05-01")), "2024-05-01T06:00:00Z",
         [Window(d("2024-05-01"), d("2024-05-01"), until=at("2024-05-01T03:00:00Z")), Window(d("2024-05-01"), d("2024-05-01"), since=at("2024-05-01T03:00:00Z"))]),
        (Window(d("2024-05-01"), d("2024-05-01"), since=at("2024-05-01T10:00:00Z"), until=at("2024-05-01T10:20:00Z")), "2024-06-02T00:00:00Z", None),
    ],
    ids=["days-in-halves", "the-first-half-keeps-since", "a-day-by-time", "today-up-to-the-request", "15-minutes-is-the-smallest"],
)
def test_split(window, requested_at, expected):
    assert split(window, at(requested_at), UTC) == expected


@pytest.mark.parametrize(
    "lookback, start_date, expected",
    [(0, "2024-01-01", {}), (2, "2024-05-10", {"2024-05-10": "2024-05-10T12:00:00Z"}),
     (2, "2024-01-01", {"2024-05-08": "2024-05-10T12:00:00Z", "2024-05-09": "2024-05-10T12:00:00Z", "2024-05-10": "2024-05-10T12:00:00Z"})],
    ids=["no-lookback-keeps-nothing", "days-before-start-date-are-dropped", "kept"],
)
def test_days_never_to_be_swept_leave_the_state(lookback, start_date, expected):
    state = ReadState.parse({"timestamp": "2024-05-10T12:00:00Z"}, UTC, 2)
    state.due_sweeps(d("2024-05-10"), settings(lookback_days=lookback, start_date=d(start_date)))
    assert state.swept == {d(day): at(instant) for day, instant in expected.items()}


def test_given_no_lookback_when_fresh_windows_are_read_day_after_day_then_the_state_holds_no_days():
    plan = settings(lookback_days=0)
    state = ReadState.parse({"timestamp": "2024-05-10T12:00:00Z", "swept": {}}, UTC, 0)
    for hour in range(13, 48):
        now = at("2024-05-10T00:00:00Z") + dt.timedelta(hours=hour)
        state.record_read(Window(now.date(), now.date(), since=now - dt.timedelta(minutes=70)), now, 10, plan, now.date())
    assert state.swept == {}
