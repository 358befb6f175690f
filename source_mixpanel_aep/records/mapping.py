"""Raw Mixpanel export event -> XDM-shaped record, as AEP's Mixpanel mapping expects it.

Pure functions only: no HTTP, no Airbyte protocol. A raw export line looks like
    {"event":"Items purchased","properties":{"time":1652825148643,"distinct_id":"test@test.com",
     "$insert_id":"935d87b1-00cd-41b7-be34-b9d98dd08b70","$mp_api_endpoint":"api.mixpanel.com",
     "$mp_api_timestamp_ms":1652850348643,"item_id":"29066","item_name":"charger",
     "item_price":"800.00","mp_processing_time_ms":1652850348702}}
and becomes
    {"_id": "<32 hex: digest of event, distinct_id, time, $insert_id>", "timestamp": "2022-05-17T22:05:48.643Z", "time": 1652825148,
     "event_name": "Items purchased", "distinct_id": "test@test.com", "insert_id": "935d87b1-...",
     ..., "properties": {<every other property, original name and value>}}

Rules a user can rely on:
- A promoted property (distinct_id, $insert_id, ...) leaves `properties` when its value fits its
  typed column as is. When it had to be converted (a number item_price becomes "800.0") or could
  not be (a list distinct_id becomes null), the original also stays in `properties`: nothing is lost.
- Legacy projects (created before 2023) store wall-clock time in the project timezone. It is
  converted to UTC with the offset in force at that wall-clock time. An ambiguous time (the hour
  repeated when DST ends) is read as its first occurrence (the DST one, the earlier instant); a
  time that never existed (the hour skipped when DST starts) is read with the offset in force
  before the change, so it lands that many minutes later in UTC. This is Python's `fold=0`.
- `_id` is Mixpanel's own dedupe key: Mixpanel treats two events as the same one only when their
  event name, distinct_id, time and `$insert_id` are all equal, so `_id` is a 128-bit digest of those
  four values as exported (hex, 32 characters, no colons: valid as an XDM `_id`). Different events
  that share an `$insert_id` get different `_id`s; a true duplicate (all four equal) gets the same
  one. Without `$insert_id`, a digest of the whole raw event: the same event always gets the same
  `_id`, and downstream deduplication still works.
- A column whose value is null is left out of the record, as the Airbyte CDK leaves top-level
  nulls out when it writes a RECORD: the output is the same either way, and this is cheaper.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from hashlib import blake2b
from typing import Any, Callable, Dict, Optional, Tuple

import orjson

from .json_codec import dumps_sorted, stdlib_dumps
from .values import as_boolean, as_integer, as_text

_EPOCH = dt.datetime(1970, 1, 1)
_MISSING = object()


class UnmappableEvent(ValueError):
    """The event cannot become a valid record (no name, no properties object, no usable time)."""


# raw property name -> (record column, converter)
PROMOTED: Dict[str, Tuple[str, Callable[[Any], Tuple[Any, bool]]]] = {
    "distinct_id": ("distinct_id", as_text),
    "$insert_id": ("insert_id", as_text),
    "$mp_api_endpoint": ("mp_api_endpoint", as_text),
    "$import": ("import", as_boolean),
    "$mp_api_timestamp_ms": ("mp_api_timestamp_ms", as_integer),
    "mp_processing_time_ms": ("mp_processing_time_ms", as_integer),
    "item_id": ("item_id", as_text),
    "item_name": ("item_name", as_text),
    "item_price": ("item_price", as_text),
}
_EXACT_TYPES = {as_text: str, as_integer: int, as_boolean: bool}
# (raw name, column, the type taken as is, converter), in PROMOTED's order: the record's columns come
# out in that order in every run (a set's order would follow the per-process string hash seed).
_PROMOTED_FAST = tuple((raw_key, column, _EXACT_TYPES[convert], convert) for raw_key, (column, convert) in PROMOTED.items())


def event_time_ms(raw_time: Any, *, time_in_ms: bool) -> int:
    """The raw `time` property as integer milliseconds (floored), whatever unit it was sent in."""
    if raw_time is _MISSING:
        raise UnmappableEvent("properties.time is missing")
    if isinstance(raw_time, bool) or not isinstance(raw_time, (int, float)):
        raise UnmappableEvent(f"properties.time is a {type(raw_time).__name__}, not a number")
    if isinstance(raw_time, float) and not math.isfinite(raw_time):
        raise UnmappableEvent("properties.time is not a finite number")
    if time_in_ms:
        return raw_time if isinstance(raw_time, int) else int(raw_time // 1)
    return int(raw_time * 1000 // 1) if isinstance(raw_time, float) else raw_time * 1000


def local_ms_to_utc_ms(local_ms: int, zone: dt.tzinfo) -> int:
    """Legacy wall-clock milliseconds in `zone` -> true UTC milliseconds (fold=0, see module docs)."""
    wall = _EPOCH + dt.timedelta(milliseconds=local_ms)
    offset = wall.replace(tzinfo=zone).utcoffset() or dt.timedelta(0)
    return local_ms - (offset.days * 86_400_000 + offset.seconds * 1000 + offset.microseconds // 1000)


_DAY_PREFIXES: Dict[int, str] = {}  # day number since 1970 -> "YYYY-MM-DDT"; a sync touches few days


def iso_timestamp(utc_ms: int) -> str:
    """UTC milliseconds -> ISO 8601 with milliseconds and Z: 2022-05-17T22:05:48.643Z.

    Integer arithmetic and a per-day prefix: this runs once per event, and a datetime round trip
    costs several times as much. Raises OverflowError outside the years 1-9999.
    """
    day, in_day = divmod(utc_ms, 86_400_000)
    prefix = _DAY_PREFIXES.get(day)
    if prefix is None:
        prefix = (_EPOCH + dt.timedelta(days=day)).date().isoformat() + "T"
        if len(_DAY_PREFIXES) > 10_000:
            _DAY_PREFIXES.clear()
        _DAY_PREFIXES[day] = prefix
    seconds, millis = divmod(in_day, 1000)
    minutes, seconds = divmod(seconds, 60)
    return prefix + _HH_MM[minutes] + _SS[seconds] + _MMM_Z[millis]


_HH_MM = [f"{minute // 60:02d}:{minute % 60:02d}:" for minute in range(1440)]
_SS = [f"{second:02d}." for second in range(60)]
_MMM_Z = [f"{millis:03d}Z" for millis in range(1000)]


def content_id(raw: Dict[str, Any]) -> str:
    """A stable id for an event without $insert_id: a hash of its canonical JSON."""
    canonical = dumps_sorted(raw)  # integers beyond 64 bits: the stdlib serialises anything JSON parsed
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()


def to_record(raw: Any, *, time_in_ms: bool = True, source_timezone: Optional[dt.tzinfo] = None) -> Dict[str, Any]:
    """Map one parsed export line to a record; raise UnmappableEvent with the reason otherwise.

    Runs once per event, so the common case (a named event, a properties object, an integer
    millisecond time, promoted values already of their column's type) takes the short road;
    everything else goes through the general converters with the same result.
    """
    name = raw.get("event") if type(raw) is dict else None
    properties = raw.get("properties") if type(raw) is dict else None
    if type(name) is not str or not name or type(properties) is not dict or not time_in_ms or source_timezone is not None:
        return _to_record_general(raw, time_in_ms=time_in_ms, source_timezone=source_timezone)
    rest = properties.copy()
    ms = rest.pop("time", None)
    if type(ms) is not int:
        return _to_record_general(raw, time_in_ms=time_in_ms, source_timezone=source_timezone)
    try:
        timestamp = iso_timestamp(ms)
    except OverflowError:
        raise UnmappableEvent(f"properties.time {ms!r} is outside the years 1-9999") from None
    return _assemble(raw, name, ms, timestamp, rest)


def _to_record_general(raw: Any, *, time_in_ms: bool, source_timezone: Optional[dt.tzinfo]) -> Dict[str, Any]:
    if not isinstance(raw, dict):
        raise UnmappableEvent(f"the line is a JSON {type(raw).__name__}, not an object")
    name = raw.get("event")
    if isinstance(name, (int, float)) and not isinstance(name, bool):
        name = str(name)
    if not isinstance(name, str) or not name:
        raise UnmappableEvent("the event has no name ('event' is missing or empty)")
    properties = raw.get("properties")
    if not isinstance(properties, dict):
        raise UnmappableEvent("the event has no 'properties' object")
    rest = dict(properties)
    raw_time = rest.pop("time", _MISSING)
    try:
        ms = event_time_ms(raw_time, time_in_ms=time_in_ms)
        if source_timezone is not None:
            ms = local_ms_to_utc_ms(ms, source_timezone)
        timestamp = iso_timestamp(ms)
    except (OverflowError, ValueError) as error:
        if isinstance(error, UnmappableEvent):
            raise
        raise UnmappableEvent(f"properties.time {raw_time!r} is outside the years 1-9999") from None
    return _assemble(raw, name, ms, timestamp, rest)


def _assemble(raw: Dict[str, Any], name: str, ms: int, timestamp: str, rest: Dict[str, Any]) -> Dict[str, Any]:
    """The record around a checked name and time; `rest` (a copy of the properties) loses what is promoted."""
    record: Dict[str, Any] = {"_id": None, "timestamp": timestamp, "time": ms // 1000, "event_name": name}
    pop = rest.pop
    for raw_key, column, exact_type, convert in _PROMOTED_FAST:
        value = pop(raw_key, _MISSING)
        if value is _MISSING:
            continue
        if type(value) is exact_type:
            record[column] = value
        elif value is not None:
            converted, exact = convert(value)
            if converted is not None:
                record[column] = converted
            if not exact:
                rest[raw_key] = value
    properties = raw["properties"]
    insert_id = properties.get("$insert_id")
    if insert_id:  # Mixpanel's dedupe key (event, distinct_id, time, $insert_id) as exported, one stable digest
        try:
            key = orjson.dumps([raw["event"], properties.get("distinct_id"), properties.get("time"), insert_id])
        except TypeError:  # an integer beyond 64 bits: the same JSON from the stdlib (orjson stays inline: once per event)
            key = stdlib_dumps([raw["event"], properties.get("distinct_id"), properties.get("time"), insert_id])
        record["_id"] = blake2b(key, digest_size=16).hexdigest()
    else:
        record["_id"] = content_id(raw)
    record["properties"] = rest
    return record
