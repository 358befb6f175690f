"""The fake's raw event export, ``GET /api/2.0/export``: parameter checks, the chunked (optionally gzip)
body streamed from ``FakeMixpanel.body_lines``, the body cache, and the line and byte faults.

As ``/work/shared/reference/mixpanel-export-api.md`` describes it: ``from_date``/``to_date`` (inclusive,
``to_date`` not after the server's today), ``limit`` (1..100000), ``event`` (a JSON array of names),
``where``, ``time_in_ms``. A sample body line::

    {"event":"Page View","properties":{"time":1709251200,"distinct_id":"user-00042@example.com",...}}
"""

from __future__ import annotations

import datetime
import io
import itertools
import json
import re
import socket
import struct
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from .common import Abort, Fault, check_auth, send_json, send_status_fault, take_fault

EXPORT_PATH = "/api/2.0/export"
MAX_LIMIT = 100_000
MALFORMED_LINE = b'{"event": "broken", "properties": {\n'
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def serve_export(handler: Any, params: dict[str, str]) -> None:
    """Answer ``GET /api/2.0/export`` (the router sends only a GET of EXPORT_PATH here)."""
    fault = take_fault(handler)
    if fault is not None and fault.kind == "status":
        send_status_fault(handler, fault.options)
        return
    problem = (check_auth(handler.fake, handler.headers, params)
               or check_params(params, handler.fake.server_today(handler.record.at)))
    if problem is not None:
        send_json(handler, problem[0], {"error": problem[1]})
        return
    _stream(handler, params, fault)


def check_params(params: dict[str, str], today: datetime.date) -> tuple[int, str] | None:
    """(400, message) for a bad export query string, or None."""
    dates = {}
    for name in ("from_date", "to_date"):
        value = params.get(name)
        if not value:
            return 400, f"'{name}' is a required parameter"
        try:
            if not _DATE.fullmatch(value):
                raise ValueError
            dates[name] = datetime.date.fromisoformat(value)
        except ValueError:
            return 400, f"'{name}' must be a date in yyyy-mm-dd format"
    if dates["from_date"] > dates["to_date"]:
        return 400, "from_date cannot be later than to_date"
    if dates["to_date"] > today:
        return 400, "to_date cannot be later than today"
    limit = params.get("limit")
    if limit is not None and not (limit.isascii() and limit.isdigit() and 1 <= int(limit) <= MAX_LIMIT):
        return 400, f"limit must be an integer between 1 and {MAX_LIMIT}"
    if "event" in params:
        try:
            names = json.loads(params["event"])
        except ValueError:
            names = None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return 400, "event must be a JSON array of event names"
    return None


@dataclass
class _CachedBody:
    """A fault-free response body as it went out: chunk-framed bytes, and what the record counted."""

    gzip: bool
    framed: bytes
    lines_sent: int
    body_bytes: int


class _BodyWriter:
    """Writes a 200 response body as HTTP/1.1 chunks of ``chunk_size`` payload bytes.

    Headers go out with the first chunk, so that (like the real API) a body under
    ``gzip_min_bytes`` that ends before then is sent uncompressed.  ``flush`` pushes everything
    buffered to the client, with a zlib sync flush so the client can decode it (used by faults)."""

    def __init__(self, handler: Any, *, gzip_ok: bool, force_gzip: bool, charset: bool):
        fake = handler.fake
        self.handler, self.wfile, self.stop = handler, handler.wfile, fake.shared.stop
        self.chunk_size, self.gzip_min = fake.chunk_size, fake.gzip_min_bytes
        self.gzip_ok, self.force_gzip, self.charset = gzip_ok or force_gzip, force_gzip, charset
        self.buf = bytearray()
        self.started = False
        self.compressor = None
        self.record = handler.record  # counters updated as bytes go out, so a client sees them current
        self.tee: list[bytes] | None = None  # a copy of the framed chunks, for the body cache

    def write(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) >= self.chunk_size:
            self._drain(everything=False, complete=False)

    def flush(self) -> None:
        self._drain(everything=True, complete=False)
        if self.compressor is not None:
            self._chunk(self.compressor.flush(zlib.Z_SYNC_FLUSH))

    def finish(self, *, gzip_trailer: bool = True, before_end: Callable[[], None] = lambda: None) -> None:
        self._drain(everything=True, complete=True)
        if self.compressor is not None:
            self._chunk(self.compressor.flush(zlib.Z_FINISH if gzip_trailer else zlib.Z_SYNC_FLUSH))
        before_end()  # before the last chunk: a client that has the whole body may ask again at once
        self.wfile.write(b"0\r\n\r\n")

    def cached(self) -> _CachedBody:
        """What was sent, to replay; only after finish() of a writer that had a tee from the start."""
        return _CachedBody(self.compressor is not None, b"".join(self.tee or ()), self.record.lines_sent, self.record.body_bytes)

    def replay(self, body: _CachedBody) -> None:
        self._start(complete=False, use_gzip=body.gzip)
        self.compressor = None  # the cached bytes are compressed already
        for off in range(0, len(body.framed), 1 << 20):
            if self.stop.is_set():
                raise Abort()
            self.wfile.write(body.framed[off:off + (1 << 20)])
        # Recorded before the last chunk: a client that has the whole body may look at fake.requests at once.
        self.record.lines_sent, self.record.body_bytes, self.record.from_cache = body.lines_sent, body.body_bytes, True
        self.wfile.write(b"0\r\n\r\n")

    def _start(self, complete: bool, use_gzip: bool | None = None) -> None:
        h = self.handler
        if use_gzip is None:
            use_gzip = self.gzip_ok and (self.force_gzip or not complete or len(self.buf) >= self.gzip_min)
        h.send_response(200)
        h.send_header("Content-Type", "text/plain; charset=utf-8" if self.charset else "text/plain")
        h.send_header("Transfer-Encoding", "chunked")
        if use_gzip:
            h.send_header("Content-Encoding", "gzip")
            # Level 1: the fake must keep up with a local client streaming a million events.
            self.compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
        h.send_header("Vary", "Accept-Encoding")
        h.end_headers()
        self.started = True

    def _drain(self, *, everything: bool, complete: bool) -> None:
        if not self.started:
            self._start(complete)
        size, cs = len(self.buf), self.chunk_size
        end = size if everything else size - size % cs
        for off in range(0, end, cs):
            if self.stop.is_set():
                raise Abort()
            piece = self.buf[off:off + cs]
            self.record.body_bytes += len(piece)
            self._chunk(self.compressor.compress(piece) if self.compressor is not None else piece)
        del self.buf[:end]

    def _chunk(self, data) -> None:
        if len(data):
            framed = b"%X\r\n%s\r\n" % (len(data), data)
            self.wfile.write(framed)
            if self.tee is not None:
                self.tee.append(framed)


def _shape(lines: Iterator[bytes], fault: Fault | None) -> Iterator[bytes]:
    """Apply the line-level faults (split, malformed, blank lines, CRLF, terminated early)."""
    opts = fault.options if fault else {}
    kind = fault.kind if fault else None
    crlf = kind == "crlf" or opts.get("crlf", False)
    blank = kind == "blank_lines" or opts.get("blank_lines", False)
    split_at = opts.get("event_index", 0) if kind == "split_line" else None
    bad_at = opts.get("event_index", 0) if kind == "malformed" else None
    stop_after = opts["after_events"] if kind == "terminated_early" else None
    if not (crlf or blank or split_at is not None or bad_at is not None or stop_after is not None):
        yield from lines
        return
    eol = b"\r\n" if crlf else b"\n"
    for i, line in enumerate(lines):
        if stop_after is not None and i >= stop_after:
            break
        if i == bad_at:
            line = MALFORMED_LINE
        elif i == split_at:
            mid = (len(line) - 1) // 2
            line = line[:mid] + b"\n" + line[mid:]
        yield line.replace(b"\n", b"\r\n") if crlf else line
        if blank:
            yield eol
    if stop_after is not None:
        yield b"terminated early" + (eol if opts.get("trailing_newline", True) else b"")


def _stream(handler: Any, params: dict[str, str], fault: Fault | None) -> None:
    fake, record = handler.fake, handler.record
    from_date = datetime.date.fromisoformat(params["from_date"])
    to_date = datetime.date.fromisoformat(params["to_date"])
    time_in_ms = params.get("time_in_ms", "").lower() == "true"
    wanted = frozenset(json.loads(params["event"])) if "event" in params else None
    limit = int(params["limit"]) if "limit" in params else None
    where = params.get("where") or None
    at = record.at if fake.now is not None else None  # existence cut-off: only with a clock

    def source() -> Iterator[bytes]:
        lines = fake.body_lines(from_date, to_date, time_in_ms=time_in_ms, wanted=wanted, where=where, at=at)
        return itertools.islice(lines, limit) if limit is not None else lines

    kind, opts = (fault.kind, dict(fault.options)) if fault else (None, {})
    if kind == "terminated_early" and "after_events" not in opts:
        opts["after_events"] = sum(1 for _ in source()) // 2
    lines = _shape(source(), Fault(kind, opts) if fault else None)
    accepts_gzip = any(
        part.split(";")[0].strip().lower() == "gzip" and "q=0" not in part.replace(" ", "").split(";")[1:]
        for part in handler.headers.get("Accept-Encoding", "").split(","))
    writer = _BodyWriter(
        handler, gzip_ok=accepts_gzip and fake.gzip_enabled,
        force_gzip=kind == "truncated_gzip" and accepts_gzip, charset=not (kind == "no_charset" or opts.get("no_charset")))
    # A queued fault wins; with none (or a "none" fault) a long body is cut after drop_every_lines lines.
    drop = fake.drop_every_lines if kind in (None, "none") else None
    # With a clock, a body is kept and reused only when every event of its days exists (then it is
    # what it would be without a clock, whatever the instant); otherwise it is generated each time.
    cache_key = (from_date, to_date, time_in_ms, wanted, where, limit, writer.gzip_ok, writer.charset, fake.honour_arrival_filter)
    version = fake.data_version
    if fake.cache_bodies and fault is None and (at is None or fake.settled(from_date, to_date, at)):
        body = fake.kept_body(cache_key)
        if body is not None and (drop is None or body.lines_sent <= drop):
            writer.replay(body)
            return
        writer.tee = []

    cut = None
    if kind in ("reset", "stall"):
        cut = opts.get("after_bytes")
        if cut is None:  # half a small body, else 2000 bytes
            head, size = [], 0
            for line in lines:
                head.append(line)
                size += len(line)
                if size >= 4000:
                    break
            cut = size // 2 if size < 4000 else 2000
            lines = itertools.chain(head, lines)
    elif kind == "truncated_gzip":
        cut = opts.get("after_bytes")
    sent = 0
    for line in lines:
        if drop is not None and record.lines_sent >= drop:  # one line more than allowed: drop the connection
            _cut(handler, writer, "reset", {})
            return
        record.lines_sent += 1
        if cut is not None and sent + len(line) >= cut:
            keep = cut - sent
            writer.write(line[:keep])
            sent, line, cut = cut, line[keep:], None
            if _cut(handler, writer, kind, opts):
                return
        writer.write(line)
        sent += len(line)
    if cut is not None and _cut(handler, writer, kind, opts):
        return

    def keep() -> None:
        if writer.tee is not None:  # kept only if no event was added while this body was generated
            fake.keep_body(cache_key, version, writer.cached())

    writer.finish(gzip_trailer=kind != "truncated_gzip", before_end=keep)


def _cut(handler: Any, writer: "_BodyWriter", kind: str, opts: dict) -> bool:
    """Act on a byte-count fault; True means the response is over (connection dropped)."""
    writer.flush()
    if kind == "stall":
        if handler.fake.shared.stop.wait(float(opts.get("seconds", 30))):
            raise Abort()
        return False
    if kind == "truncated_gzip":  # end the gzip stream here, without its final block/trailer
        handler.wfile.write(b"0\r\n\r\n")
        return True
    handler.close_connection = True
    sock = handler.connection
    if opts.get("rst"):  # RST: unread data may be lost, as with a real reset
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.rfile.close()  # drops the socket's last io reference, so close() is immediate
        handler.wfile = io.BytesIO()  # handle_one_request() still flushes it afterwards
        sock.close()
    else:  # FIN in the middle of the chunked body: the client sees a truncated response
        sock.shutdown(socket.SHUT_RDWR)
    return True
