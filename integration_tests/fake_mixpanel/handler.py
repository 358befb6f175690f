"""The fake's HTTP server and router: one ``Handler`` per connection records each request and hands
it to its endpoint module by path (``export.py``, ``engage.py``, ``cohorts.py``, ``reports.py``);
an unknown path is a 404 ``{"error": "Unknown endpoint GET /x"}``.

The router imports the endpoints and ``common.py``, never ``server.py``: the ``FakeMixpanel`` it
serves is set on the per-instance subclass (``Handler.fake``) when the server starts.
"""

from __future__ import annotations

import socket
import socketserver
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .cohorts import COHORTS_PATH, serve_cohorts
from .common import (  # noqa: F401  (the credentials, faults and record are re-exported: handler.py was their home)
    FAKE_OAUTH_TOKEN,
    FAKE_PROJECT_ID,
    FAKE_PROJECT_SECRET,
    FAKE_SA_SECRET,
    FAKE_SA_USERNAME,
    FAULT_KINDS,
    Abort,
    Headers,
    RecordedRequest,
    send_json,
)
from .engage import ENGAGE_PATH, serve_engage
from .export import EXPORT_PATH, MALFORMED_LINE, MAX_LIMIT, serve_export  # noqa: F401
from .reports import is_report_path, serve_report


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, handler, fake: Any):
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
        with self.fake.shared.lock:
            self.open_sockets.add(sock)
        return sock, addr

    def shutdown_request(self, request):
        with self.fake.shared.lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        if self.fake.debug:
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # needed for chunked bodies and keep-alive
    server_version = "FakeMixpanel/1.0"
    fake: Any  # the FakeMixpanel, set on the per-instance subclass
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
        fake = self.fake
        split = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        self.record = RecordedRequest(self.command, split.path, params, Headers(self.headers.items()), split.query)
        with fake.shared.lock:
            fake.requests.append(self.record)
        try:
            self.record.at = fake.clock()  # a clock that fails (or is naive) is a 500
            self._route(split.path, params)
        except (Abort, BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            self.close_connection = True
        except Exception:
            self.close_connection = True
            if fake.debug:
                traceback.print_exc()
            if self.record.status == 0:
                try:
                    send_json(self, 500, {"error": "fake server error"})
                except OSError:
                    pass
        finally:
            self.record.cpu_seconds = time.thread_time() - started

    def _route(self, path: str, params: dict[str, str]) -> None:
        if path == ENGAGE_PATH:
            serve_engage(self, params)
        elif path == COHORTS_PATH:
            serve_cohorts(self, params)
        elif is_report_path(path):
            serve_report(self, path, params)
        else:
            if self.command != "GET":
                self.close_connection = True  # the request body (if any) is never read
            if path != EXPORT_PATH or self.command != "GET":
                send_json(self, 404, {"error": f"Unknown endpoint {self.command} {path}"})
                return
            serve_export(self, params)
