"""`profiles` with output_format "xdm" over real HTTP against the fake Mixpanel: discover, full and incremental reads.

Every record is checked with unit_tests/xdm_validator.py against the profile field group the schema
command prints for the same config, the Profile class's standard fields and the XDM rules; ids are
compared with a flat read of the same fake.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

from airbyte_cdk.models import SyncMode

from integration_tests.builders import (
    REPO,
    catalog_json,
    config,
    connector_command,
    days_back,
    run_discover,
    run_read,
    states,
    stream_records,
    stream_states,
    write_files,
)
from integration_tests.fake_mixpanel import FakeMixpanel
from integration_tests.fake_mixpanel.people import generated_profile, last_seen_of
from source_mixpanel_aep.config import parse_config
from source_mixpanel_aep.records.xdm import xdm_settings
from source_mixpanel_aep.records.xdm_profile_payloads import profile_field_group
from unit_tests.xdm_validator import XdmValidator

XDM = {"output_format": "xdm", "xdm_tenant_id": "_extconndev"}


def people_fake(**options) -> FakeMixpanel:
    return FakeMixpanel(**{"profiles": 47, "page_size": 10, **options})


def xdm_profiles(output):
    return [message.record.data for message in output.records if message.record.stream == "profiles"]


def valid(cfg, records):
    validator = XdmValidator(profile_field_group(xdm_settings(parse_config(cfg).xdm)))
    for record in records:
        validator.check(record)
    return records


def test_given_xdm_output_when_profiles_read_then_every_record_is_a_valid_individual_profile_with_the_flat_reads_ids():
    with people_fake() as fake:
        cfg = config(fake.url, **XDM)
        output = run_read(cfg, streams=["profiles"])
        flat = stream_records(run_read(config(fake.url), streams=["profiles"]), "profiles")

    assert not output.errors
    records = valid(cfg, xdm_profiles(output))
    assert len(records) == len(flat) == 47
    assert [record["_extconndev"]["distinct_id"] for record in records] == [record["distinct_id"] for record in flat]
    assert [record["identityMap"]["MixpanelDistinctId"] for record in records] == [
        [{"id": record["distinct_id"], "authenticatedState": "ambiguous", "primary": True}] for record in flat]
    assert len({record["_id"] for record in records}) == 47
    assert sum("mobilePhone" in record for record in records) == 20  # $phone on profiles 0, 1, 5, 6, ... 45, 46
    by_id = {record["distinct_id"]: record for record in flat}
    for record in records:
        twin = by_id[record["_extconndev"]["distinct_id"]]
        assert record["personalEmail"] == {"address": twin["email"]}
        assert record["identityMap"]["Email"] == [{"id": twin["email"], "authenticatedState": "ambiguous", "primary": False}]
        assert record["person"]["name"] == {"firstName": twin["first_name"], "lastName": twin["last_name"], "fullName": twin["name"]}
        assert record.get("mobilePhone") == ({"number": twin["phone"]} if "phone" in twin else None)
        assert record["homeAddress"] == {"city": twin["city"], "region": twin["region"], "countryCode": twin["country_code"]}
        assert record["_extconndev"]["timezone"] == twin["timezone"]
        assert record["_extconndev"]["last_seen"] == twin["last_seen"]
    # the same state as a flat read: switching output_format keeps the cursor
    assert stream_states(output, "profiles") == [{"last_seen": last_seen_of(46).isoformat() + "Z"}]


def test_given_xdm_output_when_profiles_read_again_with_the_state_then_only_changed_profiles_come_and_the_cursor_moves():
    later = dt.datetime(2024, 3, 1, 12, 0, 0)
    with people_fake() as fake:
        cfg = config(fake.url, **XDM)
        [first_state] = stream_states(run_read(cfg, streams=["profiles"]), "profiles")
        changed = generated_profile(5)
        fake.set_profiles([{**changed, "$properties": {**changed["$properties"], "$last_seen": later.isoformat(), "plan": "team"}}])
        second = run_read(cfg, streams=["profiles"], raw_state=states(profiles=first_state))
        wheres = [request.form.get("where") for request in fake.requests if request.path == "/api/query/engage" and not request.form.get("session_id")]

    [record] = valid(cfg, xdm_profiles(second))
    assert record["_extconndev"]["distinct_id"] == "user-000005" and record["_extconndev"]["properties"]["plan"] == "team"
    assert stream_states(second, "profiles") == [{"last_seen": "2024-03-01T12:00:00Z"}]
    assert wheres == [None, f'properties["$last_seen"] > "{first_state["last_seen"].rstrip("Z")}"']


def test_given_xdm_output_when_discover_then_profiles_declares_the_xdm_record_with_the_tenant_paths_as_key_and_cursor():
    with people_fake() as fake:
        streams = {stream.name: stream for stream in run_discover(config(fake.url, **XDM)).catalog.catalog.streams}
        flat = {stream.name: stream for stream in run_discover(config(fake.url)).catalog.catalog.streams}
    profiles = streams["profiles"]
    assert profiles.json_schema["required"] == ["_id", "_extconndev"]
    assert set(profiles.json_schema["properties"]) == {"_id", "identityMap", "person", "personalEmail", "mobilePhone", "homeAddress", "_extconndev"}
    assert profiles.source_defined_primary_key == [["_extconndev", "distinct_id"]]
    assert profiles.default_cursor_field == ["_extconndev", "last_seen"] and profiles.source_defined_cursor
    assert (flat["profiles"].source_defined_primary_key, flat["profiles"].default_cursor_field) == ([["distinct_id"]], ["last_seen"])
    assert "distinct_id" in flat["profiles"].json_schema["properties"]
    assert streams["cohorts"].json_schema == flat["cohorts"].json_schema  # cohorts and members stay flat in both modes


def test_given_xdm_output_and_a_full_refresh_catalog_then_every_profile_is_read_valid():
    with people_fake() as fake:
        cfg = config(fake.url, **XDM)
        output = run_read(cfg, streams=["profiles"], sync_mode=SyncMode.full_refresh, raw_state=states(profiles={"last_seen": "2030-01-01T00:00:00Z"}))
    assert len(valid(cfg, xdm_profiles(output))) == 47


def test_given_a_read_of_events_and_profiles_when_split_with_jsonl_per_stream_then_each_file_set_holds_only_its_valid_records(tmp_path):
    """docs/aep.md's batch path for both datasets, as processes: read | source-mixpanel-aep-xdm jsonl --stream profiles (and events)."""
    days = days_back(1)
    with people_fake(events_per_day=4, days=days) as fake:
        cfg = config(fake.url, **XDM, start_date=str(days[0]))
        paths = write_files(tmp_path, config=cfg, catalog=catalog_json(SyncMode.full_refresh, streams=["events", "profiles"]))
        read = subprocess.run(connector_command("read", "--config", paths["config"], "--catalog", paths["catalog"]), cwd=REPO,
                              capture_output=True, timeout=120)
    assert read.returncode == 0, read.stderr[-2000:]
    lines = {}
    for stream in ("profiles", "events"):
        split = subprocess.run([sys.executable, "-m", "source_mixpanel_aep.aep.command", "jsonl", "--out-dir", str(tmp_path / stream),
                                "--prefix", stream, "--stream", stream], cwd=REPO, input=read.stdout, capture_output=True, timeout=120)
        assert split.returncode == 0, split.stderr[-2000:]
        lines[stream] = [json.loads(line) for path in sorted((tmp_path / stream).glob(f"{stream}-*.jsonl")) for line in path.read_text().splitlines()]
    assert len(lines["profiles"]) == 47 and len(lines["events"]) == 4
    valid(cfg, lines["profiles"])
    assert all("eventType" in record for record in lines["events"]) and not any("eventType" in record for record in lines["profiles"])
