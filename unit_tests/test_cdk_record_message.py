"""cdk/stream_read.record_message: the one place a RECORD is built positionally, and its guard."""

import dataclasses

import pytest
from airbyte_cdk.models import AirbyteMessage, AirbyteRecordMessage, Type

from source_mixpanel_aep.cdk import stream_read


def test_given_the_pinned_protocol_classes_then_the_positional_form_is_the_one_used():
    assert stream_read.POSITIONAL is True
    assert stream_read.record_message is stream_read._positional_record_message


@pytest.mark.parametrize("build", [stream_read._positional_record_message, stream_read._keyword_record_message], ids=["positional", "keywords"])
def test_given_a_record_then_both_forms_build_the_message_the_cdk_would(build):
    expected = AirbyteMessage(type=Type.RECORD, record=AirbyteRecordMessage(stream="events", data={"a": 1}, emitted_at=1700000000000))
    assert build("events", {"a": 1}, 1700000000000) == expected


def test_given_protocol_classes_whose_fields_moved_then_the_guard_says_so(monkeypatch):
    real = dataclasses.fields

    def reordered(cls):
        found = real(cls)
        return tuple(reversed(found)) if cls is AirbyteRecordMessage else found

    monkeypatch.setattr(stream_read.dataclasses, "fields", reordered)
    assert stream_read._positional_order_holds() is False
