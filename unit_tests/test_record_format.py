"""record_format: flat is mapping.to_record itself; xdm counts records over AEP's 10 KB Profile guardrail, exactly."""

from zoneinfo import ZoneInfo

import orjson
import pytest

from source_mixpanel_aep.config import XdmConfig
from source_mixpanel_aep.records import mapping
from source_mixpanel_aep.records.record_format import PROFILE_EVENT_LIMIT_BYTES, FlatRecords, XdmRecords, record_format, record_size
from source_mixpanel_aep.records.xdm import DEFAULT_NAMESPACES, XdmSettings

SETTINGS = XdmSettings("acme", dict(DEFAULT_NAMESPACES))
CONFIGURED = XdmConfig("acme", dict(DEFAULT_NAMESPACES), {})  # what record_format is handed: the config's XDM settings


def event(blob_length):
    return {"event": "e", "properties": {"time": 1714521636123, "$insert_id": "i1", "blob": "x" * blob_length}}


def test_flat_output_maps_with_the_flat_function_itself_and_declares_the_packaged_schema():
    chosen = record_format("flat", None)
    assert isinstance(chosen, FlatRecords) and chosen.map is mapping.to_record and chosen.json_schema is None


@pytest.mark.parametrize("output_format, settings, timestamp_of", [
    ("flat", None, lambda record: record["timestamp"]),
    ("xdm", CONFIGURED, lambda record: record["timestamp"]),
], ids=["flat", "xdm"])
def test_given_a_legacy_project_clock_then_map_reads_the_raw_time_on_it(output_format, settings, timestamp_of):
    """1714521636123 read as New York wall-clock time (EDT, UTC-4) is 4 hours later in UTC."""
    chosen = record_format(output_format, settings, ZoneInfo("America/New_York"))
    assert timestamp_of(chosen.map(event(0))) == "2024-05-01T04:00:36.123Z"
    assert timestamp_of(record_format(output_format, settings).map(event(0))) == "2024-05-01T00:00:36.123Z"


def test_xdm_output_declares_the_xdm_schema():
    chosen = record_format("xdm", CONFIGURED)
    assert isinstance(chosen, XdmRecords) and chosen.json_schema["required"] == ["_id", "timestamp", "eventType", "_acme"]
    assert chosen.settings == SETTINGS


@pytest.mark.parametrize("extra, counted", [(0, 0), (1, 1)], ids=["exactly 10 KB", "one byte more"])
def test_given_a_record_at_the_guardrail_then_only_a_larger_one_is_counted(extra, counted):
    chosen = XdmRecords(SETTINGS)
    base = len(orjson.dumps(XdmRecords(SETTINGS).map(event(0))))
    record = chosen.map(event(PROFILE_EVENT_LIMIT_BYTES - base + extra))
    assert record_size(record) == PROFILE_EVENT_LIMIT_BYTES + extra
    assert chosen.oversized == counted


def test_given_a_lone_surrogate_then_the_size_is_still_measured():
    assert record_size({"a": "\ud800"}) == len('{"a":"\ud800"}'.encode("utf-8", "surrogatepass"))
