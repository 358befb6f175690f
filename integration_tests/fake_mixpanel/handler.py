"""The HTTP side of the fake: request checks, chunked/gzip streaming and the faults.

Kept apart from ``server.py`` (the data and the public ``FakeMixpanel`` object) so each file
reads on its own.  Auth and parameter rules follow the real API as described in
``/work/shared/reference/mixpanel-export-api.md``; the error bodies are short ``{"error": ...}``
JSON objects that never echo credentials.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import io
import itertools
import json
import re
import socket
import socketserver
import struct
import time
import traceback
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Callable, Iterator
from urllib.parse import parse_qs, urlsplit

from .people import QUERY_PATHS, serve_query
from .reports import is_report_path, serve_report

if TYPE_CHECKING:
    from .server import FakeMixpanel

FAKE_PROJECT_ID = 4242
FAKE_SA_USERNAME = "demo-sa.fake-user"
FAKE_SA_SECRET = "fake-sa-secret-0000"
FAKE_PROJECT_SECRET = "fake-project-secret-0000"
FAKE_OAUTH_TOKEN = "fake-oauth-token-0000"

EXPORT_PATH = "/api/2.0/export"
MAX_LIMIT = 100_000
FAULT_KINDS = frozenset({
    "none", "status", "reset", "stall", "terminated_early", "split_line", "blank_lines", "crlf",
    "malformed", "truncated_gzip", "no_charset", "expire_session",
})
MALFORMED_LINE = b'{"event": "broken", "properties": {\n'
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DEFAULT_STATUS_MESSAGES = {
    429: "Query rate limit exceeded, please slow down",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service temporarily unavailable",
    504: "Gateway timeout",
}


class _Headers(dict):
    """A plain dict of request headers (as sent) that also looks keys up case-insensitively."""

    def _key(self, key):
        if not dict.__contains__(self, key) and isinstance(key, str):
            for k in self:
                if k.lower() == key.lower():
                    return k
        return key

    def __getitem__(self, key):
        return dict.__getitem__(self, self._key(key))

    def __contains__(self, key):
        return dict.__contains__(self, self._key(key))

    def get(self, key, default=None):
        return dict.get(self, self._key(key), default)


@dataclass
class RecordedRequest:
    """One request as the fake saw it; ``status`` is 0 until a status line was sent."""

    method: str
    path: str  # without the query string
    params: dict[str, str]  # single values (the last one when a name repeats)
    headers: dict[str, str]  # case-insensitive lookups
    query: str = ""
    status: int = 0
    fault: str | None = None  # kind of the fault this request consumed
    lines_sent: int = 0  # body lines handed to the writer (events, raw lines, blank lines...)
    body_bytes: int = 0  # uncompressed body bytes sent
    cpu_seconds: float = 0.0  # server thread CPU time spent on this request
    from_cache: bool = False  # answered with a body kept from an earlier request (cache_bodies)
    form: dict[str, str] = field(default_factory=dict)  # a Query API request's form body (people.py)
    # When the request arrived, by the fake's clock: now() when the fake has one, else the real UTC time.
    at: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.timezone.utc))


@dataclass
class _Fault:
    kind: str
    options: dict


class _Abort(Exception):
    """Drop the connection without finishing the response (stop() was called, or a fault)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, handler, fake: "FakeMixpanel"):
        self.fake = fake
        self.open_sockets: set[socket.socket] = set()
        super().__init__(address, handler)

    def server_bind(self):
        # HTTPServer.server_bind calls socket.getfqdn(), which can hang on a box without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        sock, addr = super().get_request()
        # Send each chunk at once: with Nagle's algorithm a body's last small chunk waits for the client's
        # delayed ACK (40 ms on Linux), which made every multi-chunk response on a kept-alive connection 40 ms slower.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.fake._lock:
            self.open_sockets.add(sock)
        return sock, addr

    def shutdown_request(self, request):
        with self.fake._lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        if self.fake.debug:
            super().handle_error(request, client_address)


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

    def __init__(self, handler: "_Handler", *, gzip_ok: bool, force_gzip: bool, charset: bool):
        fake = handler.fake
        self.handler, self.wfile, self.stop = handler, handler.wfile, fake._stop
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
                raise _Abort()
            self.wfile.write(body.framed[off:off + (1 << 20)])
        self.wfile.write(b"0\r\n\r\n")
        self.record.lines_sent, self.record.body_bytes, self.record.from_cache = body.lines_sent, body.body_bytes, True

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
                raise _Abort()
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


def _shape(lines: Iterator[bytes], fault: _Fault | None) -> Iterator[bytes]:
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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # needed for chunked bodies and keep-alive
    server_version = "FakeMixpanel/1.0"
    fake: "FakeMixpanel"  # set on the per-instance subclass
    record: RecordedRequest | None = None

    def log_message(self, format, *args):  # noqa: A002 - quiet unless debugging
        if self.fake.debug:
            super().log_message(format, *args)

    def version_string(self):
        return self.server_version

    def send_response(self, code, message=None):
        if self.record is not None:
            self.record.status = code
        super().send_response(code, message)

    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _handle(self) -> None:
        started = time.thread_time()
        split = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        self.record = RecordedRequest(self.command, split.path, params, _Headers(self.headers.items()), split.query)
        self.fake._record(self.record)
        try:
            self.record.at = self.fake._clock()  # a clock that fails (or is naive) is a 500
            if split.path in QUERY_PATHS:
                serve_query(self, split.path, params)
                return
            if is_report_path(split.path):
                serve_report(self, split.path, params)
                return
            if self.command != "GET":
                self.close_connection = True  # the request body (if any) is never read
            if split.path != EXPORT_PATH or self.command != "GET":
                self._send_json(404, {"error": f"Unknown endpoint {self.command} {split.path}"})
                return
            fault = self.fake._take_fault()
            self.record.fault = fault.kind if fault else None
            if fault is not None and fault.kind == "status":
                self._status_fault(fault.options)
                return
            problem = self._check_auth(params) or self._check_params(params)
            if problem is not None:
                self._send_json(problem[0], {"error": problem[1]})
                return
            self._stream(params, fault)
        except (_Abort, BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            self.close_connection = True
        except Exception:
            self.close_connection = True
            if self.fake.debug:
                traceback.print_exc()
            if self.record.status == 0:
                try:
                    self._send_json(500, {"error": "fake server error"})
                except OSError:
                    pass
        finally:
            self.record.cpu_seconds = time.thread_time() - started

    # -- checks -----------------------------------------------------------------------------

    def _check_auth(self, params: dict[str, str]) -> tuple[int, str] | None:
        fake = self.fake
        if fake.expired_credentials:
            return 400, "Unable to authenticate request"
        scheme, _, value = self.headers.get("Authorization", "").strip().partition(" ")
        scheme, value, method = scheme.lower(), value.strip(), None
        if scheme == "basic":
            try:
                user, _, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = None, None
            if (user, password) == (FAKE_SA_USERNAME, FAKE_SA_SECRET):
                method = "service_account"
            elif (user, password) == (FAKE_PROJECT_SECRET, ""):
                method = "project_secret"
        elif scheme == "bearer" and value == FAKE_OAUTH_TOKEN:
            method = "oauth"
        if method is None or not fake.credentials_valid:
            return 401, "Invalid credentials"
        project_id = params.get("project_id")
        if project_id is None and method == "service_account":
            return 400, "project_id is required when authenticating with a service account"
        if project_id is not None:
            if not (project_id.isascii() and project_id.isdigit()):
                return 400, "project_id must be an integer"
            if int(project_id) != FAKE_PROJECT_ID:
                return 403, f"You don't have access to project {int(project_id)}"
        if fake.payment_required:
            return 402, "Your plan does not include the export API"
        return None

    def _check_params(self, params: dict[str, str]) -> tuple[int, str] | None:
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
        if dates["to_date"] > self.fake._today(self.record.at):
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

    # -- responses --------------------------------------------------------------------------

    def _send_json(self, status: int, payload, headers: dict | None = None, content_type: str | None = None):
        body = payload if isinstance(payload, bytes) else (
            payload.encode("utf-8") if isinstance(payload, str) else json.dumps(payload).encode("utf-8"))
        if content_type is None:
            content_type = "text/plain; charset=utf-8" if isinstance(payload, (str, bytes)) else "application/json"
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _status_fault(self, opts: dict) -> None:
        status = int(opts.get("status", 500))
        body = opts.get("body", {"error": _DEFAULT_STATUS_MESSAGES.get(status, f"Fake error {status}")})
        self._send_json(status, body, opts.get("headers"), opts.get("content_type"))

    def _stream(self, params: dict[str, str], fault: _Fault | None) -> None:
        fake, record = self.fake, self.record
        from_date = datetime.date.fromisoformat(params["from_date"])
        to_date = datetime.date.fromisoformat(params["to_date"])
        time_in_ms = params.get("time_in_ms", "").lower() == "true"
        wanted = frozenset(json.loads(params["event"])) if "event" in params else None
        limit = int(params["limit"]) if "limit" in params else None
        where = params.get("where") or None
        at = record.at if fake.now is not None else None  # existence cut-off: only with a clock

        def source() -> Iterator[bytes]:
            lines = fake._iter_lines(from_date, to_date, time_in_ms=time_in_ms, wanted=wanted, where=where, at=at)
            return itertools.islice(lines, limit) if limit is not None else lines

        kind, opts = (fault.kind, dict(fault.options)) if fault else (None, {})
        if kind == "terminated_early" and "after_events" not in opts:
            opts["after_events"] = sum(1 for _ in source()) // 2
        lines = _shape(source(), _Fault(kind, opts) if fault else None)
        accepts_gzip = any(
            part.split(";")[0].strip().lower() == "gzip" and "q=0" not in part.replace(" ", "").split(";")[1:]
            for part in self.headers.get("Accept-Encoding", "").split(","))
        writer = _BodyWriter(
            self, gzip_ok=accepts_gzip and fake.gzip_enabled,
            force_gzip=kind == "truncated_gzip" and accepts_gzip, charset=not (kind == "no_charset" or opts.get("no_charset")))
        # A queued fault wins; with none (or a "none" fault) a long body is cut after drop_every_lines lines.
        drop = fake.drop_every_lines if kind in (None, "none") else None
        # With a clock, a body is kept and reused only when every event of its days exists (then it is
        # what it would be without a clock, whatever the instant); otherwise it is generated each time.
        cache_key = (from_date, to_date, time_in_ms, wanted, where, limit, writer.gzip_ok, writer.charset, fake.honour_arrival_filter)
        version = fake._version
        if fake.cache_bodies and fault is None and (at is None or fake._settled(from_date, to_date, at)):
            with fake._lock:
                body = fake._bodies.get(cache_key)
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
                self._cut(writer, "reset", {})
                return
            record.lines_sent += 1
            if cut is not None and sent + len(line) >= cut:
                keep = cut - sent
                writer.write(line[:keep])
                sent, line, cut = cut, line[keep:], None
                if self._cut(writer, kind, opts):
                    return
            writer.write(line)
            sent += len(line)
        if cut is not None and self._cut(writer, kind, opts):
            return
        def keep() -> None:
            if writer.tee is not None:
                with fake._lock:
                    if fake._version == version:  # no event was added while this body was generated
                        fake._bodies[cache_key] = writer.cached()

        writer.finish(gzip_trailer=kind != "truncated_gzip", before_end=keep)

    def _cut(self, writer: _BodyWriter, kind: str, opts: dict) -> bool:
        """Act on a byte-count fault; True means the response is over (connection dropped)."""
        writer.flush()
        if kind == "stall":
            if self.fake._stop.wait(float(opts.get("seconds", 30))):
                raise _Abort()
            return False
        if kind == "truncated_gzip":  # end the gzip stream here, without its final block/trailer
            self.wfile.write(b"0\r\n\r\n")
            return True
        self.close_connection = True
        sock = self.connection
        if opts.get("rst"):  # RST: unread data may be lost, as with a real reset
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()  # drops the socket's last io reference, so close() is immediate
            self.wfile = io.BytesIO()  # handle_one_request() still flushes it afterwards
            sock.close()
        else:  # FIN in the middle of the chunked body: the client sees a truncated response
            sock.shutdown(socket.SHUT_RDWR)
        return True
