"""The private CDK pieces named in source_mixpanel_aep/cdk/private.py: a CDK upgrade that changes one fails here, loudly."""

import importlib
import subprocess
import sys
from pathlib import Path

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.utils.memory_monitor import MemoryMonitor

from source_mixpanel_aep.cdk import private as cdk_private
from source_mixpanel_aep.source import SourceMixpanelAep

REPO = Path(__file__).resolve().parent.parent


def test_the_entrypoint_still_keeps_its_memory_monitor_where_we_call_it():
    entrypoint = AirbyteEntrypoint(SourceMixpanelAep())
    check = cdk_private.memory_check(entrypoint)
    assert isinstance(entrypoint._memory_monitor, MemoryMonitor)
    assert check.__self__ is entrypoint._memory_monitor
    check()  # callable with no arguments, as cdk/entry.read_lines calls it per record


def test_serpyco_still_looks_attribute_docstrings_up_where_the_import_hook_turns_it_off():
    originals = {name: importlib.import_module(name).get_attributes_doc for name in cdk_private.ATTRIBUTE_DOC_LOOKUPS}
    assert all(callable(lookup) for lookup in originals.values())
    with cdk_private.without_attribute_docs() as changed:
        assert changed == list(cdk_private.ATTRIBUTE_DOC_LOOKUPS)
        assert all(importlib.import_module(name).get_attributes_doc(AirbyteEntrypoint) == {} for name in changed)
    assert {name: importlib.import_module(name).get_attributes_doc for name in originals} == originals  # put back


def protocol_bytes(mode):
    done = subprocess.run([sys.executable, "-m", "unit_tests.protocol_bytes", mode], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    *lines, lookups = done.stdout.splitlines()
    return lines, int(lookups.rsplit(" ", 1)[1])


def test_given_the_cdk_imported_under_the_hook_then_no_docstring_is_looked_up_and_every_message_is_the_same_bytes():
    hooked, hooked_lookups = protocol_bytes("hooked")
    plain, plain_lookups = protocol_bytes("plain")
    assert hooked_lookups == 0 and plain_lookups > 10  # the hook was on while the serialisers were built, and only then
    assert len(hooked) >= 12 and hooked == plain
