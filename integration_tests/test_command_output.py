"""The command as a real process says what the same entry point says in-process (one read path), and
the CDK's per-record duties (memory check, record counts, emitted_at) are done on it."""

import json
import re
import subprocess
import sys
from typing import Any, Dict, List, Tuple

from airbyte_cdk.models import AirbyteMessageSerializer

from integration_tests.builders import REPO, catalog_json, config, days_back, protocol_lines, run_process, run_read, write_files
from integration_tests.fake_mixpanel import FakeMixpanel


def story_of_messages(messages: List[Dict[str, Any]]) -> List[Tuple[Any, ...]]:
    """The protocol story without timestamps and log lines: records by _id, states by cursor and count, statuses, estimates."""
    story: List[Tuple[Any, ...]] = []
    for message in messages:
        kind = message["type"]
        if kind == "RECORD":
            story.append(("RECORD", message["record"]["stream"], message["record"]["data"]["_id"]))
        elif kind == "STATE":
            story.append(("STATE", message["state"]["sourceStats"]["recordCount"]))
        elif kind == "TRACE" and message["trace"]["type"] == "STREAM_STATUS":
            story.append(("STATUS", message["trace"]["stream_status"]["status"]))
        elif kind == "TRACE":
            story.append(("TRACE", message["trace"]["type"], json.dumps(message["trace"].get("estimate"), sort_keys=True)))
    return story


def test_given_three_windows_when_read_as_a_command_and_in_process_then_the_protocol_story_is_the_same(tmp_path):
    days = days_back(5)
    with FakeMixpanel(events_per_day=7, days=days) as server:
        cfg = config(server.url, start_date=str(days[0]), end_date=str(days[-1]), date_window_days=2)
        in_process = run_read(cfg)
        files = write_files(tmp_path, config=cfg, catalog=catalog_json())
        done = run_process(["read", "--config", files["config"], "--catalog", files["catalog"]])
    assert done.returncode == 0, done.stderr[-2000:]
    command_story = story_of_messages(protocol_lines(done.stdout))
    in_process_story = story_of_messages([AirbyteMessageSerializer.dump(message) for message in in_process.get_message_iterator()])
    assert command_story == in_process_story
    cursors = [m["state"]["stream"]["stream_state"]["timestamp"] for m in protocol_lines(done.stdout) if m["type"] == "STATE"]
    assert cursors[:-1] == [m.state.stream.stream_state.timestamp for m in in_process.state_messages][:-1]  # the last is the request time
    statuses = [entry[1] for entry in command_story if entry[0] == "STATUS"]
    assert statuses == ["STARTED", "RUNNING", "COMPLETE"]
    first_record = next(i for i, entry in enumerate(command_story) if entry[0] == "RECORD")
    assert command_story.index(("STATUS", "RUNNING")) < first_record
    assert [entry[1] for entry in command_story if entry[0] == "STATE"] == [14.0, 14.0, 7.0]


# The command, with the CDK's MemoryMonitor replaced by one that finds memory critical at its 30th check.
_TRIPPING_MONITOR_LAUNCH = """
import airbyte_cdk.entrypoint
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

class MemoryMonitorThatTrips:
    def __init__(self, *args, **kwargs):
        self.checks = 0

    def check_memory_usage(self):
        self.checks += 1
        if self.checks >= 30:
            raise AirbyteTracedException(message="Memory usage is critical", internal_message="test monitor")

airbyte_cdk.entrypoint.MemoryMonitor = MemoryMonitorThatTrips
from source_mixpanel_aep.run import run
run()
"""


def test_given_memory_turns_critical_mid_window_when_read_as_a_command_then_the_sync_fails_with_no_state_for_that_window(tmp_path):
    day = days_back(1)[0]
    with FakeMixpanel(events_per_day=100, days=[day]) as server:
        files = write_files(tmp_path, config=config(server.url, start_date=str(day)), catalog=catalog_json())
        done = subprocess.run([sys.executable, "-c", _TRIPPING_MONITOR_LAUNCH, "read", "--config", files["config"], "--catalog", files["catalog"]],
                              cwd=REPO, capture_output=True, text=True, timeout=60)
    lines = protocol_lines(done.stdout)
    records = [m for m in lines if m["type"] == "RECORD"]
    statuses = [m["trace"]["stream_status"]["status"] for m in lines if m["type"] == "TRACE" and m["trace"]["type"] == "STREAM_STATUS"]
    errors = [m["trace"]["error"]["message"] for m in lines if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]
    assert done.returncode != 0
    assert 0 < len(records) < 100  # stopped inside the window, where the CDK's check per record stops it
    assert not [m for m in lines if m["type"] == "STATE"]
    assert "COMPLETE" not in statuses  # the CDK raises from its entrypoint: the stream never completes
    assert any("Memory usage is critical" in error for error in errors), errors


def test_given_a_command_read_then_every_record_line_has_an_integer_emitted_at_close_to_now(tmp_path):
    import time

    day = days_back(1)[0]
    before = int(time.time() * 1000)
    with FakeMixpanel(events_per_day=20, days=[day]) as server:
        files = write_files(tmp_path, config=config(server.url, start_date=str(day)), catalog=catalog_json())
        done = run_process(["read", "--config", files["config"], "--catalog", files["catalog"]])
    after = int(time.time() * 1000)
    stamps = [int(m) for m in re.findall(r'"emitted_at":(\d+)\}', "\n".join(line for line in done.stdout.splitlines() if line.startswith('{"type":"RECORD"')))]
    assert len(stamps) == 20 and all(before <= stamp <= after for stamp in stamps)


def test_given_a_window_that_breaks_off_when_read_as_a_command_then_the_warn_comes_after_the_records_it_counts(tmp_path):
    day = days_back(2)[0]  # yesterday: a whole day, which splits in two halves by time at any hour
    with FakeMixpanel(events_per_day=300, days=[day]) as server:
        server.add_fault("reset", after_bytes=20_000)
        files = write_files(tmp_path, config=config(server.url, start_date=str(day), end_date=str(day)), catalog=catalog_json())
        done = run_process(["read", "--config", files["config"], "--catalog", files["catalog"]], fast_sleep=True)
    assert done.returncode == 0, done.stdout[-2000:]
    lines = protocol_lines(done.stdout)
    kinds = ["RECORD" if m["type"] == "RECORD" else m.get("log", {}).get("message", m["type"]) for m in lines]
    [warn_at] = [i for i, kind in enumerate(kinds) if kind.startswith(f"Window {day}..{day}: the read broke off after ")]
    broke_after = int(re.search(r"broke off after (\d+) records", kinds[warn_at]).group(1))
    assert 0 < broke_after < 300
    assert kinds[:warn_at].count("RECORD") == broke_after  # the WARN is written after exactly the records it counts
    assert "reading it again whole" in kinds[warn_at]  # one break is taken as chance: the same window again
    assert kinds[warn_at + 1:].count("RECORD") == 300  # which together are the whole window again
    total = kinds.count("RECORD")
    assert f"Read {total} records from events stream" in kinds  # the CDK's count was 'Read 1 records' after 150
