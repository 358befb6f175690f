"""Mixpanel raw events, shaped for Adobe Experience Platform, over the Airbyte protocol."""

import gc as _gc

# Importing the Airbyte CDK builds about 100k long-lived objects (protocol classes, pydantic
# models, serialisers). With the cyclic garbage collector on, it walks them again and again while
# they are built: 700 collections, about 0.09 s of every command. They are never garbage, so the
# collector is off while they are imported, and on again afterwards (as it was) for whoever imported us.
_collecting = _gc.isenabled()
_gc.disable()
try:
    from .source import SourceMixpanelAep
finally:
    if _collecting:
        _gc.enable()

__all__ = ["SourceMixpanelAep"]
