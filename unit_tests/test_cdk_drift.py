"""The drift registry (source_mixpanel_aep/cdk/upstream.py): when upstream code we copy or rely on changes, the test says what to re-read."""

import dataclasses
import inspect

import pytest

from source_mixpanel_aep.cdk import upstream
from source_mixpanel_aep.cdk.upstream import COPIED, Copied, digest, drifted, resolve


def assert_no_drift():
    changed = drifted()
    assert not changed, "\n".join(changed)


def test_no_upstream_function_we_copy_or_rely_on_changed():
    assert_no_drift()


def test_given_a_changed_upstream_function_then_the_drift_test_fails_naming_it_our_copy_and_what_to_do(monkeypatch):
    entry = next(entry for entry in COPIED if entry.upstream == "airbyte_cdk.sources.abstract_source:AbstractSource._read_stream")
    monkeypatch.setattr(upstream, "COPIED", tuple(dataclasses.replace(each, digest="0" * 64) if each is entry else each for each in COPIED))
    with pytest.raises(AssertionError) as failed:
        assert_no_drift()
    said = str(failed.value)
    assert "airbyte_cdk.sources.abstract_source:AbstractSource._read_stream changed upstream" in said
    assert "source_mixpanel_aep.cdk.read_loop:read_stream" in said
    assert "Re-read it beside" in said and "source_mixpanel_aep/cdk/upstream.py" in said
    assert digest(entry.upstream) in said  # the digest to write once the copy is brought up to date
    assert len(drifted()) == 1  # only the changed one


def test_given_a_new_entry_without_a_digest_then_it_fails_saying_the_digest_to_write():
    entry = Copied("airbyte_cdk.entrypoint:AirbyteEntrypoint.check", "", ("source_mixpanel_aep.protocol.entry:SourceEntrypoint",), "an example")
    [said] = drifted((entry,))
    assert f"digest {digest(entry.upstream)}, registered none" in said


def test_the_digest_ignores_indentation_and_trailing_spaces(monkeypatch):
    monkeypatch.setattr(upstream.inspect, "getsource", lambda _: "    def f():  \n        return 1\n")
    indented = digest("airbyte_cdk.entrypoint:AirbyteEntrypoint.run")
    monkeypatch.setattr(upstream.inspect, "getsource", lambda _: "def f():\n    return 1\n")
    assert digest("airbyte_cdk.entrypoint:AirbyteEntrypoint.run") == indented
    monkeypatch.setattr(upstream.inspect, "getsource", lambda _: "def f():\n    return 2\n")
    assert digest("airbyte_cdk.entrypoint:AirbyteEntrypoint.run") != indented


def test_every_entry_names_code_that_exists_once():
    assert len({entry.upstream for entry in COPIED}) == len(COPIED)
    for entry in COPIED:
        found = resolve(entry.upstream)
        assert callable(found) or inspect.ismodule(found), entry.upstream
        assert entry.ours and entry.why, entry.upstream
        for ours in entry.ours:
            assert ours.startswith("source_mixpanel_aep."), ours
            assert callable(resolve(ours)), ours


@pytest.mark.parametrize(
    "copy",
    [
        "source_mixpanel_aep.cdk.entry:read_lines",
        "source_mixpanel_aep.cdk.read_loop:read_streams",
        "source_mixpanel_aep.cdk.read_loop:read_stream",
        "source_mixpanel_aep.cdk.read_loop:queued_messages",
        "source_mixpanel_aep.cdk.private:memory_check",
        "source_mixpanel_aep.cdk.http_errors:retries_ran_out",
        "source_mixpanel_aep.cdk.http_errors:last_attempt",
        "source_mixpanel_aep.cdk.http_errors:error_table_words",
        "source_mixpanel_aep.cdk.stream_read:read_slices",
        "source_mixpanel_aep.cdk.stream_read:checkpoint",
    ],
)
def test_every_copy_of_cdk_control_flow_or_tie_to_its_internals_is_registered(copy):
    assert any(copy in entry.ours for entry in COPIED), f"{copy} copies or relies on CDK code: register what in cdk/upstream.py COPIED"
