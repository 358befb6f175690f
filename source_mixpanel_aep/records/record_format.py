"""Which record an event becomes, chosen once from the config's `output_format`: flat (default) or XDM.

The stream asks its record format for the per-event function (`map`: one parsed export line with
its time in milliseconds, as the stream asks for it, to a record), the JSON schema to declare
(`json_schema`, None for the packaged `schemas/events.json`) and, per window, how many records
were over AEP's 10 KB Profile guardrail (`oversized`). Pure: no HTTP, no protocol.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any, Callable, Dict, Optional, Union

import orjson

from . import mapping
from .json_codec import dumps
from .xdm import ConfiguredXdm, XdmSettings, record_builder, xdm_settings
from .xdm_payloads import record_json_schema

# AEP's guardrail for an ExperienceEvent used by Real-Time Customer Profile; larger ones are still
# emitted (the dataset takes them) and counted, so the user hears about it once per window.
PROFILE_EVENT_LIMIT_BYTES = 10 * 1024


class SerializedRecord(dict):
    """A record that carries its own compact JSON (`json`), made once to measure it, so the writer need not make it again.

    Still a plain dict to everything else (the CDK's serialiser, the test harness, jsonschema).
    """

    __slots__ = ("json",)


def record_size(record: Dict[str, Any]) -> int:
    """Bytes of the record as one compact JSON line, the way it is ingested."""
    return len(dumps(record))  # a lone surrogate in a string: the stdlib writes it, as the output does


def flat_mapper(source_timezone: Optional[dt.tzinfo]) -> Callable[[Any], Dict[str, Any]]:
    """mapping.to_record for the project's clock, taking the event alone: it runs once per event, so the
    choice is made once (a UTC project's is mapping.to_record itself, its defaults) and no keywords are passed per call."""
    if source_timezone is None:
        return mapping.to_record
    return partial(mapping.to_record, source_timezone=source_timezone)


class FlatRecords:
    """Today's record (mapping.to_record), untouched: `map` is that very function for a UTC project, no extra call per event."""

    json_schema: Optional[Dict[str, Any]] = None
    oversized = 0

    def __init__(self, source_timezone: Optional[dt.tzinfo] = None):
        self.map = flat_mapper(source_timezone)


class XdmRecords:
    """The flat record, then its XDM ExperienceEvent; records over the Profile guardrail are counted."""

    def __init__(self, settings: XdmSettings, source_timezone: Optional[dt.tzinfo] = None):
        self.settings = settings
        self.json_schema: Optional[Dict[str, Any]] = record_json_schema(settings)
        self.oversized = 0
        self._to_flat = flat_mapper(source_timezone)
        self._to_xdm = record_builder(settings)

    def map(self, raw: Any) -> Dict[str, Any]:
        record = self._to_xdm(self._to_flat(raw))
        try:
            serialized = SerializedRecord(record)
            serialized.json = orjson.dumps(record)  # the 10 KB check needs the bytes; the RECORD line reuses them
        except TypeError:  # a lone surrogate: measured the slow way, and the writer serialises it as it does any record
            if record_size(record) > PROFILE_EVENT_LIMIT_BYTES:
                self.oversized += 1
            return record
        if len(serialized.json) > PROFILE_EVENT_LIMIT_BYTES:
            self.oversized += 1
        return serialized


RecordFormat = Union[FlatRecords, XdmRecords]


def record_format(output_format: str, xdm: Optional[ConfiguredXdm], source_timezone: Optional[dt.tzinfo] = None) -> RecordFormat:
    """The shape the config asks for (`xdm`: the config's XDM settings); `source_timezone` is a legacy project's clock (None: times are UTC)."""
    if output_format == "xdm" and xdm is not None:
        return XdmRecords(xdm_settings(xdm), source_timezone)
    return FlatRecords(source_timezone)
