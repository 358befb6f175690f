"""Each STATE's sourceStats.recordCount counts the records since the previous STATE of that run only."""

from collections import defaultdict

from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteRecordMessage,
    AirbyteStateMessage,
    AirbyteStateType,
    AirbyteStreamState,
    StreamDescriptor,
    Type,
)

from source_mixpanel_aep.run import SourceEntrypoint
from source_mixpanel_aep.source import SourceMixpanelAep


def record() -> AirbyteMessage:
    return AirbyteMessage(type=Type.RECORD, record=AirbyteRecordMessage(stream="events", data={"_id": "1"}, emitted_at=1))


def state() -> AirbyteMessage:
    stream_state = AirbyteStreamState(stream_descriptor=StreamDescriptor(name="events"), stream_state={"timestamp": "2024-05-01T00:00:00.000Z"})
    return AirbyteMessage(type=Type.STATE, state=AirbyteStateMessage(type=AirbyteStateType.STREAM, stream=stream_state))


def test_given_records_then_a_state_then_the_state_counts_them_and_the_next_state_starts_from_zero():
    entrypoint, counts = SourceEntrypoint(SourceMixpanelAep()), defaultdict(float)
    for _ in range(3):
        entrypoint.handle_record_counts(record(), counts)
    assert entrypoint.handle_record_counts(state(), counts).state.sourceStats.recordCount == 3.0
    assert entrypoint.handle_record_counts(state(), counts).state.sourceStats.recordCount == 0.0


def test_given_a_run_that_stopped_mid_window_then_a_new_run_in_the_same_process_does_not_count_its_records():
    failed_run = SourceEntrypoint(SourceMixpanelAep())
    for _ in range(5):
        failed_run.handle_record_counts(record(), defaultdict(float))  # no STATE: the window broke off
    next_run, counts = SourceEntrypoint(SourceMixpanelAep()), defaultdict(float)
    next_run.handle_record_counts(record(), counts)
    assert next_run.handle_record_counts(state(), counts).state.sourceStats.recordCount == 1.0
