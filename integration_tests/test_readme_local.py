"""*Run it locally without Docker* (docs/running.md): its commands, run exactly as written (only the port changes).

The section's fenced ```bash blocks are read from the page that holds it (`doc_sections`): the
install block is left out (this test runs in the venv it would build); the fake's block is started
in the background with `--port 0` instead of 8080, and its port replaces 8080 in the other blocks;
every other block runs in order through `bash -euo pipefail`, in a temp directory that links the repository's `.venv` and
`integration_tests/` so relative paths resolve as they do from the repository root. Each block must
exit 0 and print (on stdout, or into the files it writes) the message types its verbs produce.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from integration_tests.doc_sections import section

REPO = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
README_PORT = "8080"
EXPECTED = {"spec": {"SPEC"}, "check": {"CONNECTION_STATUS"}, "discover": {"CATALOG"}, "read": {"RECORD", "STATE"}}


def blocks() -> list[str]:
    return BLOCK.findall(section("local"))


def protocol(text: str) -> list[dict]:
    messages = []
    for line in text.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and "type" in message:
            messages.append(message)
    return messages


@pytest.fixture
def workdir(tmp_path):
    venv = Path(sys.executable).parent.parent
    assert (venv / "bin" / "source-mixpanel-aep").exists(), f"the connector is not installed in {venv}: run `make venv`"
    (tmp_path / ".venv").symlink_to(venv)
    (tmp_path / "integration_tests").symlink_to(REPO / "integration_tests")
    return tmp_path


@pytest.fixture
def fake_port(workdir):
    """The documented fake command, on a free port instead of 8080; its port and what it told the user."""
    [command] = [block for block in blocks() if "integration_tests.fake_mixpanel" in block]
    assert f"--port {README_PORT}" in command
    process = subprocess.Popen(
        ["bash", "-c", "exec " + command.strip().replace(f"--port {README_PORT}", "--port 0")], cwd=workdir,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), (url, process.stderr.read() if process.poll() is not None else "")
        yield url.rsplit(":", 1)[1]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_local_run_section_works_as_written(workdir, fake_port):
    runnable = [block for block in blocks() if "integration_tests.fake_mixpanel" not in block and "make venv" not in block]
    verbs_seen = set()
    for block in runnable:
        script = block.replace(README_PORT, fake_port)
        before = {path: path.stat().st_mtime_ns for path in workdir.glob("local/*")}
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=workdir, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": ""})
        assert done.returncode == 0, f"this documented block failed (exit {done.returncode}):\n{block}\nstdout: {done.stdout[-1500:]}\nstderr: {done.stderr[-1500:]}"
        written = [path for path in workdir.glob("local/*.jsonl") if before.get(path) != path.stat().st_mtime_ns]
        messages = protocol(done.stdout) + [m for path in written for m in protocol(path.read_text())]
        verbs = set(re.findall(r"source-mixpanel-aep\s+(spec|check|discover|read)\b", block))
        verbs_seen |= verbs
        types = {message["type"] for message in messages}
        for verb in verbs:
            expected = {"STATE"} if verb == "read" and "--state" in block else EXPECTED[verb]  # a resumed read right after: nothing new yet
            assert expected <= types, f"{verb}: expected {expected} in the output of\n{block}\ngot {types}"
        assert not [m for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"], block
        for message in messages:
            if message["type"] == "CONNECTION_STATUS":
                assert message["connectionStatus"]["status"] == "SUCCEEDED", message
    assert verbs_seen == set(EXPECTED)
    assert any("--state" in block for block in runnable)
    final = protocol((workdir / "local" / "out2.jsonl").read_text())
    assert any(m["type"] == "LOG" and m["log"]["message"].startswith("Resuming from") for m in final)  # read --state resumed

    # The other auth forms the section gives inline, in place of the service account: each passes check.
    others = [json.loads(text) for text in re.findall(r"`(\{\"auth_type\": [^`]*\})`", section("local"))]
    assert sorted(credentials["auth_type"] for credentials in others) == ["oauth_token", "project_secret"]
    for credentials in others:
        config = json.loads((workdir / "local" / "config.json").read_text())
        config.pop("project_id")
        (workdir / "local" / "other.json").write_text(json.dumps({**config, "credentials": credentials}))
        done = subprocess.run([".venv/bin/source-mixpanel-aep", "check", "--config", "local/other.json"], cwd=workdir,
                              capture_output=True, text=True, timeout=60)
        [status] = [m["connectionStatus"] for m in protocol(done.stdout) if m["type"] == "CONNECTION_STATUS"]
        assert status["status"] == "SUCCEEDED", (credentials["auth_type"], status)
