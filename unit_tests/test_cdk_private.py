"""The private CDK pieces named in source_mixpanel_aep/cdk_private.py: a CDK upgrade that changes one fails here, loudly."""

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.utils.memory_monitor import MemoryMonitor

from source_mixpanel_aep import cdk_private
from source_mixpanel_aep.source import SourceMixpanelAep


def test_the_entrypoint_still_keeps_its_memory_monitor_where_we_call_it():
    entrypoint = AirbyteEntrypoint(SourceMixpanelAep())
    check = cdk_private.memory_check(entrypoint)
    assert isinstance(entrypoint._memory_monitor, MemoryMonitor)
    assert check.__self__ is entrypoint._memory_monitor
    check()  # callable with no arguments, as run.SourceEntrypoint calls it per record
