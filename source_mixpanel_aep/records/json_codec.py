"""Compact JSON the way the records are written: orjson first, the standard library where orjson refuses.

orjson raises TypeError for an integer beyond 64 bits (flat records keep them exact), a lone surrogate in a
string (JSON text may hold one, `"\\ud800"`) and nesting deeper than 254 levels; the standard library writes
all three. Its fallback here writes what orjson writes for everything else (no spaces, non-ASCII as UTF-8, a
lone surrogate passed through), but for a float's exponent (1e-07 where orjson has 1e-7: the same number).
Pure: no HTTP, no protocol.

On a per-event path (mapping.to_record's `_id`, values.json_text, XdmRecords.map) the caller keeps `orjson.dumps`
inline and calls only the fallback (`stdlib_dumps`, `stdlib_text`) in its `except TypeError`: a helper call
per event would cost more than the whole key.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def stdlib_text(value: Any, *, sort_keys: bool = False) -> str:
    """The standard library's compact JSON text, as orjson would write it (non-ASCII kept as is)."""
    return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)


def stdlib_dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    """`stdlib_text` as UTF-8 bytes; a lone surrogate is passed through (surrogatepass), as the output writes it."""
    return stdlib_text(value, sort_keys=sort_keys).encode("utf-8", "surrogatepass")


def dumps(value: Any) -> bytes:
    """Compact JSON bytes: orjson's, or the standard library's where orjson refuses the value."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return stdlib_dumps(value)


def dumps_sorted(value: Any) -> bytes:
    """`dumps` with every object's keys sorted: a canonical form to hash."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return stdlib_dumps(value, sort_keys=True)
