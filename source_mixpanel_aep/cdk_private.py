"""The one private piece of the Airbyte CDK this connector touches, named here with why.

`AirbyteEntrypoint._memory_monitor`: the CDK's fail-fast memory check (it ends a sync before the
kernel's OOM killer does, keeping the last STATE). The CDK calls it per message in its own read
loop; run.SourceEntrypoint writes RECORDs through its own loop (see there, for speed), so it must
call the same monitor, and the CDK offers no public way to reach it. A second MemoryMonitor would
work too, but would log its start-up line twice and track its own counter.

unit_tests/test_cdk_private.py fails loudly if a CDK upgrade renames or removes it.
"""

from __future__ import annotations

from typing import Any, Callable


def memory_check(entrypoint: Any) -> Callable[[], None]:
    """The entrypoint's memory check; raises AttributeError (loudly, in tests) if the CDK no longer has it."""
    return entrypoint._memory_monitor.check_memory_usage
