"""The value converters of every record: one module, so the flat, XDM, people and report records convert alike.

Pure: no HTTP, no protocol. Three families, each with its own rule on purpose (the tests pin each byte):
- the flat record's columns (mapping.PROMOTED): `as_text`, `as_integer`, `as_boolean` -> (value, exact);
  exact means the original fits as is and leaves `properties`. people.py and reports.py use `as_text` too.
- the XDM typed fields (xdm.CONVERTERS, the configured xdm_fields): `xdm_string`, `xdm_integer`,
  `xdm_number`, `xdm_boolean` -> (value, exact), integers within XDM's long range; `json_text` is a
  property value as a map value.
- people and reports: `utc_datetime` (a Mixpanel datetime as UTC ISO text) and `whole_number`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any, Optional, Tuple

import orjson

from .json_codec import stdlib_text

XDM_LONG_MAX = 2**53 - 1  # Schema Registry's long: a JSON number every consumer reads exactly
_DATETIME = re.compile(r"\s*(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)\s*(Z|[+-]\d{2}:?\d{2})?\s*$", re.IGNORECASE)


# --- the flat record's columns ---------------------------------------------------------------------------
def as_text(value: Any) -> Tuple[Optional[str], bool]:
    """(column value, exact): AEP types these columns as strings, so numbers become their text."""
    if isinstance(value, str):
        return value, True
    if isinstance(value, bool):
        return ("true" if value else "false"), False
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value), False
    return None, value is None


def as_integer(value: Any) -> Tuple[Optional[int], bool]:
    if isinstance(value, bool):
        return None, False
    if isinstance(value, int):
        return value, True
    if isinstance(value, float) and value.is_integer():
        return int(value), False
    if isinstance(value, str):
        try:
            return int(value.strip()), False
        except ValueError:
            return None, False
    return None, value is None


def as_boolean(value: Any) -> Tuple[Optional[bool], bool]:
    if isinstance(value, bool):
        return value, True
    return None, value is None


# --- XDM typed fields ------------------------------------------------------------------------------------
def json_text(value: Any) -> str:
    """A property value as a map value: strings as they are, anything else as compact JSON text."""
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)  # exact at any size
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits, or nesting deeper than orjson goes: the stdlib writes both
        return stdlib_text(value)


def in_long_range(value: int) -> bool:
    return -XDM_LONG_MAX <= value <= XDM_LONG_MAX


def xdm_string(value: Any) -> Tuple[Any, bool]:
    """(converted or None, exact): exact means the original needs no copy in `properties`."""
    if type(value) is str:
        return value, True
    if isinstance(value, (bool, int, float)):
        return json_text(value), False
    return None, False


def xdm_integer(value: Any) -> Tuple[Any, bool]:
    if isinstance(value, bool):
        return None, False
    if isinstance(value, int):
        return (value, True) if in_long_range(value) else (None, False)
    if isinstance(value, float) and value.is_integer() and in_long_range(int(value)):
        return int(value), False
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value) and in_long_range(int(value)):
        return int(value), False
    return None, False


def xdm_number(value: Any) -> Tuple[Any, bool]:
    if isinstance(value, bool):
        return None, False
    if isinstance(value, float):
        return value, True  # the parser never yields NaN or infinities (they arrive as null)
    if isinstance(value, int):
        return (value, True) if in_long_range(value) else (None, False)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None, False
        return (number, False) if math.isfinite(number) else (None, False)
    return None, False


def xdm_boolean(value: Any) -> Tuple[Any, bool]:
    if isinstance(value, bool):
        return value, True
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true", False
    return None, False


# --- people and reports ----------------------------------------------------------------------------------
def utc_datetime(value: Any) -> Optional[str]:
    """`2008-06-09T23:08:40` (UTC implied), `2019-03-19 23:49:51`, or with an offset -> `2008-06-09T23:08:40Z`; else None."""
    if not isinstance(value, str):
        return None
    match = _DATETIME.match(value)
    if not match:
        return None
    day, clock, offset = match.groups()
    try:
        parsed = dt.datetime.fromisoformat(f"{day}T{clock}")
    except ValueError:
        return None
    if offset and offset.upper() != "Z":
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        parsed -= sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    text = parsed.isoformat(timespec="microseconds" if parsed.microsecond else "seconds")
    return text + "Z"


def whole_number(value: Any) -> Optional[int]:
    """An int, or a string or integral float holding one (`"150"`, `150.0`); else None. Booleans are not numbers here."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None
