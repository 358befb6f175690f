"""The `events` stream's reads are separate objects: asking for the plan (`stream_slices`) changes nothing.

Export requests are answered by requests-mock; time is the unit conftest's FakeClock, passed in
through the stream (or the source), never patched.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import re

import requests_mock
from airbyte_cdk.models import AirbyteStream, ConfiguredAirbyteStream, DestinationSyncMode, SyncMode, Type
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.utils.schema_helpers import InternalConfig
from airbyte_cdk.sources.utils.slice_logger import DebugSliceLogger

from source_mixpanel_aep.config import parse_config
from source_mixpanel_aep.source import SourceMixpanelAep
from source_mixpanel_aep.streams.export import ExportStream
from unit_tests.conftest import FakeClock

NOW = dt.datetime(2024, 1, 31, 12, tzinfo=dt.timezone.utc)
RAW = {"credentials": {"auth_type": "project_secret", "api_secret": "slices-secret"}, "start_date": "2024-01-01"}
EXPORT = re.compile(r"https://data\.mixpanel\.com/api/2\.0/export")
# Days owed a sweep, one of them before start_date (the plan drops such days from the state it plans on).
SAVED = {"timestamp": "2024-01-20T00:00:00.000Z", "swept": {"2023-12-30": None, "2024-01-18": "2024-01-19T00:00:00.000Z"}, "events_per_day": 3}


def stream(clock: FakeClock, state=None) -> ExportStream:
    made = ExportStream(parse_config(RAW, now=clock.now), clock=clock)
    if state is not None:
        made.state = state
    return made


def answer(request, context) -> bytes:
    """Two events a window, named by its days and time bounds: the records show which windows were read."""
    tag = json.dumps(request.query)[1:-1]  # from_date, to_date and the where filter (arrival bound, time bounds)
    return b"".join(b'{"event":"e","properties":{"time":1704067200000,"distinct_id":"u","$insert_id":"%s-%d"}}\n' % (tag.encode(), n) for n in (1, 2))


def read(made: ExportStream, sync_mode: SyncMode, state=None):
    """`read` as the sync loop calls it; every message as (type, what it says)."""
    configured = ConfiguredAirbyteStream(stream=AirbyteStream(name="events", json_schema={}, supported_sync_modes=[sync_mode]),
                                         sync_mode=sync_mode, destination_sync_mode=DestinationSyncMode.append)
    manager = ConnectorStateManager(state=[])
    with requests_mock.Mocker() as mock:
        mock.get(EXPORT, content=answer)
        messages = list(made.read(configured, logging.getLogger("airbyte"), DebugSliceLogger(), state or {}, manager, InternalConfig()))
    return [(m.type, m.record.data if m.type == Type.RECORD else dict(m.state.stream.stream_state.__dict__) if m.type == Type.STATE else m.trace.estimate if m.type == Type.TRACE else m.log.message)
            for m in messages]


def test_stream_slices_called_twice_gives_the_same_windows_and_leaves_the_stream_as_it_was():
    clock = FakeClock(now=NOW)
    for sync_mode, state in ((SyncMode.full_refresh, None), (SyncMode.incremental, None), (SyncMode.incremental, SAVED), (SyncMode.full_refresh, SAVED)):
        made = stream(clock, state)
        before, held, attributes = made.state, made._read_state, dict(vars(made))
        saved = copy.deepcopy(held)
        first, second = list(made.stream_slices(sync_mode)), list(made.stream_slices(sync_mode))
        assert first == second, (sync_mode, state)
        assert made.state == before and made._read_state is held and held == saved, (sync_mode, state)  # the saved state, untouched
        assert vars(made) == attributes, (sync_mode, state)  # nothing of the stream was set or replaced
    fresh = list(stream(clock).stream_slices(SyncMode.full_refresh))
    assert fresh[0] == {"from_date": "2024-01-01", "to_date": "2024-01-06"}  # no rate known: the first window probes 6 days
    assert fresh[1] == {"from_date": "2024-01-07", "to_date": "2024-01-31"}


def test_a_read_after_stream_slices_gives_the_records_and_states_of_a_read_without():
    for sync_mode, state in ((SyncMode.full_refresh, None), (SyncMode.incremental, SAVED)):
        planned_first = stream(FakeClock(now=NOW), state)
        planned_first.stream_slices(sync_mode)
        planned_first.stream_slices(sync_mode)
        after_plan = read(planned_first, sync_mode, state)
        alone = read(stream(FakeClock(now=NOW), state), sync_mode, state)
        assert after_plan == alone, sync_mode
        assert [kind for kind, _ in alone].count(Type.RECORD) >= 4 and (Type.STATE, planned_first.state) in after_plan


def test_two_reads_of_one_stream_from_the_same_state_share_no_sizer_progress_or_fallback():
    made = stream(FakeClock(now=NOW), SAVED)
    first = read(made, SyncMode.incremental, SAVED)
    made.state = SAVED  # as the sync loop sets it
    second = read(made, SyncMode.incremental, SAVED)  # the pacing budget is the stream's: its waits move the clock, so states differ in time only
    assert [(kind, said) for kind, said in second if kind != Type.STATE] == [(kind, said) for kind, said in first if kind != Type.STATE]
    assert [kind for kind, _ in second] == [kind for kind, _ in first]


def test_the_source_gives_its_clock_to_every_stream_and_budget_and_records_are_stamped_by_it():
    clock = FakeClock(now=NOW)
    streams = SourceMixpanelAep(clock=clock).streams({**RAW, "project_id": 1, "credentials": {"auth_type": "service_account", "username": "clock-test-user", "secret": "clock-test-secret"}})
    assert len(streams) == 7
    for made in streams:
        assert made._clock is clock, made.name
    assert streams[0].pacing._clock == clock.monotonic and streams[0].pacing._sleep == clock.sleep
    budgets = {id(made._http_client._api_budget) for made in streams[1:]}
    assert len(budgets) == 1 and streams[1]._http_client._api_budget._clock == clock.monotonic
    messages = read(stream(clock), SyncMode.full_refresh)
    records = [data for kind, data in messages if kind == Type.RECORD]
    assert records and all(isinstance(data, dict) for data in records)


def test_a_record_s_emitted_at_and_an_estimate_s_are_the_clock_s():
    clock = FakeClock(now=NOW)
    configured = ConfiguredAirbyteStream(stream=AirbyteStream(name="events", json_schema={}, supported_sync_modes=[SyncMode.full_refresh]),
                                         sync_mode=SyncMode.full_refresh, destination_sync_mode=DestinationSyncMode.append)
    with requests_mock.Mocker() as mock:
        mock.get(EXPORT, content=answer)
        messages = list(stream(clock).read(configured, logging.getLogger("airbyte"), DebugSliceLogger(), {}, ConnectorStateManager(state=[]), InternalConfig()))
    stamp = int(NOW.timestamp() * 1000)
    assert {m.record.emitted_at for m in messages if m.type == Type.RECORD} == {stamp}
    assert {m.trace.emitted_at for m in messages if m.type == Type.TRACE} == {stamp}
