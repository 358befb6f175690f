"""The pure mapping of annotations and funnels, and the funnels plan (reports.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from source_mixpanel_aep.records.people import Unmappable
from source_mixpanel_aep.records.reports import (
    annotation_entries,
    date_windows,
    duration_words,
    funnel_days,
    funnel_start,
    paced_seconds,
    to_annotation,
    to_funnel,
)

D = dt.date


@pytest.mark.parametrize(
    "raw, expected",
    [
        pytest.param({"id": 1, "date": "2024-03-01 10:00:00", "description": "v2", "project_id": 9,
                      "user": {"id": 7, "first_name": "Ann", "last_name": "Lee", "email": "a@x.com"}, "tags": [{"id": 3, "name": "release"}, "plain"]},
                     {"id": 1, "date": "2024-03-01T10:00:00Z", "description": "v2", "user": {"id": 7, "name": "Ann Lee", "email": "a@x.com"},
                      "tags": ["release", "plain"], "project_id": 9}, id="app-api-entry"),
        pytest.param({"id": "2", "date": "2024-03-01T10:00:00+02:00"}, {"id": 2, "date": "2024-03-01T08:00:00Z", "tags": []}, id="offset-converted-id-as-text"),
        pytest.param({"id": 3, "date": "2024-03-01 00:00:00", "user": {"name": "Bot"}}, {"id": 3, "date": "2024-03-01T00:00:00Z", "user": {"name": "Bot"}, "tags": []},
                     id="user-with-name-only"),
        pytest.param({"id": 4, "date": "2024-03-01 00:00:00", "user": None, "description": 12}, {"id": 4, "date": "2024-03-01T00:00:00Z", "description": "12", "tags": []},
                     id="number-description-as-text"),
    ],
)
def test_to_annotation(raw, expected):
    assert to_annotation(raw) == expected


def test_to_annotation_takes_the_configured_project_when_the_entry_has_none():
    assert to_annotation({"id": 1, "date": "2024-03-01 00:00:00"}, 4242)["project_id"] == 4242


@pytest.mark.parametrize(
    "raw, said",
    [
        pytest.param({"date": "2024-03-01 00:00:00"}, "integer id", id="no-id"),
        pytest.param({"id": 1.5, "date": "2024-03-01 00:00:00"}, "integer id", id="fraction-id"),
        pytest.param({"id": 1, "date": "2024-13-01 00:00:00"}, "no readable date", id="impossible-date"),
        pytest.param({"id": 1}, "no readable date", id="no-date"),
        pytest.param(["id", 1], "not an object", id="a-list"),
    ],
)
def test_to_annotation_refuses(raw, said):
    with pytest.raises(Unmappable, match=said):
        to_annotation(raw)


@pytest.mark.parametrize(
    "body, expected",
    [
        pytest.param({"status": "ok", "results": [{"id": 1}]}, [{"id": 1}], id="app-api"),
        pytest.param({"annotations": [{"id": 2}], "error": False}, [{"id": 2}], id="api-2.0"),
        pytest.param({"status": "ok", "results": []}, [], id="none"),
    ],
)
def test_annotation_entries(body, expected):
    assert annotation_entries(body) == expected


@pytest.mark.parametrize("body", [None, [], {"status": "ok"}, {"results": "x"}], ids=["null", "list", "no-results", "results-not-list"])
def test_annotation_entries_refuses_an_answer_of_neither_shape(body):
    with pytest.raises(Unmappable):
        annotation_entries(body)


def test_funnel_days_keeps_the_steps_as_mixpanel_returns_them_one_record_per_date_in_date_order():
    steps = [{"count": 10, "step_conv_ratio": 1, "overall_conv_ratio": 1, "event": "a", "custom": [1]}, {"count": 4, "step_conv_ratio": 0.4, "overall_conv_ratio": 0.4}]
    body = {"meta": {"dates": ["2024-03-02", "2024-03-01"]},
            "data": {"2024-03-02": {"steps": steps, "analysis": {"completion": 4}}, "2024-03-01": {"steps": []}}}
    records = list(funnel_days({"funnel_id": 7, "funnel_name": "Signup"}, body))
    assert records == [{"funnel_id": 7, "funnel_name": "Signup", "date": "2024-03-01", "steps": []},
                       {"funnel_id": 7, "funnel_name": "Signup", "date": "2024-03-02", "steps": steps, "analysis": {"completion": 4}}]


@pytest.mark.parametrize("body", [None, {"meta": {}}, {"data": []}, {"data": {"2024-03-01": 5}}], ids=["null", "no-data", "data-list", "day-not-object"])
def test_funnel_days_refuses_an_answer_without_days(body):
    with pytest.raises(Unmappable):
        list(funnel_days({"funnel_id": 7}, body))


@pytest.mark.parametrize(
    "raw, expected",
    [
        pytest.param({"funnel_id": 7, "name": "Signup"}, {"funnel_id": 7, "funnel_name": "Signup"}, id="listed"),
        pytest.param({"funnel_id": "8"}, {"funnel_id": 8, "funnel_name": ""}, id="id-as-text-no-name"),
    ],
)
def test_to_funnel(raw, expected):
    assert to_funnel(raw) == expected


def test_to_funnel_refuses_a_funnel_without_an_integer_id():
    with pytest.raises(Unmappable, match="funnel_id"):
        to_funnel({"name": "x"})


@pytest.mark.parametrize(
    "first, last, days, expected",
    [
        pytest.param(D(2024, 1, 1), D(2024, 1, 1), 30, [(D(2024, 1, 1), D(2024, 1, 1))], id="one-day"),
        pytest.param(D(2024, 1, 1), D(2024, 2, 14), 30, [(D(2024, 1, 1), D(2024, 1, 30)), (D(2024, 1, 31), D(2024, 2, 14))], id="45-days-by-30"),
        pytest.param(D(2024, 1, 2), D(2024, 1, 1), 30, [], id="nothing-to-read"),
        pytest.param(D(2024, 1, 1), D(2024, 1, 3), 1, [(D(2024, 1, 1),) * 2, (D(2024, 1, 2),) * 2, (D(2024, 1, 3),) * 2], id="windows-of-one"),
    ],
)
def test_date_windows(first, last, days, expected):
    assert date_windows(first, last, days) == expected


@pytest.mark.parametrize(
    "cursor, lookback, expected",
    [
        pytest.param(None, 5, D(2024, 1, 1), id="no-cursor-start-date"),
        pytest.param(D(2024, 3, 10), 5, D(2024, 3, 5), id="lookback-before-cursor"),
        pytest.param(D(2024, 3, 10), 0, D(2024, 3, 10), id="no-lookback-the-cursor-day-again"),
        pytest.param(D(2024, 1, 3), 5, D(2024, 1, 1), id="never-before-start-date"),
    ],
)
def test_funnel_start(cursor, lookback, expected):
    assert funnel_start(D(2024, 1, 1), cursor, lookback) == expected


@pytest.mark.parametrize(
    "queries, sent_ago, expected",
    [
        pytest.param(60, (), 0.0, id="60-at-once"),
        pytest.param(61, (), 3600.0, id="the-61st-an-hour-later"),
        pytest.param(390, (0.0,), 6 * 3600.0, id="30-funnels-a-year-after-the-list"),
        pytest.param(1, [600.0] * 60, 3000.0, id="a-full-hour-already-spent-by-profiles"),
        pytest.param(1, [4000.0] * 60, 0.0, id="queries-older-than-an-hour-do-not-count"),
        pytest.param(0, (), 0.0, id="nothing"),
    ],
)
def test_paced_seconds(queries, sent_ago, expected):
    assert paced_seconds(queries, 60, sent_ago) == expected


@pytest.mark.parametrize(
    "seconds, words",
    [pytest.param(0, "0 s", id="none"), pytest.param(44.2, "45 s", id="seconds"), pytest.param(300, "5 min", id="minutes"),
     pytest.param(6 * 3600, "6 h 00 min", id="hours"), pytest.param(3600 + 301, "1 h 06 min", id="hours-and-minutes")],
)
def test_duration_words(seconds, words):
    assert duration_words(seconds) == words
