"""streams/parts.py: the `$last_seen` parts of an Engage query, split and bounded (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from source_mixpanel_aep.streams.parts import MAX_PARTS, SESSION_RESTARTS, Part, PartPlan, Unfinishable

UTC = dt.timezone.utc
STARTED = dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "part, where",
    [
        (Part(), None),
        (Part("undefined"), 'not defined(properties["$last_seen"])'),
        (Part("range", low=at("2024-05-01T09:00:00")), 'properties["$last_seen"] > "2024-05-01T09:00:00"'),
        (Part("range", high=at("2024-05-01T09:00:00")), 'properties["$last_seen"] <= "2024-05-01T09:00:00"'),
        (Part("range", at("2024-05-01T00:00:00"), at("2024-06-01T00:00:00")),
         'properties["$last_seen"] > "2024-05-01T00:00:00" and properties["$last_seen"] <= "2024-06-01T00:00:00"'),
    ],
    ids=["whole-query", "undefined", "above-the-cursor", "open-below", "closed"],
)
def test_given_a_part_when_asked_for_its_where_then_mixpanels_offset_less_utc_text(part, where):
    assert part.where() == where


def test_given_the_whole_query_when_split_then_the_undefined_part_first_and_two_ranges_that_share_their_bound():
    undefined, lower, upper = Part().halves((at("2024-01-01T00:00:00"), at("2024-01-03T00:00:00")), STARTED)
    assert undefined == Part("undefined")
    assert (lower.low, lower.high, upper.low, upper.high) == (None, at("2024-01-02T00:00:00"), at("2024-01-02T00:00:00"), None)


@pytest.mark.parametrize(
    "part, seen, middle",
    [
        (Part("range", at("2024-01-01T00:00:00"), at("2024-01-01T00:00:10")), None, at("2024-01-01T00:00:05")),
        (Part("range", at("2024-01-01T00:00:00"), at("2024-01-01T00:00:10")), (at("2024-01-01T00:00:02"), at("2024-01-01T00:00:04")), at("2024-01-01T00:00:03")),
        (Part("range", at("2024-01-01T00:00:00"), None), None, at("2024-01-01T00:00:00") + (STARTED + dt.timedelta(days=1) - at("2024-01-01T00:00:00")) / 2),
    ],
    ids=["range-middle", "middle-of-what-was-read", "open-above-up-to-a-day-after-the-start"],
)
def test_given_a_range_when_split_then_at_the_middle_of_what_was_read_else_of_the_range(part, seen, middle):
    assert part.middle(seen, STARTED) == middle.replace(microsecond=0)


@pytest.mark.parametrize(
    "part",
    [Part("undefined"), Part("range", at("2024-01-01T00:00:00"), at("2024-01-01T00:00:01")), Part("range", STARTED + dt.timedelta(days=2), None)],
    ids=["undefined", "one-second", "entirely-in-the-future"],
)
def test_given_a_part_that_cannot_be_split_when_its_session_keeps_expiring_then_unfinishable_after_the_restarts(part):
    plan = PartPlan(part, STARTED)
    for _ in range(SESSION_RESTARTS):
        assert plan.next() == part
        assert plan.expired(part, 1, None) == (part,)
    plan.next()
    with pytest.raises(Unfinishable, match="cannot be split"):
        plan.expired(part, 1, None)
    assert plan.parts_read == SESSION_RESTARTS + 1


def test_given_a_sorted_session_that_expired_when_planned_then_what_was_read_is_done_and_the_rest_is_one_part():
    plan = PartPlan(Part("range", low=at("2024-01-01T00:00:00")), STARTED)
    first = plan.next()
    done, rest = plan.expired(first, 2, None, sorted_up_to=at("2024-01-01T05:00:00"))
    assert done == Part("done", at("2024-01-01T00:00:00"), at("2024-01-01T04:59:59"))  # the last second read may go on
    assert rest == Part("range", at("2024-01-01T04:59:59"), None)
    assert plan.next() == done and plan.parts_read == 1  # a done part costs no query
    plan.completed(done)
    assert plan.next() == rest and plan.parts_read == 2


def test_given_two_expired_sessions_when_a_part_needs_more_pages_than_they_served_then_it_is_too_big():
    plan = PartPlan(Part(), STARTED)
    lower = plan.expired(plan.next(), 3, (at("2024-01-01T00:00:00"), at("2024-01-09T00:00:00")))[1]
    assert plan.capacity_pages is None and not plan.too_big(lower, 50)  # one expiry may be a fluke
    plan.completed(plan.next())  # the undefined part
    plan.expired(plan.next(), 5, None)
    assert plan.capacity_pages == 5
    assert plan.too_big(plan.next(), 6) and not plan.too_big(plan.next(), 5)


def test_given_parts_that_always_expire_when_split_again_and_again_then_the_plan_ends_within_max_parts():
    plan = PartPlan(Part(), STARTED)
    with pytest.raises(Unfinishable):
        for _ in range(10 * MAX_PARTS):
            part = plan.next()
            plan.expired(part, 1, None)
    assert plan.splits <= MAX_PARTS and plan.parts_read <= MAX_PARTS + SESSION_RESTARTS + 2
