"""The loader, `source-mixpanel-aep-xdm setup|jsonl|upload|status`, over real HTTP against the fake AEP (and the fake Mixpanel).

The whole path as a user runs it (processes: setup, read | jsonl --state-out, upload, the next read
from that state), setup's idempotence, what jsonl refuses, what AEP does with an event that has no
distinct_id, and Adobe's errors (faults, bad credentials) ending as one line with Adobe's text,
never a traceback, a `null` carried forward, or a secret in the output.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
import urllib.parse

import pytest
from airbyte_cdk.models import SyncMode

from integration_tests.builders import REPO, catalog_json, config, connector_command, write_files
from integration_tests.fake_aep import FAKE_AEP_API_KEY, FAKE_AEP_TOKEN, FakeAep
from integration_tests.fake_mixpanel import FakeMixpanel
from source_mixpanel_aep.aep import batch as aep_batch
from source_mixpanel_aep.aep import client as aep_client
from source_mixpanel_aep.aep import command as xdm_command

XDM_COMMAND = [sys.executable, "-m", "source_mixpanel_aep.aep.command"]
DAY = dt.date(2024, 5, 1)
XDM = {"output_format": "xdm", "xdm_tenant_id": "_acme", "start_date": str(DAY), "end_date": str(DAY)}
PROFILE_TAGS = {"unifiedProfile": ["enabled:true"], "unifiedIdentity": ["enabled:true"]}


@pytest.fixture
def aep(monkeypatch):
    with FakeAep() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(aep_client, "BACKOFF_SECONDS", 0.0)  # retries and polls without the pauses
        monkeypatch.setattr(aep_batch, "POLL_SECONDS", 0.01)
        yield server


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config("http://127.0.0.1:9", **XDM)))
    return path


def setup(config_file, capsys, *extra):
    code = xdm_command.main(["setup", "--config", str(config_file), *extra])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def posts(aep):
    return [call for call in aep.calls() if not call.startswith("GET ")]


def xdm(*args, stdin=b"", env=None, cwd=REPO):
    return subprocess.run([*XDM_COMMAND, *args], cwd=cwd, input=stdin, capture_output=True, timeout=120, env=env)


def event(index, **properties):
    start = int(dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc).timestamp())
    return {"event": "Viewed", "properties": {"time": start + index, "$insert_id": f"e-{index}", "distinct_id": f"u{index}", **properties}}


def read_process(fake, tmp_path, state=None, **overrides):
    tmp_path.mkdir(parents=True, exist_ok=True)
    paths = write_files(tmp_path, config=config(fake.url, **{**XDM, **overrides}), catalog=catalog_json(SyncMode.incremental))
    args = ["read", "--config", paths["config"], "--catalog", paths["catalog"]] + (["--state", str(state)] if state else [])
    done = subprocess.run(connector_command(*args), cwd=REPO, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


# --- setup ---------------------------------------------------------------------------------------------------
def test_given_a_fresh_sandbox_when_setup_runs_twice_then_everything_is_created_once_and_the_second_run_reuses_it(aep, config_file, capsys):
    code, ids, _ = setup(config_file, capsys)
    assert code == 0
    created = posts(aep)
    assert sum(call.startswith("POST /core/idnamespace") for call in created) == 3
    assert [call for call in created if "schemaregistry" in call and call.startswith("POST")] == [
        "POST /foundation/schemaregistry/tenant/fieldgroups", "POST /foundation/schemaregistry/tenant/schemas",
        "POST /foundation/schemaregistry/tenant/descriptors"] * 2
    store = aep.store
    for stream in ("events", "profiles"):
        schema = store.schemas[ids[stream]["schema"]]
        assert {"$ref": ids[stream]["field_group"]} in schema["allOf"] and schema["meta:immutableTags"] == ["union"]
        dataset = store.datasets[ids[stream]["dataset"]]
        assert dataset["tags"] == PROFILE_TAGS and dataset["schemaRef"]["id"] == ids[stream]["schema"]
    assert [d["xdm:sourceProperty"] for d in store.descriptors.values()] == ["/_acme/distinct_id"] * 2

    before = len(aep.requests)
    code, again, err = setup(config_file, capsys)
    assert code == 0 and again == ids
    assert [request.method for request in aep.requests[before:]] == ["GET"] * (len(aep.requests) - before)
    assert "created" not in err and err.count("reused") >= 9


def test_given_a_dataset_made_by_hand_without_the_profile_tags_when_setup_then_it_is_enabled_for_profile(aep, config_file, capsys):
    _, ids, _ = setup(config_file, capsys)
    aep.store.datasets[ids["events"]["dataset"]]["tags"] = {"adobe/pqs/table": ["mixpanel_events"]}
    code, again, err = setup(config_file, capsys, "--streams", "events")
    assert code == 0 and again["events"]["dataset"] == ids["events"]["dataset"]
    assert aep.store.datasets[ids["events"]["dataset"]]["tags"] == {"adobe/pqs/table": ["mixpanel_events"], **PROFILE_TAGS}
    assert "enabled dataset for Profile and Identity Service" in err


def test_given_xdm_fields_added_since_the_first_setup_then_setup_adds_just_those_to_the_field_group_it_finds(aep, config_file, capsys):
    _, ids, _ = setup(config_file, capsys, "--streams", "events")
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()), "xdm_fields": {"$browser": "string", "plan": "string"}}))
    code, again, err = setup(config_file, capsys, "--streams", "events")
    assert code == 0 and again == ids
    tenant = aep.store.field_groups[ids["events"]["field_group"]]["definitions"]["mixpanelEvent"]["properties"]["_acme"]["properties"]
    assert {"browser", "plan", "distinct_id", "properties"} <= set(tenant)
    assert "extended field group: Mixpanel events (_acme) += browser, plan" in err
    assert [call for call in posts(aep) if call.startswith("PATCH /foundation/schemaregistry/tenant/fieldgroups")] == [
        f"PATCH /foundation/schemaregistry/tenant/fieldgroups/{urllib.parse.quote(ids['events']['field_group'], safe='')}"]


def test_given_listings_of_many_pages_when_setup_runs_again_then_it_still_finds_what_exists(aep, config_file, capsys):
    aep.page_size = 1
    _, ids, _ = setup(config_file, capsys)
    before = len(posts(aep))
    _, again, _ = setup(config_file, capsys)
    assert again == ids and len(posts(aep)) == before
    assert any(request.params.get("start") for request in aep.requests)


def test_given_a_dataset_of_that_name_on_another_schema_then_setup_fails_naming_it_and_creates_no_second_one(aep, config_file, capsys):
    _, ids, _ = setup(config_file, capsys, "--streams", "events")
    aep.store.datasets[ids["events"]["dataset"]]["schemaRef"] = {"id": "https://ns.adobe.com/acme/schemas/other"}
    code, _, err = setup(config_file, capsys, "--streams", "events")
    assert code == 1 and "dataset 'Mixpanel events' exists on another schema" in err and "Traceback" not in err
    assert len(aep.store.datasets) == 1


@pytest.mark.parametrize(
    "fault, adobe_text",
    [
        pytest.param({"status": 400, "method": "POST", "path": "schemas", "body": {"title": "Invalid reference", "status": 400,
                                                                                     "detail": "Referenced schema null not found"}},
                     "Invalid reference: Referenced schema null not found", id="the schema refused"),
        pytest.param({"status": 403, "method": "POST", "path": "fieldgroups", "body": {"error_code": "403025",
                                                                                         "message": "Profile is not valid for the sandbox"}},
                     "403025: Profile is not valid for the sandbox", id="the gateway's error shape"),
        pytest.param({"status": 500, "method": "POST", "path": "dataSets", "body": "upstream timed out"}, "upstream timed out",
                     id="a text body, a POST: not retried"),
        pytest.param({"status": 503, "method": "GET", "path": "descriptors", "times": 4}, "fake fault on GET", id="a GET failing past its retries"),
    ],
)
def test_given_adobe_refuses_a_step_then_setup_stops_there_with_adobes_text_and_sends_nothing_built_on_it(aep, config_file, capsys, fault, adobe_text):
    aep.add_fault(**fault)
    code, _, err = setup(config_file, capsys)
    assert code == 1
    [line] = [line for line in err.splitlines() if line.startswith("AEP: ")]
    assert adobe_text in line and "Traceback" not in err
    assert not any(b"null" in request.body.replace(b"nullable", b"") or b"{{" in request.body for request in aep.requests)
    if fault["path"] == "schemas":
        assert not [call for call in aep.calls() if "descriptors" in call or "dataSets" in call]


@pytest.mark.parametrize("seed", range(6))
def test_given_random_outages_during_setup_then_it_succeeds_or_fails_loudly_and_a_clean_rerun_leaves_one_of_each(aep, config_file, capsys, seed):
    chooser = random.Random(seed)
    for _ in range(8):
        aep.add_fault(chooser.choice([429, 500, 502, 503]), method=chooser.choice(["GET", "POST", "PATCH", None]),
                      path=chooser.choice(["identities", "fieldgroups", "schemas", "descriptors", "dataSets", None]), times=chooser.randint(1, 2),
                      drop=chooser.random() < 0.2)
    code, _, err = setup(config_file, capsys)
    assert code == 0 or [line for line in err.splitlines() if line.startswith("AEP: ")]
    aep.faults.clear()
    code, ids, _ = setup(config_file, capsys)
    assert code == 0
    store = aep.store
    assert sorted(group["title"] for group in store.field_groups.values()) == ["Mixpanel events (_acme)", "Mixpanel profiles (_acme)"]
    assert len(store.schemas) == 2 and len(store.descriptors) == 2 and len(store.datasets) == 2
    assert all(dataset["tags"] == PROFILE_TAGS for dataset in store.datasets.values())
    assert all(schema["meta:immutableTags"] == ["union"] for schema in store.schemas.values())


@pytest.mark.parametrize(
    "variable, value, adobe_text",
    [
        pytest.param("AEP_ACCESS_TOKEN", "expired-token-1234", "401: 401013: Oauth token is not valid", id="a wrong access token"),
        pytest.param("AEP_API_KEY", "someone-elses-key", "403: 403003: Api Key is invalid", id="a wrong API key"),
    ],
)
def test_given_wrong_credentials_then_the_command_says_adobes_error_once_and_prints_no_secret(aep, config_file, tmp_path, variable, value, adobe_text):
    env = {**os.environ, **aep.env(), variable: value}
    done = xdm("setup", "--config", str(config_file), env=env)
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr.decode().strip().splitlines() == [f"AEP: listing the identity namespaces: AEP answered {adobe_text}"]
    for secret in (value, FAKE_AEP_TOKEN, FAKE_AEP_API_KEY):
        assert secret.encode() not in done.stderr + done.stdout


def test_given_no_aep_credentials_in_the_environment_then_the_command_names_every_missing_variable(config_file, tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("AEP_")}
    done = xdm("setup", "--config", str(config_file), env=env)
    assert done.returncode == 1
    assert "Set AEP_ACCESS_TOKEN, AEP_API_KEY, AEP_ORG_ID, AEP_SANDBOX in the environment" in done.stderr.decode()
    assert b"Traceback" not in done.stderr


# --- jsonl: what AEP would refuse ---------------------------------------------------------------------------------
def messages(*records, state=None):
    lines = [{"type": "RECORD", "record": {"stream": stream, "data": data, "emitted_at": 1}} for stream, data in records]
    if state:
        lines.append({"type": "STATE", "state": state})
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


EVENT = {"_id": "e1", "timestamp": "2024-05-01T00:00:00.000Z", "eventType": "Viewed", "_acme": {"distinct_id": "u1"}}
PROFILE = {"_id": "p1", "_acme": {"distinct_id": "u1"}}


@pytest.mark.parametrize(
    "stdin, refusal",
    [
        pytest.param(messages(("events", EVENT), ("profiles", PROFILE)), "the read holds records of 'events' and 'profiles'", id="two streams"),
        pytest.param(messages(("events", {"_id": "e1", "event_name": "Viewed", "distinct_id": "u1", "properties": {}})),
                     "the 'events' records are flat, not XDM", id="flat events"),
        pytest.param(messages(("cohorts", {"cohort_id": 1, "name": "Buyers"})), "the 'cohorts' records are flat", id="cohorts are always flat"),
    ],
)
def test_given_records_aep_would_refuse_when_jsonl_then_it_exits_1_says_why_and_leaves_no_file(tmp_path, stdin, refusal):
    done = xdm("jsonl", "--out-dir", str(tmp_path / "batch"), stdin=stdin)
    assert done.returncode == 1 and refusal in done.stderr.decode() and "Nothing was written" in done.stderr.decode()
    assert list((tmp_path / "batch").iterdir()) == []


def test_given_a_read_of_two_streams_when_jsonl_picks_one_then_only_that_stream_is_written_under_its_name(tmp_path):
    done = xdm("jsonl", "--out-dir", str(tmp_path / "p"), "--stream", "profiles", stdin=messages(("events", EVENT), ("profiles", PROFILE)))
    assert done.returncode == 0
    assert [path.name for path in (tmp_path / "p").iterdir()] == ["profiles-00001.jsonl"]


def test_given_a_folder_with_files_of_an_earlier_run_then_jsonl_refuses_it_and_replace_empties_it_first(tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    for index in range(4):
        (folder / f"events-{index + 1:05d}.jsonl").write_text("{}\n")
    refused = xdm("jsonl", "--out-dir", str(folder), stdin=messages(("events", EVENT)))
    assert refused.returncode == 1 and "already holds 4 .jsonl file(s)" in refused.stderr.decode()
    assert len(list(folder.glob("*.jsonl"))) == 4
    replaced = xdm("jsonl", "--out-dir", str(folder), "--replace", stdin=messages(("events", EVENT)))
    assert replaced.returncode == 0
    assert [path.name for path in folder.glob("*.jsonl")] == ["events-00001.jsonl"]
    assert json.loads((folder / "events-00001.jsonl").read_text()) == EVENT


def test_given_state_lines_when_jsonl_with_state_out_then_the_last_state_of_each_stream_is_kept_as_read_takes_it(tmp_path):
    def state(stream, cursor):
        return {"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": {"cursor": cursor}}}

    stdin = messages(("events", EVENT), state=state("events", 1)) + messages(state=state("profiles", 7)) + messages(state=state("events", 2))
    done = xdm("jsonl", "--out-dir", str(tmp_path / "b"), "--stream", "events", "--state-out", str(tmp_path / "state.json"), stdin=stdin)
    assert done.returncode == 0
    assert json.loads((tmp_path / "state.json").read_text()) == [state("events", 2), state("profiles", 7)]
    without = xdm("jsonl", "--out-dir", str(tmp_path / "c"), stdin=stdin)
    assert "The read's STATE was not kept (no --state-out)" in without.stderr.decode()


# --- the whole path -----------------------------------------------------------------------------------------------
def test_given_the_readme_path_as_processes_then_records_land_in_the_dataset_and_the_next_read_resumes_from_the_kept_state(aep, tmp_path):
    env = {**os.environ, **aep.env()}
    events = [event(index) for index in range(20)]
    with FakeMixpanel() as fake:
        fake.add_events(events)
        cfg = write_files(tmp_path, config=config(fake.url, **XDM))["config"]
        done = xdm("setup", "--config", cfg, "--streams", "events", env=env)
        assert done.returncode == 0, done.stderr
        (tmp_path / "aep-ids.json").write_bytes(done.stdout)
        read = read_process(fake, tmp_path / "r1")
        done = xdm("jsonl", "--out-dir", str(tmp_path / "batch"), "--state-out", str(tmp_path / "state.json"), "--max-file-mb", "0.002", stdin=read)
        assert done.returncode == 0, done.stderr
        files = sorted((tmp_path / "batch").glob("*.jsonl"))
        assert len(files) > 1
        upload = xdm("upload", "--ids", str(tmp_path / "aep-ids.json"), "--stream", "events", "--dir", str(tmp_path / "batch"), "--wait", "5", env=env)
        assert upload.returncode == 0, upload.stderr
        summary = json.loads(upload.stdout)
        assert summary["status"] == "success" and summary["metrics"]["outputRecordCount"] == 20
        status = xdm("status", "--batch", summary["batch"], env=env)
        assert json.loads(status.stdout)["status"] == "success"
        [dataset] = aep.store.datasets.values()
        assert sorted(row["_id"] for row in dataset["rows"]) == sorted(json.loads(line)["_id"] for path in files for line in path.read_text().splitlines())
        assert len(dataset["profile_rows"]) == 20
        puts = [call for call in aep.calls() if call.startswith("PUT ")]
        assert len(puts) == len(files)

        resumed = read_process(fake, tmp_path / "r2", state=tmp_path / "state.json")
    logs = [json.loads(line)["log"]["message"] for line in resumed.splitlines() if b'"type":"LOG"' in line or b'"type": "LOG"' in line]
    assert any(message.startswith("Resuming from") for message in logs)
    assert b'"type":"RECORD"' not in resumed.replace(b" ", b"")  # nothing new since the kept state: nothing read again


def test_given_events_without_a_usable_distinct_id_then_they_land_in_the_dataset_but_not_in_profile_and_jsonl_says_how_many(aep, tmp_path):
    """distinct_id is the schema's primary identity (its descriptor): AEP keeps such a record in the data lake only."""
    env = {**os.environ, **aep.env()}
    events = [event(0), event(1, distinct_id=""), event(2, distinct_id="null"), event(3, **{"$device_id": "d3"})]
    del events[3]["properties"]["distinct_id"]
    with FakeMixpanel() as fake:
        fake.add_events(events)
        cfg = write_files(tmp_path, config=config(fake.url, **XDM))["config"]
        ids = json.loads(xdm("setup", "--config", cfg, "--streams", "events", env=env).stdout)
        read = read_process(fake, tmp_path / "r1")
    done = xdm("jsonl", "--out-dir", str(tmp_path / "batch"), stdin=read)
    assert done.returncode == 0
    assert "WARN: 3 record(s) have no _acme.distinct_id" in done.stderr.decode()
    upload = xdm("upload", "--dataset", ids["events"]["dataset"], "--dir", str(tmp_path / "batch"), env=env)
    assert upload.returncode == 0, upload.stderr
    dataset = aep.store.datasets[ids["events"]["dataset"]]
    assert len(dataset["rows"]) == 4
    assert [row["_acme"]["distinct_id"] for row in dataset["profile_rows"]] == ["u0"]
    kept = {row["_acme"].get("properties", {}).get("distinct_id") for row in dataset["rows"]}
    assert {"", "null"} <= kept  # a blocked value is not lost: it is in the tenant's properties


# --- upload: faults -----------------------------------------------------------------------------------------------
@pytest.fixture
def batch_dir(aep, config_file, capsys, tmp_path):
    _, ids, _ = setup(config_file, capsys, "--streams", "events")
    folder = tmp_path / "batch"
    folder.mkdir()
    for index in range(3):
        (folder / f"events-{index + 1:05d}.jsonl").write_text(json.dumps({**EVENT, "_id": f"e{index}"}) + "\n")
    return ids["events"]["dataset"], folder


def upload(dataset, folder, capsys, *extra):
    code = xdm_command.main(["upload", "--dataset", dataset, "--dir", str(folder), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_given_uploads_that_fail_twice_or_drop_the_connection_then_they_are_retried_and_the_batch_succeeds(aep, batch_dir, capsys):
    aep.add_fault(500, method="PUT", times=2)
    aep.add_fault(method="PUT", path="events-00003", drop=True)
    code, out, err = upload(*batch_dir, capsys)
    assert code == 0, err
    assert json.loads(out)["status"] == "success"
    assert len([call for call in aep.calls() if call.startswith("PUT ")]) == 6


def test_given_a_file_that_keeps_failing_then_the_batch_is_aborted_and_the_error_is_adobes(aep, batch_dir, capsys):
    aep.add_fault(507, method="PUT", path="events-00002", times=10, body={"title": "Insufficient Storage", "detail": "quota exceeded"})
    code, out, err = upload(*batch_dir, capsys)
    assert code == 1 and out == ""
    assert "AEP answered 507: Insufficient Storage: quota exceeded; batch" in err and "was aborted" in err
    [batch] = aep.store.batches.values()
    assert batch["status"] == "aborted" and aep.store.datasets[batch_dir[0]]["rows"] == []


def test_given_a_batch_aep_fails_then_upload_exits_1_with_adobes_error_rows(aep, batch_dir, capsys):
    dataset, folder = batch_dir
    (folder / "events-00004.jsonl").write_text('{"eventType": "no id"}\n')
    aep.store.processing_polls = 2
    code, out, err = upload(dataset, folder, capsys, "--wait", "60")
    assert code == 1
    assert json.loads(out)["status"] == "failed"
    assert "events-00004.jsonl line 1: a record needs _id" in err


def test_given_a_missing_folder_then_upload_refuses_before_any_request_and_an_empty_one_sends_no_batch(aep, config_file, capsys, tmp_path):
    code, _, err = upload("ds1", tmp_path / "typo", capsys)
    assert code == 1 and "is not a folder" in err and aep.requests == []
    (tmp_path / "empty").mkdir()
    code, out, err = upload("ds1", tmp_path / "empty", capsys)
    assert code == 0 and json.loads(out)["status"] == "nothing to upload" and aep.requests == []


def test_given_a_read_of_events_and_profiles_then_each_stream_goes_to_its_own_dataset_and_profiles_reach_profile(aep, tmp_path):
    env = {**os.environ, **aep.env()}
    with FakeMixpanel(profiles=7, page_size=5) as fake:
        fake.add_events([event(index) for index in range(3)])
        paths = write_files(tmp_path, config=config(fake.url, **XDM), catalog=catalog_json(SyncMode.full_refresh, streams=["events", "profiles"]))
        ids = json.loads(xdm("setup", "--config", paths["config"], env=env).stdout)
        read = subprocess.run(connector_command("read", "--config", paths["config"], "--catalog", paths["catalog"]), cwd=REPO,
                              capture_output=True, timeout=120)
    assert read.returncode == 0, read.stderr[-2000:]
    refused = xdm("jsonl", "--out-dir", str(tmp_path / "all"), stdin=read.stdout)
    assert refused.returncode == 1 and "--stream events and --stream profiles" in refused.stderr.decode()
    for stream, count in (("events", 3), ("profiles", 7)):
        assert xdm("jsonl", "--stream", stream, "--out-dir", str(tmp_path / stream), stdin=read.stdout).returncode == 0
        (tmp_path / "ids.json").write_text(json.dumps(ids))
        done = xdm("upload", "--ids", str(tmp_path / "ids.json"), "--stream", stream, "--dir", str(tmp_path / stream), "--wait", "5", env=env)
        assert done.returncode == 0, done.stderr
        dataset = aep.store.datasets[ids[stream]["dataset"]]
        assert len(dataset["rows"]) == count and len(dataset["profile_rows"]) == count
    assert all("eventType" not in row for row in aep.store.datasets[ids["profiles"]["dataset"]]["rows"])


@pytest.mark.parametrize("seed", range(6))
def test_given_random_outages_during_upload_then_the_batch_is_whole_or_aborted_never_a_completed_part(aep, batch_dir, capsys, seed):
    chooser = random.Random(seed)
    for _ in range(6):
        aep.add_fault(chooser.choice([429, 500, 503]), method=chooser.choice(["PUT", "POST", "GET"]),
                      path=chooser.choice(["events-0000", "import/batches", "catalog/batches", None]), times=chooser.randint(1, 4),
                      drop=chooser.random() < 0.2)
    code, out, err = upload(*batch_dir, capsys)
    rows = aep.store.datasets[batch_dir[0]]["rows"]
    statuses = [batch["status"] for batch in aep.store.batches.values()]
    if code == 0:
        assert json.loads(out)["status"] in ("success", "processing") and sorted(row["_id"] for row in rows) == ["e0", "e1", "e2"]
    else:
        [line] = [line for line in err.splitlines() if line.startswith("AEP: ")]
        assert "Traceback" not in err
        assert rows == [] or sorted(row["_id"] for row in rows) == ["e0", "e1", "e2"]  # completed whole, then a status read failed
    completed = [batch for batch in aep.store.batches.values() if batch["status"] not in ("aborted", "loading")]
    assert all(len(batch["files"]) == 3 for batch in completed), statuses
    assert len(completed) <= 1


def test_given_a_batch_still_processing_when_the_wait_ends_then_upload_exits_3_so_the_state_is_not_kept_and_status_asks_again(aep, batch_dir, capsys):
    aep.store.processing_polls = 1000
    code, out, err = upload(*batch_dir, capsys, "--wait", "0.05")
    assert code == 3 and json.loads(out)["status"] == "processing" and "is still processing" in err
    batch = json.loads(out)["batch"]
    aep.store.processing_polls = 0
    assert xdm_command.main(["status", "--batch", batch]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "success"


def test_given_an_identity_descriptor_in_another_namespace_then_setup_fails_naming_both_and_creates_no_second_one(aep, config_file, capsys):
    setup(config_file, capsys, "--streams", "events")
    [descriptor] = aep.store.descriptors.values()
    descriptor["xdm:namespace"] = "Email"
    code, _, err = setup(config_file, capsys, "--streams", "events")
    assert code == 1 and "exists with namespace 'Email', the config says 'MixpanelDistinctId'" in err
    assert len(aep.store.descriptors) == 1


def test_given_profiles_whose_distinct_id_aep_blocks_then_they_land_in_the_dataset_not_in_profile_and_jsonl_counts_them(aep, tmp_path):
    env = {**os.environ, **aep.env()}
    with FakeMixpanel() as fake:
        fake.set_profiles([{"$distinct_id": distinct_id, "$properties": {"$email": f"p{index}@example.com", "$last_seen": "2024-05-01T00:00:00"}}
                           for index, distinct_id in enumerate(["p-0", "null", "Anonymous", "p-3"])])
        paths = write_files(tmp_path, config=config(fake.url, **XDM), catalog=catalog_json(SyncMode.full_refresh, streams=["profiles"]))
        ids = json.loads(xdm("setup", "--config", paths["config"], "--streams", "profiles", env=env).stdout)
        read = subprocess.run(connector_command("read", "--config", paths["config"], "--catalog", paths["catalog"]), cwd=REPO,
                              capture_output=True, timeout=120)
    assert read.returncode == 0, read.stderr[-2000:]
    done = xdm("jsonl", "--stream", "profiles", "--out-dir", str(tmp_path / "p"), stdin=read.stdout)
    assert done.returncode == 0 and "WARN: 2 record(s) have no _acme.distinct_id AEP's Identity Service takes" in done.stderr.decode()
    assert xdm("upload", "--dataset", ids["profiles"]["dataset"], "--dir", str(tmp_path / "p"), env=env).returncode == 0
    dataset = aep.store.datasets[ids["profiles"]["dataset"]]
    assert len(dataset["rows"]) == 4
    assert sorted(row["_acme"]["distinct_id"] for row in dataset["profile_rows"]) == ["p-0", "p-3"]
    blocked = [row for row in dataset["rows"] if row["_acme"]["distinct_id"] in ("null", "Anonymous")]
    assert all(list(row["identityMap"]) == ["Email"] for row in blocked)  # no blocked id in identityMap; the email still is one
