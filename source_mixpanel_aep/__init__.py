"""Mixpanel raw events, shaped for Adobe Experience Platform, over the Airbyte protocol."""

import gc as _gc

from .cdk import private as _cdk_private

# Importing the Airbyte CDK is most of every command's start (0.75 s of 0.95 s). Two things make it cheaper:
# - It builds about 100k long-lived objects (protocol classes, pydantic models, serialisers), and the
#   cyclic garbage collector walked them again and again while they were built: 700 collections,
#   about 0.09 s. They are never garbage, so the collector is off while they are imported, and on
#   again afterwards (as it was) for whoever imported us.
# - serpyco-rs re-parses the protocol module's source for every class it makes a serialiser for,
#   only to put docstrings into JSON schemas nobody asks for: 0.28 s (cdk/private.without_attribute_docs).
_collecting = _gc.isenabled()
_gc.disable()
try:
    with _cdk_private.without_attribute_docs():
        from .source import SourceMixpanelAep
finally:
    if _collecting:
        _gc.enable()

__all__ = ["SourceMixpanelAep"]
