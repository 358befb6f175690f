"""What every endpoint of the fake shares: the credentials it accepts, the fault queue, the request
record, and the ways it answers (JSON or text, a status fault, a body broken half-way).

Kept below every endpoint module (it imports none of them) so that ``export.py``, ``engage.py``,
``cohorts.py``, ``reports.py`` and the router in ``handler.py`` each read on their own. Auth rules
follow ``/work/shared/reference/mixpanel-export-api.md``; error bodies are short
``{"error": ...}`` JSON objects that never echo credentials.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs

FAKE_PROJECT_ID = 4242
FAKE_SA_USERNAME = "demo-sa.fake-user"
FAKE_SA_SECRET = "fake-sa-secret-0000"
FAKE_PROJECT_SECRET = "fake-project-secret-0000"
FAKE_OAUTH_TOKEN = "fake-oauth-token-0000"

FAULT_KINDS = frozenset({
    "none", "status", "reset", "stall", "terminated_early", "split_line", "blank_lines", "crlf",
    "malformed", "truncated_gzip", "no_charset", "expire_session",
})
# The faults a JSON endpoint (Query API, reports) applies to its body; the others are served as "none".
BODY_FAULTS = frozenset({"reset", "stall", "malformed"})
_DEFAULT_STATUS_MESSAGES = {
    429: "Query rate limit exceeded, please slow down",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service temporarily unavailable",
    504: "Gateway timeout",
}


class Headers(dict):
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
    form: dict[str, str] = field(default_factory=dict)  # a Query API request's form body (engage.py, cohorts.py)
    # When the request arrived, by the fake's clock: now() when the fake has one, else the real UTC time.
    at: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.timezone.utc))


@dataclass
class Fault:
    kind: str
    options: dict


class Abort(Exception):
    """Drop the connection without finishing the response (stop() was called, or a fault)."""


class Shared:
    """The state one fake's endpoints share across threads: the lock, the stop event and the fault queue."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.faults: deque[list] = deque()  # [Fault, requests left], first in first out

    def add_fault(self, kind: str, times: int, options: dict) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {sorted(FAULT_KINDS)}")
        if times < 1:
            raise ValueError("times must be >= 1")
        with self.lock:
            self.faults.append([Fault(kind, dict(options)), times])

    def clear_faults(self) -> int:
        with self.lock:
            pending = sum(times for _, times in self.faults)
            self.faults.clear()
        return pending

    def take_fault(self) -> Fault | None:
        """The fault this request consumes (None: none queued)."""
        with self.lock:
            if not self.faults:
                return None
            entry = self.faults[0]
            entry[1] -= 1
            if entry[1] <= 0:
                self.faults.popleft()
            return entry[0]


def take_fault(handler: Any) -> Fault | None:
    """Consume the next queued fault for this request and note its kind on the record."""
    fault = handler.fake.shared.take_fault()
    handler.record.fault = fault.kind if fault else None
    return fault


def check_auth(fake: Any, headers: Any, params: dict[str, str]) -> tuple[int, str] | None:
    """(status, message) of the auth failure, or None: the rules of the module docstring of ``__init__``."""
    if fake.expired_credentials:
        return 400, "Unable to authenticate request"
    scheme, _, value = headers.get("Authorization", "").strip().partition(" ")
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


def send_json(handler: Any, status: int, payload, headers: dict | None = None, content_type: str | None = None) -> None:
    """A complete answer: dict/list -> JSON, str/bytes -> text (unless ``content_type`` says otherwise)."""
    body = payload if isinstance(payload, bytes) else (
        payload.encode("utf-8") if isinstance(payload, str) else json.dumps(payload).encode("utf-8"))
    if content_type is None:
        content_type = "text/plain; charset=utf-8" if isinstance(payload, (str, bytes)) else "application/json"
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, str(value))
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def send_status_fault(handler: Any, options: dict) -> None:
    """The ``status`` fault: that status (default 500), its headers and body, nothing else."""
    status = int(options.get("status", 500))
    body = options.get("body", {"error": _DEFAULT_STATUS_MESSAGES.get(status, f"Fake error {status}")})
    send_json(handler, status, body, options.get("headers"), options.get("content_type"))


def send_broken(handler: Any, body: bytes, kind: str, options: dict) -> None:
    """Half the body, then: the connection cut (reset), silence (stall), or the end of a 'complete' response (malformed)."""
    half = body[: len(body) // 2]
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(half) if kind == "malformed" else len(body)))
    handler.end_headers()
    handler.wfile.write(half)
    handler.wfile.flush()
    if kind == "stall":
        if not handler.fake.shared.stop.wait(float(options.get("seconds", 30))):
            handler.wfile.write(body[len(half):])
        return
    if kind == "reset":
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)


def read_form(handler: Any) -> dict[str, str]:
    """The request's form body (single values), also kept on its record."""
    length = int(handler.headers.get("Content-Length") or 0)
    form = {k: v[-1] for k, v in parse_qs(handler.rfile.read(length).decode("utf-8"), keep_blank_values=True).items()}
    handler.record.form = form
    return form


def serve_json(handler: Any, params: dict[str, str], method: str, answer: Callable[[], tuple[int, Any]],
               before_auth: Callable[[Fault], None] = lambda fault: None) -> None:
    """The flow every JSON endpoint shares: the method, one queued fault (``status`` before anything
    else), ``before_auth`` (say, a fault that acts on the data), auth, then ``answer()`` under the lock,
    its body broken by a ``reset``/``stall``/``malformed`` fault when the answer is a 200."""
    fake = handler.fake
    if handler.command != method:
        send_json(handler, 405, {"error": f"Use {method} for {handler.record.path}"})
        return
    fault = take_fault(handler)
    if fault is not None and fault.kind == "status":
        send_status_fault(handler, fault.options)
        return
    if fault is not None:
        before_auth(fault)
    problem = check_auth(fake, handler.headers, params)
    if problem is not None:
        send_json(handler, problem[0], {"error": problem[1]})
        return
    with fake.shared.lock:
        status, payload = answer()
    body = json.dumps(payload).encode("utf-8")
    if fault is not None and status == 200 and fault.kind in BODY_FAULTS:
        send_broken(handler, body, fault.kind, fault.options)
        return
    send_json(handler, status, body, content_type="application/json")
