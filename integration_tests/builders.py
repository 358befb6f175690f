"""Small builders and runners shared by the integration tests: configs, catalogs, state, protocol runs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import jsonschema
import orjson
from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, SyncMode, Type
from airbyte_cdk.test.catalog_builder import CatalogBuilder, ConfiguredAirbyteStreamBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, _run_command, discover, read
from airbyte_cdk.test.state_builder import StateBuilder

from integration_tests.fake_mixpanel import (
    FAKE_OAUTH_TOKEN,
    FAKE_PROJECT_ID,
    FAKE_PROJECT_SECRET,
    FAKE_SA_SECRET,
    FAKE_SA_USERNAME,
)
from source_mixpanel_aep import SourceMixpanelAep

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


def catalog(sync_mode: SyncMode = SyncMode.incremental):
    stream = ConfiguredAirbyteStreamBuilder().with_name("events").with_sync_mode(sync_mode).with_primary_key([["_id"]])
    built = CatalogBuilder().with_stream(stream).build()
    if sync_mode == SyncMode.incremental:
        built.streams[0].cursor_field = ["timestamp"]
    return built


def state(cursor: Any) -> list:
    return StateBuilder().with_stream_state("events", cursor).build()


def run_read(cfg: Dict[str, Any], *, sync_mode: SyncMode = SyncMode.incremental, state_value: Any = None, expect_failure: bool = False) -> EntrypointOutput:
    return read(SourceMixpanelAep(), cfg, catalog(sync_mode), state=state(state_value) if state_value is not None else None, expecting_exception=expect_failure)


def run_check(cfg: Dict[str, Any], tmp_path: Path) -> EntrypointOutput:
    path = tmp_path / "check_config.json"
    path.write_text(json.dumps(cfg))
    return _run_command(SourceMixpanelAep(), ["check", "--config", str(path)])


def run_discover(cfg: Dict[str, Any]) -> EntrypointOutput:
    return discover(SourceMixpanelAep(), cfg)


def run_spec() -> EntrypointOutput:
    return _run_command(SourceMixpanelAep(), ["spec"])


def record_data(output: EntrypointOutput) -> List[Dict[str, Any]]:
    """Every RECORD's data, each validated against the declared schema."""
    data = [message.record.data for message in output.records]
    validator = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    for record in data:
        validator.validate(record)
    return data


def ids(records: Iterable[Dict[str, Any]]) -> List[str]:
    return sorted(record["_id"] for record in records)


def expected_ids(events: Iterable[Dict[str, Any]]) -> List[str]:
    return sorted(event["properties"]["$insert_id"] for event in events)


def cursors(output: EntrypointOutput) -> List[str]:
    return [message.state.stream.stream_state.timestamp for message in output.state_messages]


def error_messages(output: EntrypointOutput) -> List[str]:
    return [message.trace.error.message for message in output.errors]


def all_text(output: EntrypointOutput) -> str:
    """Everything the run printed, for looking for secrets."""
    return "\n".join(orjson.dumps(AirbyteMessageSerializer.dump(message)).decode() for message in output.get_message_iterator())


def messages_of(output: EntrypointOutput, kind: Type) -> List[AirbyteMessage]:
    return [message for message in output.get_message_iterator() if message.type == kind]
