"""Fake Adobe Experience Platform: the endpoints `source-mixpanel-aep-xdm setup|upload|status` call, on 127.0.0.1.

Standard library only. Typical use::

    with FakeAep() as aep:
        env = {**os.environ, **aep.env()}          # AEP_BASE_URL, AEP_ACCESS_TOKEN, AEP_API_KEY, AEP_ORG_ID, AEP_SANDBOX
        ...
        assert [r.method for r in aep.requests] == [...]
        aep.store.datasets[...]["rows"]           # what landed; "profile_rows": what Profile took

Served under ``/data`` (``aep.url`` ends with it), as platform.adobe.io does:
  GET/POST /core/idnamespace/identities, GET/POST /foundation/schemaregistry/tenant/{fieldgroups,schemas,descriptors},
  GET/PATCH /foundation/schemaregistry/tenant/schemas/<url-encoded $id>, GET/POST /foundation/catalog/dataSets,
  PATCH /foundation/catalog/dataSets/<id>, POST /foundation/import/batches, PUT .../batches/<id>/datasets/<ds>/files/<name>,
  POST /foundation/import/batches/<id>?action=COMPLETE|ABORT, GET /foundation/catalog/batches/<id>.
Registry listings are paged (``page_size``, ``_page.next`` then ``?start=``). The rules AEP applies
are in ``store.py``.

Credentials: ``Authorization: Bearer FAKE_AEP_TOKEN`` (else 401 with the gateway's
``{"error_code": "401013", "message": "Oauth token is not valid"}``), ``x-api-key: FAKE_AEP_API_KEY``
(else 403 ``403003 Api Key is invalid``), ``x-gw-ims-org-id: FAKE_AEP_ORG`` (else 403), and an
``x-sandbox-name`` (else 400).

Faults, queued with ``add_fault(status=500, *, method=None, path=None, times=1, body=None, headers=None, drop=False)``:
the first pending fault whose method and path fragment match a request is consumed by it; it is
answered ``status`` with ``body`` (default Adobe's error shape with a ``detail`` naming the fault)
before any other check, or with ``drop=True`` the connection is closed without an answer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any, Dict, List, Optional

from .handler import FAKE_AEP_API_KEY, FAKE_AEP_ORG, FAKE_AEP_SANDBOX, FAKE_AEP_TOKEN, Handler, RecordedRequest
from .store import Store


@dataclass
class Fault:
    status: int = 500
    method: Optional[str] = None
    path: Optional[str] = None
    times: int = 1
    body: Any = None
    headers: Dict[str, str] = field(default_factory=dict)
    drop: bool = False


class FakeAep:
    def __init__(self, *, tenant: str = "acme", page_size: int = 50, host: str = "127.0.0.1", port: int = 0):
        self.store = Store(tenant)
        self.page_size = page_size
        self.host, self.port = host, port
        self.requests: List[RecordedRequest] = []
        self.faults: List[Fault] = []
        self.lock = threading.Lock()
        self._server: Optional[ThreadingHTTPServer] = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/data"

    def env(self) -> Dict[str, str]:
        """The environment `source-mixpanel-aep-xdm` reads, pointed at this fake."""
        return {"AEP_BASE_URL": self.url, "AEP_ACCESS_TOKEN": FAKE_AEP_TOKEN, "AEP_API_KEY": FAKE_AEP_API_KEY,
                "AEP_ORG_ID": FAKE_AEP_ORG, "AEP_SANDBOX": FAKE_AEP_SANDBOX}

    def add_fault(self, status: int = 500, *, method: Optional[str] = None, path: Optional[str] = None, times: int = 1,
                  body: Any = None, headers: Optional[Dict[str, str]] = None, drop: bool = False) -> None:
        with self.lock:
            self.faults.append(Fault(status, method, path, times, body, dict(headers or {}), drop))

    def take_fault(self, method: str, path: str) -> Optional[Fault]:
        with self.lock:
            for fault in self.faults:
                if (fault.method in (None, method)) and (fault.path is None or fault.path in path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def calls(self) -> List[str]:
        """`METHOD path` of every request, in order (query strings left out)."""
        return [f"{request.method} {request.path}" for request in self.requests]

    def start(self) -> "FakeAep":
        handler = type("FakeAepHandler", (Handler,), {"fake": self})
        self._server = ThreadingHTTPServer((self.host, self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"fake-aep-{self.port}", daemon=True).start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> "FakeAep":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["FAKE_AEP_API_KEY", "FAKE_AEP_ORG", "FAKE_AEP_SANDBOX", "FAKE_AEP_TOKEN", "FakeAep", "RecordedRequest"]
