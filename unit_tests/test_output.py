"""The fast RECORD writer must write exactly what the CDK's serialiser writes."""

import io
import time

import pytest
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import AirbyteMessage, AirbyteRecordMessage, Type

from source_mixpanel_aep.output import RECORDS_PER_WRITE, MessageWriter, record_line
from source_mixpanel_aep.streams.messages import record_message

CASES = {
    "typical record": {"_id": "a1", "timestamp": "2024-05-01T00:00:00.123Z", "time": 1714521600, "event_name": "Sign up",
                       "distinct_id": "u1", "insert_id": "a1", "import": None, "properties": {"$os": "Linux", "n": 1.5}},
    "null columns": {"_id": "x", "item_id": None, "item_name": None, "properties": {"nested": {"empty": None}, "list": [None, 1]}},
    "unicode and escapes": {"_id": "é\u2028\"\\", "properties": {"emoji": "\U0001F600", "ctrl": "\x01\t\n"}},
    "integers beyond 64 bits": {"_id": "big", "mp_api_timestamp_ms": 2**70, "properties": {"neg": -(2**70)}},
    "booleans and empty containers": {"_id": "b", "import": False, "properties": {"t": True, "o": {}, "l": []}},
}


@pytest.mark.parametrize("data", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("namespace", [None, "mixpanel"])
def test_record_line_is_byte_for_byte_what_the_cdk_writes(data, namespace):
    record = AirbyteRecordMessage(stream="events", data=data, emitted_at=1714521600123, namespace=namespace)
    expected = AirbyteEntrypoint.airbyte_message_to_string(AirbyteMessage(type=Type.RECORD, record=record))
    assert record_line("events", data, 1714521600123, namespace).decode("utf-8") == expected


def test_given_records_then_a_state_when_written_then_records_are_batched_and_the_state_follows_them_at_once():
    sink = io.BytesIO()
    writes = []
    writer = MessageWriter(stream=sink, flush_text=lambda: writes.append(len(sink.getvalue())))
    for _ in range(RECORDS_PER_WRITE - 1):
        writer.record("events", {"_id": "1"}, 1)
    assert sink.getvalue() == b""  # still pending
    writer.message('{"type":"STATE"}')
    lines = sink.getvalue().decode().splitlines()
    assert len(lines) == RECORDS_PER_WRITE and lines[-1] == '{"type":"STATE"}'
    assert all(line.startswith('{"type":"RECORD"') for line in lines[:-1])


def test_record_message_is_the_message_the_cdk_would_build_from_keywords():
    """record_message passes the protocol classes' fields by position: a reordered field must fail here."""
    data = CASES["typical record"]
    before = time.time_ns() // 1_000_000
    built = record_message("events", data)
    after = time.time_ns() // 1_000_000
    assert before <= built.record.emitted_at <= after
    keywords = AirbyteMessage(type=Type.RECORD, record=AirbyteRecordMessage(stream="events", data=data, emitted_at=built.record.emitted_at))
    assert built == keywords
    assert AirbyteEntrypoint.airbyte_message_to_string(built) == AirbyteEntrypoint.airbyte_message_to_string(keywords)


def test_given_stdout_is_a_pipe_when_a_writer_is_made_then_the_pipe_buffer_is_raised_to_1_mb():
    import fcntl
    import os

    from source_mixpanel_aep.output import PIPE_BUFFER_BYTES

    read_end, write_end = os.pipe()
    try:
        before = fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ)
        with os.fdopen(write_end, "wb", closefd=False) as stream:
            MessageWriter(stream=stream, flush_text=lambda: None)
        ceiling = int(open("/proc/sys/fs/pipe-max-size").read())
        assert before < PIPE_BUFFER_BYTES
        assert fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ) == min(PIPE_BUFFER_BYTES, ceiling)
    finally:
        os.close(read_end)
        os.close(write_end)


@pytest.mark.parametrize("kind", ["no descriptor", "regular file"])
def test_given_stdout_is_not_a_pipe_when_a_writer_is_made_then_it_writes_as_usual(kind, tmp_path):
    target = open(tmp_path / "out", "wb") if kind == "regular file" else io.BytesIO()
    writer = MessageWriter(stream=target, flush_text=lambda: None)
    writer.record("events", {"_id": "1"}, 1)
    writer.flush()
    written = target.getvalue() if isinstance(target, io.BytesIO) else (target.close(), (tmp_path / "out").read_bytes())[1]
    assert written == b'{"type":"RECORD","record":{"stream":"events","data":{"_id":"1"},"emitted_at":1}}\n'
