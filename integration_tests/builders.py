"""Small builders and runners shared by the integration tests: configs, catalogs, state, protocol runs."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import jsonschema
import orjson
from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteMessageSerializer,
    AirbyteStateMessageSerializer,
    ConfiguredAirbyteCatalogSerializer,
    SyncMode,
    Type,
)
from airbyte_cdk.test.catalog_builder import CatalogBuilder, ConfiguredAirbyteStreamBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput
from airbyte_cdk.test.state_builder import StateBuilder

from integration_tests.fake_mixpanel import (
    FAKE_OAUTH_TOKEN,
    FAKE_PROJECT_ID,
    FAKE_PROJECT_SECRET,
    FAKE_SA_SECRET,
    FAKE_SA_USERNAME,
)
from source_mixpanel_aep.run import launch

SCHEMA = json.loads((Path(__file__).parent.parent / "source_mixpanel_aep" / "schemas" / "events.json").read_text())
SECRETS = (FAKE_SA_SECRET, FAKE_PROJECT_SECRET, FAKE_OAUTH_TOKEN)

CREDENTIALS = {
    "service_account": {"auth_type": "service_account", "username": FAKE_SA_USERNAME, "secret": FAKE_SA_SECRET},
    "project_secret": {"auth_type": "project_secret", "api_secret": FAKE_PROJECT_SECRET},
    "oauth_token": {"auth_type": "oauth_token", "access_token": FAKE_OAUTH_TOKEN},
}
WRONG_CREDENTIALS = {
    "service_account": {"auth_type": "service_account", "username": FAKE_SA_USERNAME, "secret": "wrong-sa-secret-1111"},
    "project_secret": {"auth_type": "project_secret", "api_secret": "wrong-project-secret-1111"},
    "oauth_token": {"auth_type": "oauth_token", "access_token": "wrong-oauth-token-1111"},
}


def utc_today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def days_back(count: int, *, end: Optional[dt.date] = None) -> List[dt.date]:
    """`count` consecutive days ending at `end` (default: today, UTC), oldest first."""
    end = end or utc_today()
    return [end - dt.timedelta(days=offset) for offset in range(count - 1, -1, -1)]


def config(base_url: str, *, auth: str = "service_account", **overrides: Any) -> Dict[str, Any]:
    built: Dict[str, Any] = {"credentials": dict(CREDENTIALS[auth]), "base_url": base_url}
    if auth == "service_account":
        built["project_id"] = FAKE_PROJECT_ID
    built.update(overrides)
    return built


def declared_streams() -> Dict[str, Any]:
    """stream -> (primary key, cursor field or None for full refresh only), as discover declares them.

    Read from the source's own streams (streams.STREAM_CLASSES), not kept by hand: a new stream is
    in every catalog built here. What discover must declare is pinned by test_protocol.py.
    """
    from source_mixpanel_aep.source import SourceMixpanelAep

    declared = {}
    for stream in SourceMixpanelAep().streams(config("http://127.0.0.1:9")):
        airbyte_stream = stream.as_airbyte_stream()
        declared[stream.name] = (airbyte_stream.source_defined_primary_key, airbyte_stream.default_cursor_field or None)
    return declared


STREAMS = declared_streams()


def catalog(sync_mode: SyncMode = SyncMode.incremental, *, streams: Iterable[str] = ("events",)):
    """A configured catalog of `streams`, each in `sync_mode` where it supports it (else full_refresh)."""
    builder = CatalogBuilder()
    modes = []
    for name in streams:
        primary_key, cursor_field = STREAMS[name]
        mode = sync_mode if cursor_field else SyncMode.full_refresh
        builder.with_stream(ConfiguredAirbyteStreamBuilder().with_name(name).with_sync_mode(mode).with_primary_key(primary_key))
        modes.append((mode, cursor_field))
    built = builder.build()
    for configured, (mode, cursor_field) in zip(built.streams, modes, strict=True):
        if mode == SyncMode.incremental:
            configured.cursor_field = cursor_field
    return built


def state(cursor: Any, stream: str = "events") -> list:
    return StateBuilder().with_stream_state(stream, cursor).build()


def states(**by_stream: Any) -> list:
    """A --state file's content: one STREAM state message per stream=state."""
    builder = StateBuilder()
    for name, value in by_stream.items():
        builder.with_stream_state(name, value)
    return [AirbyteStateMessageSerializer.dump(message) for message in builder.build()]


class CommandOutput(EntrypointOutput):
    """EntrypointOutput of the real entry point, with the exit code it returned."""

    def __init__(self, messages: List[str], exit_code: int):
        super().__init__(messages=messages)
        self.exit_code = exit_code


def run_entrypoint(args: List[str]) -> CommandOutput:
    """The command as it ships (`run.launch`, what the console script, main.py and the image run), in-process.

    Everything it writes to stdout - messages and log lines, in order - is what the test sees.
    """
    stdout = BytesIO()
    code = launch(args, stdout=stdout)
    lines = [line for line in stdout.getvalue().decode("utf-8", "surrogatepass").split("\n") if line]
    return CommandOutput(lines, code)


def _files(directory: Path, **contents: Any) -> Dict[str, str]:
    paths = {}
    for name, content in contents.items():
        path = directory / f"{name}.json"
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        paths[name] = str(path)
    return paths


def run_read(
    cfg: Any, *, sync_mode: SyncMode = SyncMode.incremental, state_value: Any = None, raw_state: Any = None, streams: Iterable[str] = ("events",)
) -> EntrypointOutput:
    """`read` of `streams`; `state_value` is the events stream's state, `raw_state` a whole --state file's content (see `states`)."""
    with tempfile.TemporaryDirectory() as directory:
        paths = _files(Path(directory), config=cfg, catalog=catalog_json(sync_mode, streams=streams))
        args = ["read", "--config", paths["config"], "--catalog", paths["catalog"]]
        if state_value is not None:
            raw_state = [AirbyteStateMessageSerializer.dump(message) for message in state(state_value)]
        if raw_state is not None:
            args += ["--state", _files(Path(directory), state=raw_state)["state"]]
        return run_entrypoint(args)


def run_check(cfg: Any, tmp_path: Optional[Path] = None) -> EntrypointOutput:
    with tempfile.TemporaryDirectory() as directory:
        return run_entrypoint(["check", "--config", _files(Path(directory), config=cfg)["config"]])


def run_discover(cfg: Any) -> EntrypointOutput:
    with tempfile.TemporaryDirectory() as directory:
        return run_entrypoint(["discover", "--config", _files(Path(directory), config=cfg)["config"]])


def run_spec() -> EntrypointOutput:
    return run_entrypoint(["spec"])


def record_data(output: EntrypointOutput) -> List[Dict[str, Any]]:
    """Every RECORD's data, each validated against the declared schema."""
    data = [message.record.data for message in output.records]
    validator = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    for record in data:
        validator.validate(record)
    return data


def stream_records(output: EntrypointOutput, stream: str) -> List[Dict[str, Any]]:
    """The data of every RECORD of `stream`, each validated against that stream's declared schema."""
    schema = json.loads((Path(__file__).parent.parent / "source_mixpanel_aep" / "schemas" / f"{stream}.json").read_text())
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    data = [message.record.data for message in output.records if message.record.stream == stream]
    for record in data:
        validator.validate(record)
    return data


def stream_states(output: EntrypointOutput, stream: str) -> List[Dict[str, Any]]:
    """The stream_state of every STATE message for `stream`, in order."""
    return [
        message.state.stream.stream_state.__dict__
        for message in output.state_messages
        if message.state.stream and message.state.stream.stream_descriptor.name == stream
    ]


def ids(records: Iterable[Dict[str, Any]]) -> List[str]:
    return sorted(record["_id"] for record in records)


def expected_id(event: Dict[str, Any]) -> str:
    """The `_id` an exported event with `$insert_id` must get: Mixpanel's dedupe key, as the README's mapping table defines it.

    Written out here independently of the connector's code (json + hashlib): a change to how the
    connector computes `_id` fails the tests instead of moving the expectation with it.
    """
    properties = event["properties"]
    time = properties.get("time")
    if isinstance(time, int) and abs(time) < 10**11:  # seconds (fake.expected_events' default): the connector asks for time_in_ms=true
        time *= 1000
    key = [event["event"], properties.get("distinct_id"), time, properties["$insert_id"]]
    return hashlib.blake2b(json.dumps(key, separators=(",", ":"), ensure_ascii=False).encode("utf-8"), digest_size=16).hexdigest()


def expected_ids(events: Iterable[Dict[str, Any]]) -> List[str]:
    return sorted(expected_id(event) for event in events)


def cursors(output: EntrypointOutput) -> List[str]:
    return [message.state.stream.stream_state.timestamp for message in output.state_messages]


def infos(output: EntrypointOutput) -> List[str]:
    """Every INFO log line's message, in order."""
    return [message.log.message for message in output.logs if message.log.level.name == "INFO"]


def warnings(output: EntrypointOutput) -> List[str]:
    """Every WARN log line's message, in order."""
    return [message.log.message for message in output.logs if message.log.level.name == "WARN"]


def error_messages(output: EntrypointOutput) -> List[str]:
    return [message.trace.error.message for message in output.errors]


def all_text(output: EntrypointOutput) -> str:
    """Everything the run printed, for looking for secrets."""
    return "\n".join(orjson.dumps(AirbyteMessageSerializer.dump(message)).decode() for message in output.get_message_iterator())


def messages_of(output: EntrypointOutput, kind: Type) -> List[AirbyteMessage]:
    return [message for message in output.get_message_iterator() if message.type == kind]


# --- Faults, fake time and real processes (test_faults.py, test_bad_input.py, test_secrets.py) ---

REPO = Path(__file__).resolve().parents[1]
# The real command with every sleep a no-op: `time.sleep` is replaced before the package binds it
# as a default argument (ExportStream, PacingBudget) and before the CDK's backoff uses it.
_FAST_LAUNCH = "import time; time.sleep = lambda seconds: None; from source_mixpanel_aep.run import run; run()"


class FakeSleeps:
    """Records the waits the connector asks for instead of waiting; `clock` moves on by them.

    - `http`: the CDK HttpClient's backoff (`time.sleep`): Retry-After or our exponential delay,
      plus the 1 s the CDK adds; the zero-second sleeps of the `backoff` library are left out;
    - `window`: ExportStream's pause before re-reading a window whose body broke off (its clock's `sleep`);
    - `pacing`: PacingBudget's waits (the export's and the Query API's QueryBudget), on `clock`,
      which the other two advance as well.
    """

    def __init__(self) -> None:
        self.http: List[float] = []
        self.window: List[float] = []
        self.pacing: List[float] = []
        self._skipped = 0.0

    def clock(self) -> float:
        return time.monotonic() + self._skipped

    def _sleeper(self, into: List[float]):
        def sleep(seconds: float) -> None:
            if seconds > 0:
                into.append(seconds)
                self._skipped += seconds
        return sleep

    def install(self, monkeypatch: Any) -> "FakeSleeps":
        from source_mixpanel_aep import source as source_module
        from source_mixpanel_aep.streams import export as export_module
        from source_mixpanel_aep.streams.export import ExportStream
        from source_mixpanel_aep.streams.pacing import PacingBudget
        from source_mixpanel_aep.streams.query import QueryBudget

        monkeypatch.setattr(time, "sleep", self._sleeper(self.http))
        window_clock, pacing_sleep = _WindowClock(self), self._sleeper(self.pacing)

        class RecordedWaitsExport(ExportStream):  # the events stream, its window waits recorded, not slept (its clock's sleep)
            __module__ = ExportStream.__module__  # where the CDK looks for schemas/events.json

            def __init__(self, config: Any, **kwargs: Any):
                super().__init__(config, **{**kwargs, "clock": window_clock})

        # The source passes its clock to every stream and budget (clock.py); run.launch builds the source, so the
        # clock goes in where the streams and budgets are made, the budgets' sleeps kept apart as `pacing`.
        monkeypatch.setattr(source_module, "ExportStream", RecordedWaitsExport)  # check's
        monkeypatch.setattr(source_module, "STREAM_CLASSES", tuple(RecordedWaitsExport if cls is ExportStream else cls for cls in source_module.STREAM_CLASSES))
        monkeypatch.setattr(export_module, "PacingBudget", lambda **kwargs: PacingBudget(**{**kwargs, "clock": self.clock, "sleep": pacing_sleep}))
        monkeypatch.setattr(source_module, "QueryBudget", lambda **kwargs: QueryBudget(**{**kwargs, "clock": self.clock, "sleep": pacing_sleep}))
        return self


class _WindowClock:
    """The export stream's clock: the system's, but its sleeps (the pauses before a re-read) are recorded in `window`, not slept."""

    def __init__(self, sleeps: FakeSleeps) -> None:
        from source_mixpanel_aep.clock import SYSTEM_CLOCK

        self.now, self.monotonic, self.time, self.time_ns = SYSTEM_CLOCK.now, SYSTEM_CLOCK.monotonic, SYSTEM_CLOCK.time, SYSTEM_CLOCK.time_ns
        self.sleep = sleeps._sleeper(sleeps.window)


def ordered_ids(output: EntrypointOutput) -> List[str]:
    """Every RECORD's `_id`, in the order emitted (repeats kept)."""
    return [message.record.data["_id"] for message in output.records]


def event_ids(events: Iterable[Dict[str, Any]]) -> List[str]:
    """The `_id`s raw events must get (expected_id), in the order the server sends them."""
    return [expected_id(event) for event in events]


def by_insert_id(records: Iterable[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Records keyed by the `$insert_id` they carry (the `insert_id` column), for tests that name events by it."""
    return {record["insert_id"]: record for record in records if "insert_id" in record}


def connector_command(*args: str, fast_sleep: bool = False) -> List[str]:
    """The connector as a real process: `python -m source_mixpanel_aep.run ARGS` (what the image's entry point runs)."""
    if fast_sleep:
        return [sys.executable, "-c", _FAST_LAUNCH, *args]
    return [sys.executable, "-m", "source_mixpanel_aep.run", *args]


def write_files(directory: Path, **contents: Any) -> Dict[str, str]:
    """name=content -> {name: path of directory/name.json}; dicts and lists are written as JSON."""
    return _files(directory, **contents)


def catalog_json(sync_mode: SyncMode = SyncMode.incremental, *, streams: Iterable[str] = ("events",)) -> str:
    return orjson.dumps(ConfiguredAirbyteCatalogSerializer.dump(catalog(sync_mode, streams=streams))).decode()


def run_process(args: List[str], *, fast_sleep: bool = False, env: Optional[Dict[str, str]] = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        connector_command(*args, fast_sleep=fast_sleep), cwd=REPO, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def protocol_lines(stdout: str) -> List[Dict[str, Any]]:
    """The stdout lines that are Airbyte messages, parsed."""
    parsed = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            try:
                parsed.append(json.loads(line))
            except ValueError:
                continue
    return parsed
