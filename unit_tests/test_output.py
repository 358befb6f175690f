"""The one stdout writer: records batched, everything else at once and in order, secrets filtered, pipes widened."""

import io
import logging

import orjson
import pytest
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import AirbyteMessage, AirbyteRecordMessage, Type
from airbyte_cdk.utils.airbyte_secrets_utils import update_secrets

from source_mixpanel_aep.protocol.output import RECORD_PREFIX, RECORDS_PER_WRITE, ProtocolWriter, record_line
from source_mixpanel_aep.records.record_format import SerializedRecord

RECORD_LINE = '{"type":"RECORD","record":{"stream":"events","data":{"_id":"1"},"emitted_at":1}}'
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


XDM_CASES = {
    "xdm record": {"_id": "a1", "timestamp": "2024-05-01T00:00:00.123Z", "eventType": "Sign up",
                   "identityMap": {"MixpanelDistinctId": [{"id": "u1", "primary": True, "authenticatedState": "ambiguous"}]},
                   "_bench": {"distinct_id": "u1", "time": 1714521600, "properties": {"$os": "Linux", "n": "1.5"}}},
    "unicode and escapes": {"_id": "é\u2028\"\\", "_bench": {"properties": {"emoji": "\U0001F600", "ctrl": "\x01\t\n"}}},
}


@pytest.mark.parametrize("data", XDM_CASES.values(), ids=XDM_CASES.keys())
def test_a_record_carrying_its_own_json_is_spliced_into_byte_for_byte_the_cdks_line(data):
    serialized = SerializedRecord(data)
    serialized.json = orjson.dumps(data)
    record = AirbyteRecordMessage(stream="events", data=data, emitted_at=1714521600123)
    expected = AirbyteEntrypoint.airbyte_message_to_string(AirbyteMessage(type=Type.RECORD, record=record))
    assert record_line("events", serialized, 1714521600123).decode("utf-8") == expected == record_line("events", data, 1714521600123).decode("utf-8")


def test_the_spliced_json_is_what_is_written():
    serialized = SerializedRecord({"_id": "a"})
    serialized.json = b'{"_id":"spliced"}'  # if the writer serialised the dict again, this would not show
    assert b'"data":{"_id":"spliced"}' in record_line("events", serialized, 1)


class CountingStream(io.BytesIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.writes += 1
        return super().write(data)


def test_the_record_prefix_is_how_the_cdk_writes_a_record():
    message = AirbyteMessage(type=Type.RECORD, record=AirbyteRecordMessage(stream="events", data={"_id": "1"}, emitted_at=1))
    assert AirbyteEntrypoint.airbyte_message_to_string(message).startswith(RECORD_PREFIX)


def test_given_records_then_a_state_when_written_then_records_are_batched_and_the_state_follows_them_at_once():
    sink = CountingStream()
    writer = ProtocolWriter(sink)
    for _ in range(RECORDS_PER_WRITE - 1):
        writer.line(RECORD_LINE.encode())
    assert sink.getvalue() == b""  # still pending
    writer.line('{"type":"STATE"}')
    lines = sink.getvalue().decode().splitlines()
    assert len(lines) == RECORDS_PER_WRITE and lines[-1] == '{"type":"STATE"}'
    assert sink.writes == 1


def test_given_a_full_batch_when_written_then_it_goes_out_in_one_write():
    sink = CountingStream()
    writer = ProtocolWriter(sink)
    for _ in range(RECORDS_PER_WRITE * 2):
        writer.line(RECORD_LINE.encode())
    assert sink.writes == 2 and len(sink.getvalue().splitlines()) == RECORDS_PER_WRITE * 2


def test_given_a_log_line_after_pending_records_when_logged_then_it_is_written_after_them():
    sink = io.BytesIO()
    writer = ProtocolWriter(sink)
    logger = logging.getLogger("test_output.order")
    handler = logging.StreamHandler(writer)  # type: ignore[arg-type]
    logger.addHandler(handler)
    try:
        for _ in range(38):
            writer.line(RECORD_LINE.encode())
        logger.warning("window broke off after 38 records")
    finally:
        logger.removeHandler(handler)
    lines = sink.getvalue().decode().splitlines()
    assert lines[:38] == [RECORD_LINE] * 38 and lines[38] == "window broke off after 38 records"


def test_given_owning_stdout_when_printing_then_print_goes_through_the_writer_in_order_and_stdout_is_restored():
    import sys

    sink = io.BytesIO()
    writer = ProtocolWriter(sink)
    before = sys.stdout
    with writer.owning_stdout():
        writer.line(RECORD_LINE.encode())
        print("printed")
        print("in", end="")
        print(" parts")
        print("unfinished", end="")
    assert sys.stdout is before
    assert sink.getvalue().decode().splitlines() == [RECORD_LINE, "printed", "in parts", "unfinished"]


def test_given_a_registered_secret_when_a_non_record_line_carries_it_then_it_is_masked():
    update_secrets(["s3cr3t-value-for-output-test"])
    sink = io.BytesIO()
    writer = ProtocolWriter(sink)
    writer.line('{"type":"LOG","log":{"level":"INFO","message":"token s3cr3t-value-for-output-test"}}')
    writer.write("plain s3cr3t-value-for-output-test\n")
    writer.flush()
    assert b"s3cr3t-value-for-output-test" not in sink.getvalue()


def test_given_stdout_is_a_pipe_when_a_writer_is_made_then_the_pipe_buffer_is_raised_to_1_mb():
    import fcntl
    import os

    from source_mixpanel_aep.protocol.output import PIPE_BUFFER_BYTES

    read_end, write_end = os.pipe()
    try:
        before = fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ)
        with os.fdopen(write_end, "wb", closefd=False) as stream:
            ProtocolWriter(stream)
        ceiling = int(open("/proc/sys/fs/pipe-max-size").read())
        assert before < PIPE_BUFFER_BYTES
        assert fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ) == min(PIPE_BUFFER_BYTES, ceiling)
    finally:
        os.close(read_end)
        os.close(write_end)


@pytest.mark.parametrize("kind", ["no descriptor", "regular file"])
def test_given_stdout_is_not_a_pipe_when_a_writer_is_made_then_it_writes_as_usual(kind, tmp_path):
    target = open(tmp_path / "out", "wb") if kind == "regular file" else io.BytesIO()
    writer = ProtocolWriter(target)
    writer.line(RECORD_LINE.encode())
    writer.flush()
    written = target.getvalue() if isinstance(target, io.BytesIO) else (target.close(), (tmp_path / "out").read_bytes())[1]
    assert written == (RECORD_LINE + "\n").encode()


class _OtherDict(dict):
    """Not a record that carries its JSON: a dict subclass without bytes in `json`."""

    json = "not bytes"


@pytest.mark.parametrize("data", [_OtherDict({"_id": "a"}), SerializedRecord({"_id": "a"})], ids=["json not bytes", "json never set"])
def test_a_dict_without_its_json_bytes_is_serialised_as_any_record(data):
    assert record_line("events", data, 1) == record_line("events", {"_id": "a"}, 1) == b'{"type":"RECORD","record":{"stream":"events","data":{"_id":"a"},"emitted_at":1}}'
