"""The part of Mixpanel's ``where`` expression the fake applies: the ``$time`` bounds.

Applied: ``properties["$time"] OP datetime(N)`` with OP one of ``>=``, ``>``, ``<=``, ``<``, ``==``
and N Unix seconds (an int or a float), or ``datetime("YYYY-MM-DDTHH:MM:SS")`` read as UTC, when the
comparison is a conjunct of the whole expression: joined to the rest with ``and`` at the top level,
or inside parentheses that are themselves such a conjunct. So ``(<theirs>) and (<ours>)`` applies
the ``$time`` bounds of ours (and of theirs, when theirs is a conjunction too).

Ignored (every event passes them): every other condition (``properties["$os"] == "Linux"``,
``defined(...)``...), and a ``$time`` comparison under ``or`` or ``not``, since applying it alone
would drop events the real server would send. An event's ``$time`` is its stored
``properties.time`` in seconds (the fake stores seconds; with ``time_in_ms`` it still compares
seconds). Raw lines (``add_raw_line``) are never filtered.

Arrival (``mp_processing_time_ms``, UTC ms) is applied the same way, as a conjunct:
``number(properties["mp_processing_time_ms"]) OP N`` or ``properties["mp_processing_time_ms"] OP N``
(N in ms), as Mixpanel's "Hot Shard Limits" scripts send it; an event without the property matches
no such comparison. ``defined(properties["mp_processing_time_ms"])`` and its ``not`` keep only the
events with (without) it. ``arrival_filter`` builds that predicate; the server can be told to
ignore it (``FakeMixpanel.honour_arrival_filter = False``), as a server that does not apply it would.
"""

from __future__ import annotations

import datetime
import operator
import re
from typing import Callable, Optional

_COMPARISON = re.compile(
    r"""properties\s*\[\s*["']\$time["']\s*\]\s*(>=|<=|==|>|<)\s*datetime\s*\(\s*(?:(-?\d+(?:\.\d+)?)|["']([^"']+)["'])\s*\)""",
    re.IGNORECASE,
)
_ARRIVAL = re.compile(
    r"""(?:number\s*\(\s*)?properties\s*\[\s*["']mp_processing_time_ms["']\s*\](?:\s*\))?\s*(>=|<=|==|>|<)\s*(-?\d+(?:\.\d+)?)""",
    re.IGNORECASE,
)
_DEFINED = re.compile(r"""(not\s+)?defined\s*\(\s*properties\s*\[\s*["']mp_processing_time_ms["']\s*\]\s*\)""", re.IGNORECASE)
_OPERATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq}
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_OR = re.compile(r"\s+or\s+", re.IGNORECASE)


def _wrapped(expression: str) -> bool:
    """True when the whole expression is one parenthesised group: `(a) and (b)` is not."""
    if not (expression.startswith("(") and expression.endswith(")")):
        return False
    depth = 0
    for index, char in enumerate(_blank_strings(expression)):
        depth += char == "("
        depth -= char == ")"
        if depth == 0 and index < len(expression) - 1:
            return False
    return True


def _blank_strings(expression: str) -> str:
    """The expression with the inside of quoted strings blanked, so brackets and `and` in them don't count."""
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', lambda match: '"' + " " * (len(match.group()) - 2) + '"', expression)


def conjuncts(expression: str) -> list[str]:
    """The top-level `and` operands, with fully parenthesised operands opened up."""
    expression = expression.strip()
    while _wrapped(expression):
        expression = expression[1:-1].strip()
    blanked, depth, start, parts = _blank_strings(expression), 0, 0, []
    position = 0
    while position < len(blanked):
        char = blanked[position]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0:
            if _OR.match(blanked, position):  # `a or b and c` is `a or (b and c)`: no top-level conjuncts
                return [expression]
            joiner = _AND.match(blanked, position)
            if joiner and position > 0:
                parts.append(expression[start:position])
                start = position = joiner.end()
                continue
        position += 1
    parts.append(expression[start:])
    if len(parts) == 1:
        return [expression]
    return [atom for part in parts for atom in conjuncts(part)]


def _seconds(number: Optional[str], text: Optional[str]) -> Optional[float]:
    if number is not None:
        return float(number)
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)).timestamp()


def time_filter(where: Optional[str]) -> Optional[Callable[[float], bool]]:
    """A predicate on an event's `$time` (Unix seconds) for the bounds `where` sets; None when it sets none."""
    if not where:
        return None
    bounds = []
    for atom in conjuncts(where):
        match = _COMPARISON.fullmatch(atom.strip())
        if match:
            seconds = _seconds(match.group(2), match.group(3))
            if seconds is not None:
                bounds.append((_OPERATORS[match.group(1)], seconds))
    if not bounds:
        return None
    if len(bounds) == 1:  # the usual case, kept cheap: the server calls this once per generated event
        (compare, bound), = bounds
        return lambda seconds: compare(seconds, bound)
    if len(bounds) == 2:
        (first, low), (second, high) = bounds
        return lambda seconds: first(seconds, low) and second(seconds, high)
    return lambda seconds: all(compare(seconds, bound) for compare, bound in bounds)


class ArrivalFilter:
    """A predicate on an event's `mp_processing_time_ms` (None when it has none) for the arrival bounds of `where`.

    `only_missing`: the filter keeps only events without the property (generated events all have it).
    """

    def __init__(self, bounds: list, defined: Optional[bool]):
        self._bounds, self._defined = bounds, defined
        self.only_missing = defined is False  # with bounds too, nothing matches: no generated event either

    def __call__(self, processed: Optional[float]) -> bool:
        if processed is None:
            return self._defined is False and not self._bounds
        if self._defined is False:
            return False
        return all(compare(processed, bound) for compare, bound in self._bounds)


def arrival_filter(where: Optional[str]) -> Optional[ArrivalFilter]:
    """The arrival bounds `where` sets (a predicate on `mp_processing_time_ms`), or None when it sets none."""
    if not where:
        return None
    bounds, defined = [], None
    for atom in conjuncts(where):
        atom = atom.strip()
        match = _ARRIVAL.fullmatch(atom)
        if match:
            bounds.append((_OPERATORS[match.group(1)], float(match.group(2))))
            continue
        match = _DEFINED.fullmatch(atom)
        if match:
            defined = not match.group(1)
    if not bounds and defined is None:
        return None
    return ArrivalFilter(bounds, defined)
