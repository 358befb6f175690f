"""Streamed export body -> JSON values (source_mixpanel_aep.records.jsonl)."""

import gzip
import os
import random
import re

import pytest

from source_mixpanel_aep.records.jsonl import (
    MAX_DEPTH,
    LongNumberWatch,
    MalformedLine,
    TerminatedEarly,
    TruncatedBody,
    gunzip,
    has_long_number,
    line_batches,
    parse_lines,
)

CHUNK_SIZES = [1, 7, 4096]
CHUNK_IDS = ["1-byte-chunks", "7-byte-chunks", "4096-byte-chunks"]


def chunked(body, size):
    return [body[i : i + size] for i in range(0, len(body), size)]


def line(name, **properties):
    props = ",".join(f'"{key}":{value}' for key, value in {"time": 1700000000000, **properties}.items())
    return f'{{"event":"{name}","properties":{{{props}}}}}'.encode()


def parse(body, size=4096):
    """Runs the pipeline; returns (values, repairs as (line_no, message))."""
    repairs = []
    values = list(parse_lines(line_batches(chunked(body, size)), on_repair=lambda no, what: repairs.append((no, what))))
    return values, repairs


def lines_of(chunks):
    return [line for batch in line_batches(chunks) for line in batch]


BODY = b"\n".join([line("Sign up", distinct_id='"u1"'), line("Café ☕"), line("Items purchased", item_price='"800.00"')]) + b"\n"


@pytest.mark.parametrize("size", CHUNK_SIZES, ids=CHUNK_IDS)
def test_line_batches_are_independent_of_chunk_boundaries(size):
    assert lines_of(chunked(BODY, size)) == BODY.splitlines(keepends=True)


@pytest.mark.parametrize("size", CHUNK_SIZES, ids=CHUNK_IDS)
def test_parsed_events_are_independent_of_chunk_boundaries(size):
    values, repairs = parse(BODY, size)
    assert [value["event"] for value in values] == ["Sign up", "Café ☕", "Items purchased"]
    assert repairs == []


def test_line_batches_keep_a_last_line_without_newline_and_tolerate_empty_chunks():
    assert list(line_batches([b"a\nb", b"", b"c", b"\n", b"d"])) == [[b"a\n"], [b"bc\n"], [b"d"]]


def test_line_batches_join_a_line_spread_over_many_chunks_and_keep_blank_lines():
    chunks = [b"x", b"y", b"z\n\n", b"\n", b"q", b"r\ns"]
    assert list(line_batches(chunks)) == [[b"xyz\n", b"\n"], [b"\n"], [b"qr\n"], [b"s"]]


def test_empty_body_has_no_events():
    assert parse(b"") == ([], [])


@pytest.mark.parametrize("size", CHUNK_SIZES, ids=CHUNK_IDS)
def test_crlf_line_endings_are_tolerated(size):
    values, repairs = parse(BODY.replace(b"\n", b"\r\n"), size)
    assert [value["event"] for value in values] == ["Sign up", "Café ☕", "Items purchased"]
    assert repairs == []


def test_blank_and_whitespace_lines_are_skipped():
    body = b"\n\n" + line("a") + b"\n   \n\r\n\t\n" + line("b") + b"\n\n"
    values, repairs = parse(body)
    assert [value["event"] for value in values] == ["a", "b"]
    assert repairs == []


@pytest.mark.parametrize("size", CHUNK_SIZES, ids=CHUNK_IDS)
def test_a_record_split_across_two_lines_is_rejoined_and_reported(size):
    whole = line("Split", distinct_id='"u9"', item_name='"charger"')
    cut = whole.index(b'"item_name"')
    body = line("before") + b"\n" + whole[:cut] + b"\n" + whole[cut:] + b"\n" + line("after") + b"\n"
    values, repairs = parse(body, size)
    assert [value["event"] for value in values] == ["before", "Split", "after"]
    assert values[1]["properties"] == {"time": 1700000000000, "distinct_id": "u9", "item_name": "charger"}
    assert len(repairs) == 1 and repairs[0][0] == 2 and "split across 2 lines" in repairs[0][1]


def test_a_record_split_across_three_lines_is_rejoined():
    whole = line("Split", a="1", b="2")
    body = whole[:10] + b"\n" + whole[10:30] + b"\r\n" + whole[30:] + b"\n"
    values, repairs = parse(body)
    assert values == [{"event": "Split", "properties": {"time": 1700000000000, "a": 1, "b": 2}}]
    assert repairs == [(1, "record split across 3 lines rejoined")]


def test_nan_becomes_null_and_is_reported():
    values, repairs = parse(line("a") + b"\n" + line("n", score="NaN", other="1") + b"\n")
    assert values[1]["properties"] == {"time": 1700000000000, "score": None, "other": 1}
    assert repairs == [(2, "NaN replaced by null")]


@pytest.mark.parametrize("big", [2**64 - 1, -(2**63)], ids=["u64-max", "i64-min"])
def test_integers_within_64_bits_are_kept_exactly(big):
    values, _ = parse(line("big", n=str(big)))
    assert values[0]["properties"]["n"] == big and isinstance(values[0]["properties"]["n"], int)


@pytest.mark.parametrize("big", [2**70, -(2**70), 2**64, -(2**63) - 1], ids=["2**70", "minus-2**70", "2**64", "i64-min-minus-1"])
def test_integers_beyond_64_bits_are_kept_exactly(big):
    values, _ = parse(line("big", n=str(big)))
    assert values[0]["properties"]["n"] == big and isinstance(values[0]["properties"]["n"], int)


def test_invalid_utf8_is_replaced_and_reported():
    bad = b'{"event":"bad","properties":{"time":1,"name":"caf\xe9 \xff"}}'
    values, repairs = parse(line("ok") + b"\n" + bad + b"\n")
    assert values[1]["properties"]["name"] == "caf\ufffd \ufffd"
    assert repairs == [(2, "invalid UTF-8 bytes replaced by U+FFFD")]


def test_duplicate_keys_last_one_wins():
    values, _ = parse(b'{"event":"a","event":"b","properties":{"time":1,"x":1,"x":2}}\n')
    assert values == [{"event": "b", "properties": {"time": 1, "x": 2}}]


def test_duplicate_keys_last_one_wins_on_the_tolerant_path_too():
    values, repairs = parse(b'{"event":"a","event":"b","properties":{"time":NaN,"x":1,"x":2}}\n')
    assert values == [{"event": "b", "properties": {"time": None, "x": 2}}]
    assert repairs


@pytest.mark.parametrize(
    "tail, line_no",
    [(b"terminated early\n", 3), (b"terminated early", 3), (b"  terminated early\r\n", 3), (b"\nterminated early\n", 4)],
    ids=["with-newline", "without-newline", "padded-crlf", "after-blank-line"],
)
def test_terminated_early_raises_after_the_complete_lines(tail, line_no):
    body = line("a") + b"\n" + line("b") + b"\n" + tail
    seen = []
    with pytest.raises(TerminatedEarly) as raised:
        for value in parse_lines(line_batches(chunked(body, 7))):
            seen.append(value["event"])
    assert seen == ["a", "b"]
    assert raised.value.line_no == line_no


def test_terminated_early_after_a_dangling_partial_line_still_raises_terminated_early():
    body = line("a") + b"\n" + line("b")[:15] + b"\nterminated early\n"
    with pytest.raises(TerminatedEarly):
        parse(body)


def test_an_unrepairable_line_followed_by_a_good_one_raises_malformed_line_with_its_number():
    body = line("a") + b"\n\n" + b'{"event":"broken", oops}' + b"\n" + line("b") + b"\n"
    with pytest.raises(MalformedLine) as raised:
        parse(body)
    assert raised.value.line_no == 3
    assert "oops" in str(raised.value)


def test_an_unrepairable_last_line_raises_malformed_line_with_its_number():
    body = line("a") + b"\n" + line("b") + b"\n" + b'{"event":"cut off'
    with pytest.raises(MalformedLine) as raised:
        parse(body)
    assert raised.value.line_no == 3


def test_too_many_unjoinable_lines_raise_malformed_line_at_the_first():
    body = line("a") + b"\n" + b"\n".join([b"{"] + [b"[" for _ in range(10)]) + b"\n"
    with pytest.raises(MalformedLine) as raised:
        parse(body)
    assert raised.value.line_no == 2


def gzipped(data):
    return gzip.compress(data, mtime=0)


BIG_BODY = b"".join(line(f"e{i % 50}", n=str(i)) + b"\n" for i in range(60_000))  # ~3.5 MB, compresses >20x
RANDOM_BODY = random.Random(7).randbytes(300_000)


@pytest.mark.parametrize("size", [1, 7, 4096, 65_537], ids=["1-byte", "7-byte", "4096-byte", "65537-byte"])
@pytest.mark.parametrize("body", [BODY, RANDOM_BODY, BIG_BODY], ids=["small", "incompressible", "highly-compressible"])
def test_gunzip_of_a_whole_body_in_odd_chunk_sizes(body, size):
    if size == 1 and len(body) > len(BODY):
        body = body[:20_000]
    assert b"".join(gunzip(chunked(gzipped(body), size))) == body


def test_gunzip_of_a_highly_compressible_body_yields_bounded_pieces():
    pieces = list(gunzip([gzipped(b"\n" * 5_000_000)]))
    assert sum(map(len, pieces)) == 5_000_000
    assert max(map(len, pieces)) <= 1024 * 1024


@pytest.mark.parametrize("cut", [-1, -4, -8, 0.5, 11], ids=["last-byte", "trailer-half", "whole-trailer", "middle", "header-only"])
def test_truncated_gzip_raises_truncated_body(cut):
    data = gzipped(BODY * 20)
    end = int(len(data) * cut) if isinstance(cut, float) else cut
    with pytest.raises(TruncatedBody):
        b"".join(gunzip(chunked(data[:end], 7)))


def test_corrupt_gzip_raises_truncated_body():
    data = bytearray(gzipped(os.urandom(2000)))
    data[20:40] = b"\x00" * 20
    with pytest.raises(TruncatedBody):
        b"".join(gunzip([bytes(data)]))


@pytest.mark.parametrize("size", [1, 7, 4096, None], ids=["1-byte", "7-byte", "4096-byte", "boundary-at-member-end"])
def test_two_concatenated_gzip_members_are_both_inflated(size):
    first, second = gzipped(line("first") + b"\n"), gzipped(line("second") + b"\n")
    chunks = [first, second] if size is None else chunked(first + second, size)
    values = list(parse_lines(line_batches(gunzip(chunks))))
    assert [value["event"] for value in values] == ["first", "second"]


def test_a_second_gzip_member_cut_short_raises_truncated_body():
    data = gzipped(BODY) + gzipped(BODY)[:-6]
    with pytest.raises(TruncatedBody):
        b"".join(gunzip(chunked(data, 7)))


def nested(depth, inside=b"1"):
    """An event whose properties hold a value nested `depth` levels deep in all (the event and properties objects included)."""
    return b'{"event":"deep","properties":{"time":1,"n":' + b"[" * (depth - 2) + inside + b"]" * (depth - 2) + b"}}"


@pytest.mark.parametrize(
    "depth",
    [MAX_DEPTH + 1, 1030, 5000],
    ids=["one-level-too-many", "beyond-orjson-1024", "beyond-the-recursion-limit"],
)
def test_an_event_nested_deeper_than_max_depth_is_skipped_through_on_skip_and_the_rest_parsed(depth):
    body = b"\n".join([line("before"), nested(depth), line("after")]) + b"\n"
    skipped = []
    values = list(parse_lines(line_batches([body]), on_skip=lambda no, why: skipped.append((no, why))))
    assert [value["event"] for value in values] == ["before", "after"]
    assert [no for no, _ in skipped] == [2] and f"more than {MAX_DEPTH} levels" in skipped[0][1]


def test_an_event_exactly_max_depth_deep_is_parsed():
    [value] = list(parse_lines([[nested(MAX_DEPTH)]]))
    depth, node = 2, value["properties"]["n"]
    while isinstance(node, list):
        depth, node = depth + 1, node[0]
    assert depth == MAX_DEPTH and node == 1


def test_brackets_inside_strings_do_not_count_as_depth():
    text = b'"' + b"[{" * MAX_DEPTH + b'"'
    [value] = list(parse_lines([[b'{"event":"brackets","properties":{"time":1,"s":' + text + b"}}"]]))
    assert value["properties"]["s"] == "[{" * MAX_DEPTH


def test_without_on_skip_a_too_deep_event_raises_malformed_line_rather_than_vanish():
    with pytest.raises(MalformedLine, match=r"line 1 .*more than 500 levels"):
        list(parse_lines([[nested(5000)]]))


def test_a_too_deep_event_split_across_two_lines_is_skipped_at_its_first_line():
    deep = nested(MAX_DEPTH + 10)
    skipped = []
    body = line("before") + b"\n" + deep[:-1] + b"\n" + deep[-1:] + b"\n" + line("after") + b"\n"
    values = list(parse_lines(line_batches([body]), on_skip=lambda no, why: skipped.append(no)))
    assert [value["event"] for value in values] == ["before", "after"] and skipped == [2]


@pytest.mark.parametrize("chunk_size", [1, 7, 18, 19, 20, 64, 4096])
@pytest.mark.parametrize("position", ["first line", "last line", "after many plain lines"])
@pytest.mark.parametrize("number", [2**70, -(2**63) - 1], ids=["2**70", "i64-min-minus-1 (19 digits)"])
def test_given_a_long_number_watch_then_huge_integers_stay_exact_wherever_the_chunks_split_them(chunk_size, position, number):
    plain = [b'{"event":"e","properties":{"time":1714521600000,"n":123456789012345678}}'] * 30
    big = b'{"event":"big","properties":{"time":1714521600000,"n":%d}}' % number
    lines = {"first line": [big] + plain, "last line": plain + [big], "after many plain lines": plain + [big] + plain}[position]
    body = b"\n".join(lines) + b"\n"
    watch = LongNumberWatch()
    values = list(parse_lines(line_batches(watch.watch(chunked(body, chunk_size))), long_numbers=watch))
    [value] = [v for v in values if v["event"] == "big"]
    assert value["properties"]["n"] == number and isinstance(value["properties"]["n"], int)
    assert len(values) == len(lines)


def _full_look(data: bytes) -> bool:
    """The definition, the slow way: 19 or more ASCII digits in a row."""
    return re.search(rb"[0-9]{19}", data) is not None


LONG_NUMBER_CASES = {
    "19 digits": b'{"n":1234567890123456789}',
    "18 digits": b'{"n":123456789012345678}',
    "20 digits at the start": b"12345678901234567890,",
    "19 digits at the end": b"x" * 37 + b"1234567890123456789",
    "timestamps and uuids only": b'{"time":1714521600123,"$insert_id":"935d87b1-00cd-41b7-be34-b9d98dd08b70","ms":1714521600123}',
    "many 18-digit runs": b",".join([b"123456789012345678"] * 200),
    "digit-dense, no long run": b",".join([b"1234567890"] * 500),
    "digit-dense, one long run at the end": b",".join([b"1234567890"] * 500) + b",12345678901234567890",
    "a negative below -2**63": b'{"k":-9223372036854775809}',
    "empty": b"",
}


@pytest.mark.parametrize("data", LONG_NUMBER_CASES.values(), ids=LONG_NUMBER_CASES.keys())
@pytest.mark.parametrize("shift", range(7))
def test_has_long_number_agrees_with_the_definition_at_every_alignment(data, shift):
    shifted = b" " * shift + data
    assert has_long_number(shifted) is _full_look(shifted)


EDGE_CASES = {
    "exactly 18 digits": (b"123456789012345678", False),
    "exactly 19 digits": (b"1234567890123456789", True),
    "19 digits at the start": (b'1234567890123456789,"a":1}', True),
    "19 digits at the end": (b'{"a":1,"n":1234567890123456789', True),
    "18 at the start, 18 at the end": (b"123456789012345678 x 123456789012345678", False),
    "a minus sign splits 20 digits": (b"1234567890-1234567890", False),
    "a dot splits 20 digits": (b"1234567890.1234567890", False),
    "a negative with 19 digits after the minus": (b"-1234567890123456789", True),
    "a float with 19 digits before the dot": (b"1234567890123456789.5", True),
    "a float with 19 digits after the dot": (b"0.1234567890123456789", True),
    "non-ASCII digits do not count": ("١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩".encode(), False),
    "a lone digit": (b"7", False),
}


@pytest.mark.parametrize("data, expected", EDGE_CASES.values(), ids=EDGE_CASES.keys())
def test_has_long_number_at_the_edges(data, expected):
    assert has_long_number(data) is expected is _full_look(data)


def test_has_long_number_agrees_with_the_definition_on_random_digit_soup():
    import random

    generator = random.Random(7)
    for _ in range(2000):
        data = bytes(generator.choice(b"0123456789 ,-a") for _ in range(generator.randint(0, 120)))
        assert has_long_number(data) is _full_look(data), data
