"""Streamed export body -> JSON values, one per event, in constant memory.

Pure: byte chunks in, parsed values out; nothing here knows about HTTP or Airbyte. What the export
API sends in practice, and what happens to it:
- blank lines, CRLF line endings: skipped / tolerated;
- a record split across two (or more) lines: rejoined, reported through `on_repair`;
- `NaN`, integers beyond 64 bits, invalid UTF-8: parsed by the tolerant standard-library path,
  reported through `on_repair` (NaN becomes null, bad bytes become U+FFFD);
- a final `terminated early` line: `TerminatedEarly`, the window is incomplete;
- a gzip body cut before its trailer: `TruncatedBody`;
- a line that no rejoining can parse: `MalformedLine` with its line number;
- valid JSON nested deeper than MAX_DEPTH: reported through `on_skip` and not yielded, since
  no parser or serializer down the line could carry it (without `on_skip`: `MalformedLine`).
"""

from __future__ import annotations

import json
import zlib
from io import BytesIO
from typing import Any, Callable, Iterable, Iterator, List, Optional

import orjson

MAX_LINE_BYTES = 256 * 1024 * 1024  # a line longer than this is not an event, whatever it is
MAX_JOINED_LINES = 8  # how many physical lines one split record may span
# Nesting levels an event may have. The CDK writes records with orjson (254 levels), falling back
# to the standard library, which stops near the interpreter's recursion limit (1000 frames, less
# what is already on the stack); far beyond anything analytics data holds.
MAX_DEPTH = 500
_DEEP_LINE_BYTES = 2 * MAX_DEPTH  # a shorter line cannot nest that deep
_DECOMPRESS_PIECE = 1024 * 1024  # bounds what one small gzip chunk may inflate to at once
TERMINATED_EARLY = b"terminated early"
# orjson turns integers outside [-2**63, 2**64) into floats without a word. Those have 19+ digits
# in a row (-9223372036854775809 has 19), and a translate+find spots such a run in about a
# nanosecond a byte; a line with one goes to the standard library's parser, which keeps it exact.
_DIGITS_ONLY = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_NUMBER = b"0" * 19
_BOUNDARY_BYTES = len(_LONG_NUMBER) - 1  # a run across two chunks shows in this many bytes each side of the boundary


class BodyError(Exception):
    """The body is incomplete or unreadable: the window must be read again."""


class TerminatedEarly(BodyError):
    def __init__(self, line_no: int):
        super().__init__(f"the server cut the export short ('terminated early' at line {line_no})")
        self.line_no = line_no


class TruncatedBody(BodyError):
    pass


class MalformedLine(BodyError):
    def __init__(self, line_no: int, line: bytes, reason: str):
        excerpt = line[:120].decode("utf-8", "replace")
        super().__init__(f"line {line_no} is not valid JSON ({reason}): {excerpt!r}{'...' if len(line) > 120 else ''}")
        self.line_no = line_no


def gunzip(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Inflate a gzip stream chunk by chunk; raise TruncatedBody if it ends before its trailer."""
    inflater = zlib.decompressobj(wbits=31)
    for chunk in chunks:
        data = chunk
        while data:
            try:
                out = inflater.decompress(data, _DECOMPRESS_PIECE)
            except zlib.error as error:
                raise TruncatedBody(f"the gzip body is corrupt ({error})") from None
            if out:
                yield out
            if inflater.eof and inflater.unused_data:  # a second gzip member follows
                data = inflater.unused_data
                inflater = zlib.decompressobj(wbits=31)
            else:
                data = inflater.unconsumed_tail
    tail = inflater.flush()
    if tail:
        yield tail
    if not inflater.eof:
        raise TruncatedBody("the gzip body ended before its end marker (truncated response)")


def line_batches(chunks: Iterable[bytes]) -> Iterator[List[bytes]]:
    """Chunks -> for each chunk, the lines it completes, each with its b"\\n" (the body's last line may lack one).

    The parser ignores the b"\\n", and a b"\\r" before it. Lines come a chunk's worth at a time, so the
    per-line work is the parser's alone. BytesIO.readlines finds line ends with memchr: about 60 ns a
    line of 1 KB, where bytes.split looks at every byte (about 280 ns).
    """
    pending: List[bytes] = []  # the pieces of a line that has not ended yet
    pending_size = 0
    for chunk in chunks:
        lines = BytesIO(chunk).readlines()
        if not lines:
            continue
        ends_a_line = chunk.endswith(b"\n")  # else its last piece is the start of a line still to come
        if pending:
            pending.append(lines[0])
            if len(lines) == 1 and not ends_a_line:  # no line ends in this chunk either
                pending_size += len(chunk)
                if pending_size > MAX_LINE_BYTES:
                    raise MalformedLine(0, pending[0], f"a line longer than {MAX_LINE_BYTES} bytes")
                continue
            lines[0] = b"".join(pending)
            pending, pending_size = [], 0
        if not ends_a_line:
            last = lines.pop()
            pending, pending_size = [last], len(last)
        if lines:
            yield lines
    if pending:
        yield [b"".join(pending)]


_FAILED = object()
_TOO_DEEP = object()


def _tolerant_loads(line: bytes, repairs: List[str]) -> Any:
    """The standard library's parser: slower, but takes NaN, huge integers and bad UTF-8."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        text = line.decode("utf-8", "replace")
        repairs.append("invalid UTF-8 bytes replaced by U+FFFD")

    def constant(name: str) -> None:
        repairs.append(f"{name} replaced by null")
        return None

    try:
        return json.loads(text, parse_constant=constant)
    except ValueError:
        return _FAILED
    except RecursionError:
        return _TOO_DEEP


def _too_deep(line: bytes, value: Any) -> bool:
    """Whether `value` nests more than MAX_DEPTH levels; the byte counts spare the walk for all usual lines."""
    if len(line) < _DEEP_LINE_BYTES or line.count(b"{") + line.count(b"[") <= MAX_DEPTH:
        return False
    stack = [(value, 1)]
    while stack:  # iterative: a recursive walk would hit the very limit this guards against
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _too_deep_reason() -> str:
    return f"it is nested more than {MAX_DEPTH} levels deep, more than JSON parsers and Airbyte's serializers can carry"


def has_long_number(data: bytes) -> bool:
    """Whether `data` holds 19 or more ASCII digits in a row (an integer orjson would turn into a float).

    One full look: every digit becomes b"0", every other byte a space, and 19 zeros in a row are searched
    for, both in C. An earlier every-third-byte sample was no faster on the fake's own events (issue 22).
    """
    return data.translate(_DIGITS_ONLY).find(_LONG_NUMBER) >= 0


class LongNumberWatch:
    """Looks for a run of 19+ digits chunk by chunk, so that most windows skip the per-line look.

    Once a chunk has one (19 bytes of the previous chunk are looked at again, for a run across the
    boundary), every later line of the window gets the per-line check: a line completes only after
    the chunks it spans have been watched, so none with such a run can slip through.
    """

    def __init__(self) -> None:
        self.seen = False
        self._tail = b""

    def watch(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            if not self.seen:
                keep = _BOUNDARY_BYTES
                # The chunk, and its start after the last bytes of the stream (a run across the boundary); no copy of the chunk.
                self.seen = has_long_number(self._tail + chunk[:keep]) or has_long_number(chunk)
                self._tail = chunk[-keep:] if len(chunk) >= keep else (self._tail + chunk)[-keep:]  # chunks can be tiny
            yield chunk


def parse_lines(
    batches: Iterable[List[bytes]],
    on_repair: Optional[Callable[[int, str], None]] = None,
    on_skip: Optional[Callable[[int, str], None]] = None,
    long_numbers: Optional[LongNumberWatch] = None,
) -> Iterator[Any]:
    """Batches of lines (line_batches) -> parsed JSON values. Fast path: orjson; anything it rejects gets a closer look.

    `on_repair(line_no, what)` hears of each repaired line; `on_skip(line_no, why)` of each line
    that is valid JSON but cannot be passed on (too deep). With `long_numbers` watching the chunks
    the lines come from, a line is looked at for 19+ digit runs only once the watch has seen one
    (asked once a batch: a batch's lines end in a chunk the watch has already looked at).
    """
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    deep_bytes = _DEEP_LINE_BYTES
    start_no = 0  # line number where the pending (split) record starts
    pending: List[bytes] = []
    line_no = 0
    for batch in batches:
        unseen = long_numbers is not None and not long_numbers.seen  # no 19-digit run in the body so far
        for line in batch:
            line_no += 1
            if not pending and (unseen or not has_long_number(line)):
                try:
                    value = loads(line)
                except decode_error:
                    pass
                else:
                    if len(line) < deep_bytes or not _too_deep(line, value):
                        yield value
                    else:
                        _skip(on_skip, line_no, line)
                    continue
            # The slow road: a blank line, the end marker, a line orjson refused, or the next piece of a split record.
            stripped = line.strip()
            if not stripped:
                continue
            if stripped == TERMINATED_EARLY:
                raise TerminatedEarly(line_no)
            if not pending:
                start_no = line_no
            pending.append(stripped)
            candidate = b"".join(pending)
            repairs: List[str] = [f"record split across {len(pending)} lines rejoined"] if len(pending) > 1 else []
            value = _tolerant_loads(candidate, repairs)
            if value is _TOO_DEEP or (value is not _FAILED and _too_deep(candidate, value)):
                _skip(on_skip, start_no, pending[0])
                pending = []
            elif value is not _FAILED:
                if on_repair and repairs:
                    on_repair(start_no, "; ".join(repairs))
                pending = []
                yield value
            elif len(pending) > 1 and (_tolerant_loads(stripped, []) is not _FAILED or len(pending) >= MAX_JOINED_LINES):
                # The next line stands on its own, so the pending one was not the start of a split record.
                raise MalformedLine(start_no, pending[0], "no following line completes it")
    if pending:
        raise MalformedLine(start_no, pending[0], "the body ends inside it")


def _skip(on_skip: Optional[Callable[[int, str], None]], line_no: int, line: bytes) -> None:
    if on_skip is None:
        raise MalformedLine(line_no, line, _too_deep_reason())
    on_skip(line_no, _too_deep_reason())
