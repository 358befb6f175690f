"""records/values: every converter the records share, case by case (named), byte for byte as the records have them."""

import pytest

from source_mixpanel_aep.records import mapping, people, reports, xdm
from source_mixpanel_aep.records.values import (
    XDM_LONG_MAX,
    as_boolean,
    as_integer,
    as_text,
    json_text,
    utc_datetime,
    whole_number,
    xdm_boolean,
    xdm_integer,
    xdm_number,
    xdm_string,
)

BIG = 2**70  # beyond 64 bits: orjson refuses it
CASES = {
    # the flat record's columns: (value, exact)
    "as_text: a string as is": (as_text, "abc", ("abc", True)),
    "as_text: an empty string as is": (as_text, "", ("", True)),
    "as_text: true": (as_text, True, ("true", False)),
    "as_text: false": (as_text, False, ("false", False)),
    "as_text: an integer": (as_text, 7, ("7", False)),
    "as_text: a huge integer, exact": (as_text, BIG, (str(BIG), False)),
    "as_text: a float as Python writes it": (as_text, 800.0, ("800.0", False)),
    "as_text: a small float": (as_text, 1e-7, ("1e-07", False)),
    "as_text: null is exact (nothing to keep)": (as_text, None, (None, True)),
    "as_text: a list is no text": (as_text, [1], (None, False)),
    "as_text: an object is no text": (as_text, {"a": 1}, (None, False)),
    "as_integer: an integer": (as_integer, 5, (5, True)),
    "as_integer: a huge integer as is": (as_integer, BIG, (BIG, True)),
    "as_integer: an integral float": (as_integer, 5.0, (5, False)),
    "as_integer: a fraction": (as_integer, 5.5, (None, False)),
    "as_integer: a padded numeric string": (as_integer, " 42 ", (42, False)),
    "as_integer: a decimal string": (as_integer, "4.2", (None, False)),
    "as_integer: a boolean is no integer": (as_integer, True, (None, False)),
    "as_integer: null": (as_integer, None, (None, True)),
    "as_integer: a list": (as_integer, [], (None, False)),
    "as_boolean: a boolean": (as_boolean, False, (False, True)),
    "as_boolean: null": (as_boolean, None, (None, True)),
    "as_boolean: the string true is not taken": (as_boolean, "true", (None, False)),
    "as_boolean: 1 is not taken": (as_boolean, 1, (None, False)),
    # XDM: map values and typed fields
    "json_text: a string as is": (json_text, "é", "é"),
    "json_text: true": (json_text, True, "true"),
    "json_text: a huge integer": (json_text, BIG, str(BIG)),
    "json_text: a float as orjson writes it": (json_text, 1e-7, "1e-7"),
    "json_text: null": (json_text, None, "null"),
    "json_text: a list, compact": (json_text, [1, "a", None], '[1,"a",null]'),
    "json_text: an object keeps non-ASCII": (json_text, {"e": "é"}, '{"e":"é"}'),
    "json_text: a huge integer inside a list (stdlib)": (json_text, [BIG], f"[{BIG}]"),
    "xdm_string: a string": (xdm_string, "a", ("a", True)),
    "xdm_string: a float as orjson writes it": (xdm_string, 1e-7, ("1e-7", False)),
    "xdm_string: true": (xdm_string, True, ("true", False)),
    "xdm_string: null is not exact": (xdm_string, None, (None, False)),
    "xdm_string: a list": (xdm_string, [1], (None, False)),
    "xdm_integer: the long's maximum": (xdm_integer, XDM_LONG_MAX, (XDM_LONG_MAX, True)),
    "xdm_integer: the long's minimum": (xdm_integer, -XDM_LONG_MAX, (-XDM_LONG_MAX, True)),
    "xdm_integer: one past the long": (xdm_integer, XDM_LONG_MAX + 1, (None, False)),
    "xdm_integer: an integral float": (xdm_integer, 3.0, (3, False)),
    "xdm_integer: a signed string": (xdm_integer, "+7", (7, False)),
    "xdm_integer: a padded negative string": (xdm_integer, " -7 ", (-7, False)),
    "xdm_integer: a decimal string": (xdm_integer, "7.0", (None, False)),
    "xdm_integer: a string past the long": (xdm_integer, str(XDM_LONG_MAX + 1), (None, False)),
    "xdm_integer: a boolean": (xdm_integer, True, (None, False)),
    "xdm_integer: null": (xdm_integer, None, (None, False)),
    "xdm_number: a float": (xdm_number, 1.5, (1.5, True)),
    "xdm_number: an integer": (xdm_number, 3, (3, True)),
    "xdm_number: an integer past the long": (xdm_number, XDM_LONG_MAX + 1, (None, False)),
    "xdm_number: a numeric string": (xdm_number, "1e3", (1000.0, False)),
    "xdm_number: nan is no number": (xdm_number, "nan", (None, False)),
    "xdm_number: infinity is no number": (xdm_number, "-inf", (None, False)),
    "xdm_number: words": (xdm_number, "abc", (None, False)),
    "xdm_number: a boolean": (xdm_number, False, (None, False)),
    "xdm_boolean: a boolean": (xdm_boolean, False, (False, True)),
    "xdm_boolean: a padded TRUE": (xdm_boolean, " TRUE ", (True, False)),
    "xdm_boolean: yes is not taken": (xdm_boolean, "yes", (None, False)),
    "xdm_boolean: 1 is not taken": (xdm_boolean, 1, (None, False)),
    # people and reports
    "utc_datetime: no offset is UTC": (utc_datetime, "2008-06-09T23:08:40", "2008-06-09T23:08:40Z"),
    "utc_datetime: a space for the T": (utc_datetime, "2019-03-19 23:49:51", "2019-03-19T23:49:51Z"),
    "utc_datetime: an offset is converted": (utc_datetime, "2024-01-01T01:00:00+02:00", "2023-12-31T23:00:00Z"),
    "utc_datetime: an offset without a colon": (utc_datetime, "2024-01-01T00:00:00-0530", "2024-01-01T05:30:00Z"),
    "utc_datetime: a fraction keeps microseconds": (utc_datetime, "2024-01-01T00:00:00.5z", "2024-01-01T00:00:00.500000Z"),
    "utc_datetime: minutes only": (utc_datetime, " 2024-01-01T00:00 ", "2024-01-01T00:00:00Z"),
    "utc_datetime: a day that does not exist": (utc_datetime, "2024-02-30T00:00:00", None),
    "utc_datetime: a number": (utc_datetime, 1714521600, None),
    "utc_datetime: words": (utc_datetime, "yesterday", None),
    "utc_datetime: a date alone": (utc_datetime, "2024-01-01", None),
    "whole_number: an integer": (whole_number, 150, 150),
    "whole_number: a string": (whole_number, "150", 150),
    "whole_number: a padded negative string": (whole_number, " -3 ", -3),
    "whole_number: a plus sign is not taken": (whole_number, "+3", None),
    "whole_number: an integral float": (whole_number, 150.0, 150),
    "whole_number: a fraction": (whole_number, 1.5, None),
    "whole_number: a decimal string": (whole_number, "1.0", None),
    "whole_number: a boolean": (whole_number, True, None),
    "whole_number: null": (whole_number, None, None),
}


@pytest.mark.parametrize("convert, value, expected", CASES.values(), ids=CASES.keys())
def test_each_converter(convert, value, expected):
    got = convert(value)
    assert got == expected
    assert [type(part) for part in (got if isinstance(got, tuple) else (got,))] == [type(part) for part in (expected if isinstance(expected, tuple) else (expected,))]


def test_the_records_use_these_converters_themselves():
    """One family each, no copies: the flat columns, the XDM fields and the people and report records call values.py's."""
    assert {convert for _, convert in mapping.PROMOTED.values()} == {as_text, as_integer, as_boolean}
    assert dict(xdm.CONVERTERS) == {"string": xdm_string, "integer": xdm_integer, "number": xdm_number, "boolean": xdm_boolean}
    assert (people.as_text, people.utc_datetime, people.whole_number) == (as_text, utc_datetime, whole_number)
    assert (reports.as_text, reports.utc_datetime, reports.whole_number) == (as_text, utc_datetime, whole_number)
