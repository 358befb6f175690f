"""cdk/entry.read_lines, the copy of the CDK's `read` command: the set-up steps the CDK's run does, in its order."""

import os

import pytest
from airbyte_cdk.utils.constants import ENV_REQUEST_CACHE_PATH

from source_mixpanel_aep.protocol.entry import SourceEntrypoint
from source_mixpanel_aep.source import SourceMixpanelAep


class Configured(Exception):
    """Ends the read once the config is in: what the test looks at has happened by then."""


class RecordingSource(SourceMixpanelAep):
    def __init__(self):
        super().__init__()
        self.seen = []

    def read_config(self, config_path):
        return {"from": config_path}

    def configure(self, config, temp_dir):
        self.seen.append((os.environ.get(ENV_REQUEST_CACHE_PATH), temp_dir, os.path.isdir(temp_dir)))
        raise Configured()


def test_given_a_read_then_the_request_cache_lives_in_the_commands_temporary_folder_as_the_cdk_sets_it(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_REQUEST_CACHE_PATH, raising=False)  # put back as it was after the test
    source = RecordingSource()
    entrypoint = SourceEntrypoint(source)
    args = entrypoint.parse_args(["read", "--config", str(tmp_path / "config.json"), "--catalog", str(tmp_path / "catalog.json")])
    with pytest.raises(Configured):
        list(entrypoint.run(args))
    [(cache_path, temp_dir, existed)] = source.seen
    assert existed and cache_path == temp_dir  # the CDK's run: os.environ[ENV_REQUEST_CACHE_PATH] = temp_dir, before configure
    assert not os.path.exists(temp_dir)  # and the folder goes with the command


def test_given_another_verb_then_the_cdks_own_run_serves_it(tmp_path):
    entrypoint = SourceEntrypoint(SourceMixpanelAep())
    [line] = list(entrypoint.run(entrypoint.parse_args(["spec"])))
    assert line.startswith('{"type":"SPEC"')
