"""output_format "xdm" over real HTTP against the fake Mixpanel: discover, read, the guardrail WARN, and the
documented path to AEP's batch ingestion (a `read` process -> `source-mixpanel-aep-xdm jsonl` -> files).

Every XDM record is checked with unit_tests/xdm_validator.py: the field group the schema command
prints for the same config, ExperienceEvent's core fields, and the XDM rules.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from airbyte_cdk.models import FailureType, SyncMode

from integration_tests.builders import (
    REPO,
    catalog_json,
    config,
    connector_command,
    error_messages,
    expected_ids,
    ids,
    protocol_lines,
    record_data,
    run_discover,
    run_process,
    run_read,
    write_files,
)
from integration_tests.fake_mixpanel import FakeMixpanel
from integration_tests.test_bad_input import HOSTILE
from source_mixpanel_aep.config import parse_config
from source_mixpanel_aep.records.xdm import xdm_settings
from source_mixpanel_aep.records.xdm_payloads import field_group
from unit_tests.xdm_validator import XdmValidator

DAYS = [dt.date(2024, 5, 1), dt.date(2024, 5, 2), dt.date(2024, 5, 3)]
XDM = {"output_format": "xdm", "xdm_tenant_id": "_extconndev", "xdm_fields": {"$browser": "string", "$screen_width": "integer", "is_logged_in": "boolean"},
       "start_date": "2024-05-01", "end_date": "2024-05-03", "date_window_days": 2}


def validator_for(cfg):
    return XdmValidator(field_group(xdm_settings(parse_config(cfg).xdm)))


def xdm_records(output):
    return [message.record.data for message in output.records]


@pytest.fixture(scope="module")
def fake3():
    with FakeMixpanel(events_per_day=150, days=DAYS) as server:
        yield server


def test_given_xdm_output_when_read_then_every_record_is_a_valid_experience_event_with_the_flat_records_id(fake3):
    cfg = config(fake3.url, **XDM)
    records = xdm_records(run_read(cfg, sync_mode=SyncMode.full_refresh))
    flat = record_data(run_read(config(fake3.url, **{key: XDM[key] for key in ("start_date", "end_date", "date_window_days")}), sync_mode=SyncMode.full_refresh))
    assert len(records) == len(flat) == 450
    validator = validator_for(cfg)
    for record in records:
        validator.check(record)
    assert ids(records) == ids(flat)
    by_id = {record["_id"]: record for record in flat}
    for record in records:
        twin = by_id[record["_id"]]
        assert (record["timestamp"], record["eventType"]) == (twin["timestamp"], twin["event_name"])
        assert record["identityMap"]["MixpanelDistinctId"] == [{"id": twin["distinct_id"], "authenticatedState": "ambiguous", "primary": True}]
    promoted = [record["_extconndev"] for record in records]
    assert all(isinstance(fields["browser"], str) and isinstance(fields["screen_width"], int) for fields in promoted)
    assert sum("MixpanelUserId" in record["identityMap"] for record in records) > 0  # the fake has logged-in events too


def test_given_xdm_output_when_discover_then_the_stream_schema_is_the_xdm_records(fake3):
    schema = run_discover(config(fake3.url, **XDM)).catalog.catalog.streams[0].json_schema
    assert schema["required"] == ["_id", "timestamp", "eventType", "_extconndev"]
    assert set(schema["properties"]["_extconndev"]["properties"]) >= {"distinct_id", "event_name", "time", "browser", "screen_width", "properties"}
    flat_schema = run_discover(config(fake3.url)).catalog.catalog.streams[0].json_schema
    assert "event_name" in flat_schema["properties"] and "eventType" not in flat_schema["properties"]


def test_given_xdm_output_without_a_tenant_when_read_then_a_config_error_names_it_before_any_request(fake):
    output = run_read(config(fake.url, output_format="xdm"))
    assert output.errors[0].trace.error.failure_type == FailureType.config_error
    assert "xdm_tenant_id" in error_messages(output)[0]
    assert fake.requests == []


def test_given_events_over_aeps_10_kb_guardrail_then_they_are_emitted_and_one_warn_per_window_counts_them(fake):
    day = dt.date(2024, 5, 1)
    start = int(dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc).timestamp())
    events = [{"event": "Big", "properties": {"time": start + index, "distinct_id": f"u{index}", "$insert_id": f"big-{index}",
                                              "blob": "x" * (11_000 if index % 2 else 100)}} for index in range(6)]
    fake.add_events(events)
    output = run_read(config(fake.url, **{**XDM, "start_date": day.isoformat(), "end_date": day.isoformat()}))
    assert sorted(record["_id"] for record in xdm_records(output)) == expected_ids(events)
    warnings = [message.log.message for message in output.logs if "guardrail" in message.log.message]
    assert warnings == ["Window 2024-05-01..2024-05-01: 3 record(s) are larger than AEP's 10 KB guardrail for Profile ExperienceEvents; "
                        "they were emitted, and AEP may keep them out of Real-Time Customer Profile."]


def test_given_a_real_read_process_when_its_output_goes_through_the_jsonl_command_then_every_line_is_a_valid_record(fake3, tmp_path):
    """What *Into Adobe Experience Platform* (docs/aep.md) says to do, as processes: read | source-mixpanel-aep-xdm jsonl."""
    cfg = config(fake3.url, **XDM)
    paths = write_files(tmp_path, config=cfg, catalog=catalog_json(SyncMode.full_refresh))
    read = subprocess.run(connector_command("read", "--config", paths["config"], "--catalog", paths["catalog"]), cwd=REPO,
                          capture_output=True, timeout=120)
    assert read.returncode == 0, read.stderr[-2000:]
    out_dir = tmp_path / "batch"
    split = subprocess.run([sys.executable, "-m", "source_mixpanel_aep.aep.command", "jsonl", "--out-dir", str(out_dir), "--max-file-mb", "0.1"],
                           cwd=REPO, input=read.stdout, capture_output=True, timeout=120)
    assert split.returncode == 0, split.stderr[-2000:]
    files = sorted(out_dir.glob("events-*.jsonl"))
    assert len(files) > 1 and all(path.stat().st_size <= 100_000 for path in files)  # split under the limit, never mid-line
    validator = validator_for(cfg)
    lines = [line for path in files for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 450
    for line in lines:
        validator.check(json.loads(line))
    assert len({json.loads(line)["_id"] for line in lines}) == 450


def test_given_a_failed_read_when_piped_to_the_jsonl_command_then_it_exits_1_and_says_the_files_are_partial(tmp_path):
    messages = [{"type": "RECORD", "record": {"stream": "events", "data": {"_id": "a", "_acme": {"distinct_id": "u"}}, "emitted_at": 1}},
                {"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": 2, "error": {"message": "Window 2024-05-01..2024-05-02 could not be read"}}}]
    stdin = "".join(json.dumps(message) + "\n" for message in messages).encode()
    done = subprocess.run([sys.executable, "-m", "source_mixpanel_aep.aep.command", "jsonl", "--out-dir", str(tmp_path)], cwd=REPO,
                          input=stdin, capture_output=True, timeout=60)
    assert done.returncode == 1 and b"only part of it" in done.stderr and b"could not be read" in done.stderr
    assert Path(tmp_path / "events-00001.jsonl").read_text() == '{"_id":"a","_acme":{"distinct_id":"u"}}\n'


def test_given_every_hostile_line_when_read_as_xdm_by_the_command_then_the_same_events_arrive_valid_and_exact(tmp_path):
    """test_bad_input's hostile lines, in xdm mode: what flat delivers arrives, valid XDM, huge integers as their exact text."""
    day = dt.date(2024, 5, 1)
    with FakeMixpanel(events_per_day=3, days=[day]) as fake:
        for make_line, *_ in HOSTILE.values():
            fake.add_raw_line(day, make_line(day))
        cfg = config(fake.url, **{**XDM, "start_date": str(day), "end_date": str(day)})
        files = write_files(tmp_path, config=cfg, catalog=catalog_json())
        done = run_process(["read", "--config", files["config"], "--catalog", files["catalog"]])
    assert done.returncode == 1, done.stderr[-2000:]  # the unusable lines are reported as a failure, after everything else
    messages = protocol_lines(done.stdout)
    assert [m["trace"]["error"]["failure_type"] for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"][-1] == "system_error"
    records = {m["record"]["data"]["_extconndev"].get("insert_id"): m["record"]["data"] for m in messages if m["type"] == "RECORD"}
    assert sorted(insert_id for insert_id in records if insert_id and insert_id.startswith("h-")) == sorted(
        ["h-big", "h-deep-300", "h-bytes", "h-nan", "h-ints", "h-i64", "h-dup"])
    validator = validator_for(cfg)
    for record in records.values():
        validator.check(record)
    assert records["h-ints"]["_extconndev"]["properties"]["n"] == "123456789012345678901234567890"
    assert records["h-ints"]["_extconndev"]["properties"]["m"] == "-18446744073709551617"
    assert records["h-i64"]["_extconndev"]["properties"]["k"] == "-9223372036854775809"
    assert "properties" not in records["h-nan"]["_extconndev"]  # its only properties were NaN and -Infinity: null, left out
    logs = [m["log"]["message"] for m in messages if m["type"] == "LOG"]
    assert any("1 record(s) are larger than AEP's 10 KB guardrail" in line for line in logs), logs  # the 10 MB line
