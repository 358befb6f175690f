"""The fake AEP's HTTP side: auth, faults, routing to the store, recording every request."""

from __future__ import annotations

import json
import socket
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Dict, Optional

from .store import AepRefusal, bad_request, not_found

PREFIX = "/data"
REGISTRY = "/foundation/schemaregistry/tenant/"
FAKE_AEP_TOKEN = "fake-aep-access-token-0000"  # made-up values the fake accepts; never real credentials
FAKE_AEP_API_KEY = "fake-aep-api-key-0000"
FAKE_AEP_ORG = "FAKEORG0000@AdobeOrg"
FAKE_AEP_SANDBOX = "fake-sandbox"


@dataclass
class RecordedRequest:
    method: str
    path: str  # under /data, without the query string
    params: Dict[str, str]
    headers: Dict[str, str]
    body: bytes = b""
    status: int = 0
    fault: bool = False


class Handler(BaseHTTPRequestHandler):
    fake: Any  # the FakeAep, set on the subclass
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read fake.requests
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _serve(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path[len(PREFIX):] if parsed.path.startswith(PREFIX) else parsed.path
        params = dict(urllib.parse.parse_qsl(parsed.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = RecordedRequest(self.command, path, params, {key.lower(): value for key, value in self.headers.items()}, body)
        with self.fake.lock:
            self.fake.requests.append(record)
        fault = self.fake.take_fault(self.command, path)
        if fault is not None:
            record.fault = True
            if fault.drop:
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            detail = fault.body if fault.body is not None else {"title": "Internal Server Error", "status": fault.status,
                                                                   "detail": f"fake fault on {self.command} {path}"}
            return self._answer(record, fault.status, detail, fault.headers)
        if self.headers.get("Authorization") != f"Bearer {FAKE_AEP_TOKEN}":
            return self._answer(record, 401, {"error_code": "401013", "message": "Oauth token is not valid"})
        if self.headers.get("x-api-key") != FAKE_AEP_API_KEY:
            return self._answer(record, 403, {"error_code": "403003", "message": "Api Key is invalid"})
        if self.headers.get("x-gw-ims-org-id") != FAKE_AEP_ORG:
            return self._answer(record, 403, {"error_code": "403027", "message": "User is not part of the IMS org"})
        if not self.headers.get("x-sandbox-name"):
            return self._answer(record, 400, {"title": "Bad Request", "detail": "x-sandbox-name header is required"})
        try:
            status, answer = self._route(path, params, body)
        except AepRefusal as refusal:
            return self._answer(record, refusal.status, refusal.body)
        self._answer(record, status, answer)

    def _route(self, path: str, params: Dict[str, str], body: bytes) -> tuple:
        store, method = self.fake.store, self.command
        payload = _json(body) if body and method != "PUT" else None
        if path == "/core/idnamespace/identities":
            return (200, list(store.namespaces.values())) if method == "GET" else (201, store.create_namespace(payload))
        for kind, items, create in (("fieldgroups", store.field_groups, store.create_field_group), ("schemas", store.schemas, store.create_schema)):
            if path == REGISTRY + kind:
                return (200, self._page(items, params)) if method == "GET" else (201, create(payload))
        if path.startswith(REGISTRY + "fieldgroups/"):
            ident = urllib.parse.unquote(path[len(REGISTRY + "fieldgroups/"):])
            return (200, store.field_group(ident)) if method == "GET" else (200, store.patch_field_group(ident, payload))
        if path.startswith(REGISTRY + "schemas/"):
            ident = urllib.parse.unquote(path[len(REGISTRY + "schemas/"):])
            return (200, store.schema(ident)) if method == "GET" else (200, store.patch_schema(ident, payload))
        if path == REGISTRY + "descriptors":
            if method == "GET":
                return 200, {"xdm:descriptorIdentity": list(store.descriptors.values())}
            return 201, store.create_descriptor(payload)
        if path == "/foundation/catalog/dataSets":
            if method == "GET":
                wanted = params.get("name")
                return 200, {ident: {key: value for key, value in dataset.items() if key in ("name", "schemaRef", "tags")}
                             for ident, dataset in store.datasets.items() if wanted is None or dataset["name"] == wanted}
            return 201, store.create_dataset(payload)
        if path.startswith("/foundation/catalog/dataSets/") and method == "PATCH":
            return 200, store.patch_dataset(path.rsplit("/", 1)[-1], payload)
        if path.startswith("/foundation/catalog/batches/"):
            return 200, store.status_of(path.rsplit("/", 1)[-1])
        if path == "/foundation/import/batches" and method == "POST":
            return 201, store.create_batch(payload)
        parts = path.split("/")
        if path.startswith("/foundation/import/batches/") and method == "PUT" and len(parts) == 9 and parts[5] == "datasets" and parts[7] == "files":
            store.put_file(parts[4], parts[6], parts[8], body)
            return 200, None
        if path.startswith("/foundation/import/batches/") and method == "POST" and len(parts) == 5:
            store.action(parts[4], params.get("action"))
            return 200, None
        raise not_found(f"no route {method} {path}")

    def _page(self, items: Dict[str, Dict[str, Any]], params: Dict[str, str]) -> Dict[str, Any]:
        rows = [{"$id": item["$id"], "title": item["title"], "version": item["version"]} for item in items.values()]
        start = int(params.get("start") or 0)
        page = rows[start:start + self.fake.page_size]
        following = start + self.fake.page_size if start + self.fake.page_size < len(rows) else None
        return {"results": page, "_page": {"count": len(page), "next": following}}

    def _answer(self, record: Any, status: int, body: Any, headers: Optional[Dict[str, str]] = None) -> None:
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        record.status = status
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise bad_request("the body is not JSON") from None
