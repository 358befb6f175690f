"""records/json_codec: orjson's bytes, and where orjson refuses, the standard library's written the same way."""

import orjson
import pytest

from source_mixpanel_aep.records.json_codec import dumps, dumps_sorted, stdlib_dumps, stdlib_text

DEEP = 300  # past orjson's 254 levels


def nested(depth):
    value = []
    for _ in range(depth - 1):
        value = [value]
    return value


ORJSON_WRITES = {
    "an object": {"b": 1, "a": [1.5, True, None, "x"]},
    "non-ASCII": {"city": "Zürich", "emoji": "\U0001F600", "sep": "\u2028"},
    "escapes": {"q": "\"\\\n\t\x01"},
    "a float": [0.1, 1.5e300, -0.0, 1e16, 123456789.123],
    "the largest 64-bit integers": [2**63 - 1, -2**63, 2**64 - 1],
}
ORJSON_REFUSES = {
    "an integer beyond 64 bits": ({"n": 2**64}, b'{"n":18446744073709551616}'),
    "a negative below -2**63": ([-2**63 - 1], b"[-9223372036854775809]"),
    "a lone surrogate": ({"s": "a\ud800b"}, b'{"s":"a\xed\xa0\x80b"}'),
    "nesting past orjson's limit": (nested(DEEP), b"[" * DEEP + b"]" * DEEP),
}


@pytest.mark.parametrize("value", ORJSON_WRITES.values(), ids=ORJSON_WRITES.keys())
def test_what_orjson_writes_is_orjsons_bytes_and_the_fallback_writes_the_same(value):
    assert dumps(value) == orjson.dumps(value) == stdlib_dumps(value)
    assert dumps_sorted(value) == orjson.dumps(value, option=orjson.OPT_SORT_KEYS) == stdlib_dumps(value, sort_keys=True)
    assert stdlib_text(value) == orjson.dumps(value).decode()


@pytest.mark.parametrize("value, expected", ORJSON_REFUSES.values(), ids=ORJSON_REFUSES.keys())
def test_what_orjson_refuses_the_standard_library_writes(value, expected):
    with pytest.raises(TypeError):
        orjson.dumps(value)
    assert dumps(value) == expected == dumps_sorted(value)


def test_a_small_floats_exponent_is_where_the_fallback_writes_differently():
    """Known and kept: Python writes 1e-07 where orjson writes 1e-7 (same number; only a value orjson refused goes this way)."""
    assert (orjson.dumps([1e-7]), stdlib_dumps([1e-7])) == (b"[1e-7]", b"[1e-07]")


def test_sorted_sorts_every_object_in_the_fallback_too():
    assert dumps_sorted({"b": {"d": 1, "c": 2**64}, "a": 0}) == b'{"a":0,"b":{"c":18446744073709551616,"d":1}}'
