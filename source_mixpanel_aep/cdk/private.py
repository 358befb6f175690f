"""The private pieces of the Airbyte CDK (and of serpyco-rs, its serialiser library) this connector touches, each named here with why.

1. `AirbyteEntrypoint._memory_monitor`: the CDK's fail-fast memory check (it ends a sync before the
   kernel's OOM killer does, keeping the last STATE). The CDK calls it per message in its own read
   loop; cdk/entry.read_lines writes RECORDs through its own loop (see there, for speed), so it must
   call the same monitor, and the CDK offers no public way to reach it. A second MemoryMonitor would
   work too, but would log its start-up line twice and track its own counter.
2. serpyco-rs's `get_attributes_doc`, as `serpyco_rs._describe` and `serpyco_rs._json_schema._convert`
   hold it: importing the CDK builds its protocol serialisers, and serpyco-rs makes a JSON schema for
   each one on the spot, with every attribute's docstring as a description. It finds those docstrings
   by re-reading and re-parsing the protocol module's source for each class (inspect.getsource + ast,
   Python 3.11): 0.28 s of the 0.75 s the CDK import takes, in every command. The CDK never asks for
   those schemas (only `Serializer.get_json_schema` returns them) and the bytes the serialisers write
   and read do not depend on them, so while the CDK is imported (`without_attribute_docs`) the lookup
   answers "no docstrings", and it is put back right after. If serpyco-rs moves it, the import is
   just slower again: nothing breaks.

unit_tests/test_cdk_private.py fails loudly if an upgrade renames or removes either, and checks that the
protocol messages are written the same with and without (2); cdk/upstream.py registers the upstream
code of both, so unit_tests/test_cdk_drift.py fails when it changes.
"""

from __future__ import annotations

import importlib
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Tuple

# The modules of serpyco-rs that look attribute docstrings up by this name (each imported it from serpyco_rs._utils).
ATTRIBUTE_DOC_LOOKUPS = ("serpyco_rs._describe", "serpyco_rs._json_schema._convert")


def memory_check(entrypoint: Any) -> Callable[[], None]:
    """The entrypoint's memory check; raises AttributeError (loudly, in tests) if the CDK no longer has it."""
    return entrypoint._memory_monitor.check_memory_usage


def _no_attribute_docs(cls: type) -> Dict[str, str]:
    return {}


@contextmanager
def without_attribute_docs() -> Iterator[List[str]]:
    """While inside, serpyco-rs finds no attribute docstrings (see 2. above); yields the modules it changed."""
    changed: List[Tuple[Any, Any]] = []
    for name in ATTRIBUTE_DOC_LOOKUPS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        original = getattr(module, "get_attributes_doc", None)
        if callable(original):
            changed.append((module, original))
            module.get_attributes_doc = _no_attribute_docs
    try:
        yield [module.__name__ for module, _ in changed]
    finally:
        for module, original in changed:
            module.get_attributes_doc = original
