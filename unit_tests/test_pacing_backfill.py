"""Pacing over a long backfill: the real stream's request sequence on a fake clock.

Mixpanel allows 60 export requests per rolling hour and 3 per second. A year's backfill is driven
through ExportStream (windows, HttpClient, PacingBudget) against requests-mock, with a clock that
only moves when a response "takes time" or the budget sleeps. Checked: no rolling hour ever holds
more than 60 requests and no second more than 3, and the budget never waits while under both
limits (every wait ends exactly when the oldest request leaves the window).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests_mock
from airbyte_cdk.models import SyncMode, Type

from source_mixpanel_aep.config import parse_config
from source_mixpanel_aep.streams.export import ExportStream
from source_mixpanel_aep.streams.pacing import REQUESTS_PER_HOUR, REQUESTS_PER_SECOND
from unit_tests.conftest import FakeClock

NOW = dt.datetime(2025, 1, 1, 12, tzinfo=dt.timezone.utc)
LIMITS = ((REQUESTS_PER_HOUR, 3600.0), (REQUESTS_PER_SECOND, 1.0))


def backfill(*, response_seconds: float, **config_overrides):
    """Run a 365-day backfill; returns [(ready, sent)] per request: when the stream wanted to send, and when it did."""
    clock = FakeClock(now=NOW)  # one clock for the stream and its PacingBudget: it moves only by responses and sleeps
    raw = {"credentials": {"auth_type": "project_secret", "api_secret": "pacing-secret"}, "start_date": str(NOW.date() - dt.timedelta(days=365))}
    config = parse_config({**raw, **config_overrides}, now=clock.now)
    stream = ExportStream(config, clock=clock)
    requests_seen: list[tuple[float, float]] = []
    waited = [0.0]

    def answer(request, context):
        sent = clock.monotonic()
        ready = sent - (sum(clock.sleeps) - waited[0])  # minus the wait just before this request
        waited[0] = sum(clock.sleeps)
        requests_seen.append((ready, sent))
        clock.advance(response_seconds)
        day = request.qs["from_date"][0]
        return f'{{"event":"e","properties":{{"time":1700000000000,"$insert_id":"{day}"}}}}\n'.encode()

    with requests_mock.Mocker() as mock:
        mock.get(re.compile(r"https://data\.mixpanel\.com/api/2\.0/export"), content=answer)
        records = [
            record
            for stream_slice in stream.stream_slices(SyncMode.full_refresh)
            for record in stream.read_records(SyncMode.full_refresh, stream_slice=stream_slice)
            if record.type == Type.RECORD
        ]
    return requests_seen, records, clock, stream.pacing


def assert_paced(requests_seen):
    sent = [s for _, s in requests_seen]
    for i, (ready, at) in enumerate(requests_seen):
        earliest = max([ready] + [sent[i - count] + period for count, period in LIMITS if i >= count])
        # Within the limits, and not a moment later than they (or the stream) required.
        assert at == pytest.approx(earliest, abs=1e-6), (i, ready, at, earliest)
    for count, period in LIMITS:
        for i in range(count, len(sent)):
            assert sent[i] - sent[i - count] >= period - 1e-6, (i, count, period)


def test_given_default_settings_when_a_year_is_backfilled_then_13_requests_never_more_than_3_a_second_and_no_needless_wait():
    requests_seen, records, clock, pacing = backfill(response_seconds=0.05)
    assert len(requests_seen) == 13 and len(records) == 13  # 30-day windows
    assert_paced(requests_seen)
    assert len(clock.sleeps) == 4  # the 4th, 7th, 10th and 13th request each waited out a full second
    assert sum(clock.sleeps) == pytest.approx(pacing.total_wait_seconds)  # every sleep was the budget's: no window re-read paused


@pytest.mark.parametrize("response_seconds", [0.05, 45.0], ids=["fast-answers", "slow-answers"])
def test_given_one_day_windows_when_a_year_is_backfilled_then_never_over_60_an_hour_or_3_a_second_and_no_needless_wait(response_seconds):
    requests_seen, records, clock, pacing = backfill(response_seconds=response_seconds, date_window_days=1)
    assert len(requests_seen) == 366 and len(records) == 366
    assert_paced(requests_seen)
    hours = (requests_seen[-1][1] - requests_seen[0][1]) / 3600
    assert 6.0 <= hours < 6.1  # 366 requests at 60 per hour: six full hours, and not more
    if response_seconds > 3600 / REQUESTS_PER_HOUR:  # answers slower than the hourly pace: no wait is ever needed
        assert clock.sleeps == []

