"""A small HTTP client for the Adobe Experience Platform APIs the loader calls (`source-mixpanel-aep-xdm setup|upload|status`).

    https://platform.adobe.io/data/core/idnamespace/identities                 identity namespaces
    https://platform.adobe.io/data/foundation/schemaregistry/tenant/...        field groups, schemas, descriptors
    https://platform.adobe.io/data/foundation/catalog/dataSets, /batches/<id>  datasets, batch status
    https://platform.adobe.io/data/foundation/import/batches                   batch ingestion (files up to 256 MB)

Every request carries `Authorization: Bearer <access token>`, `x-api-key`, `x-gw-ims-org-id` and
`x-sandbox-name`, read from the environment (AEP_ACCESS_TOKEN, AEP_API_KEY, AEP_ORG_ID, AEP_SANDBOX)
so they never show in `ps` or in a shell history; none of them is ever printed. AEP_BASE_URL (or
`--base-url`) points it elsewhere: tests use a fake on 127.0.0.1.

Why plain `requests` and not Adobe's `aepp` package: aepp 0.6 pulls pandas, matplotlib, rdflib,
networkx, pygraphviz (a C build against graphviz), psycopg2 and datamodel-code-generator into a
connector image that needs none of them, and it fetches its token from Adobe IMS at a fixed host,
so it cannot be pointed at a loopback fake; the loader needs eight endpoints.

An Adobe error answer (`{"title": ..., "detail": ..., "report": ...}` from the Schema Registry,
`{"error_code": ..., "message": ...}` from the gateway) becomes an `AepError` carrying that text:
nothing downstream ever sees a missing id as "null". 429, 5xx and connection failures are retried,
at most RETRIES times with a growing pause (Retry-After honoured, capped); a POST only after a 429
(a 5xx may have created the thing, and setup finds what exists on its next run anyway).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional

import requests

DEFAULT_BASE_URL = "https://platform.adobe.io/data"
ENV = {"token": "AEP_ACCESS_TOKEN", "api_key": "AEP_API_KEY", "org": "AEP_ORG_ID", "sandbox": "AEP_SANDBOX"}
RETRIES = 3
BACKOFF_SECONDS = 2.0  # the first pause; doubles each retry
MAX_PAUSE_SECONDS = 30.0
TIMEOUT = (10, 300)  # connect, read: a 250 MB file takes a while to upload
MAX_ERROR_TEXT = 1500


class AepError(Exception):
    """An AEP call that failed: the message says which call, the HTTP status and Adobe's own error text."""


@dataclass(frozen=True)
class AepSettings:
    base_url: str
    token: str
    api_key: str
    org: str
    sandbox: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, base_url: Optional[str] = None, sandbox: Optional[str] = None) -> "AepSettings":
        """The settings from the environment; an AepError names every variable that is missing."""
        values = {key: environ.get(name, "").strip() for key, name in ENV.items()}
        if sandbox:
            values["sandbox"] = sandbox
        missing = [ENV[key] for key, value in values.items() if not value]
        if missing:
            raise AepError(f"Set {', '.join(missing)} in the environment (see docs/aep.md, *AEP prerequisites*: an OAuth Server-to-Server "
                           "credential in Adobe Developer Console gives the access token and API key, its project the org id).")
        url = (base_url or environ.get("AEP_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        return cls(url, values["token"], values["api_key"], values["org"], values["sandbox"])


def adobe_error_text(response: requests.Response) -> str:
    """What Adobe says went wrong, from any of its error shapes; the raw body when it is none of them."""
    try:
        body = response.json()
    except ValueError:
        return (response.text or response.reason or "no error text").strip()[:MAX_ERROR_TEXT]
    if isinstance(body, dict):
        parts = [str(body[key]) for key in ("error_code", "code", "title", "message", "detail", "description") if body.get(key)]
        report = body.get("report")
        if report:
            parts.append(json.dumps(report, ensure_ascii=False, separators=(",", ":")))
        if parts:
            return ": ".join(dict.fromkeys(parts))[:MAX_ERROR_TEXT]
    return json.dumps(body, ensure_ascii=False)[:MAX_ERROR_TEXT]


class AepClient:
    def __init__(self, settings: AepSettings, session: Optional[requests.Session] = None, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.session = session or requests.Session()
        self.sleep = sleep

    def headers(self, extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
        headers = {"Authorization": f"Bearer {self.settings.token}", "x-api-key": self.settings.api_key,
                   "x-gw-ims-org-id": self.settings.org, "x-sandbox-name": self.settings.sandbox}
        headers.update(extra or {})
        return headers

    def call(self, method: str, path: str, *, json_body: Any = None, data: Optional[Callable[[], Any]] = None,
             params: Optional[Mapping[str, str]] = None, headers: Optional[Mapping[str, str]] = None, what: str = "") -> Any:
        """The answer's JSON (None for an empty body). `data` opens the body afresh for each attempt (a file to upload)."""
        url = self.settings.base_url + path
        label = what or f"{method} {path}"
        extra = dict(headers or {})
        if json_body is not None:
            extra.setdefault("Content-Type", "application/json")
        for attempt in range(RETRIES + 1):
            body = data() if data is not None else (json.dumps(json_body) if json_body is not None else None)
            try:
                response = self.session.request(method, url, params=params, data=body, headers=self.headers(extra), timeout=TIMEOUT)
            except requests.RequestException as error:
                if attempt < RETRIES:
                    self._pause(attempt, None)
                    continue
                tries = f"after {RETRIES + 1} attempts" if RETRIES else "once"
                raise AepError(f"{label}: could not reach {self.settings.base_url} {tries} ({type(error).__name__})") from None
            finally:
                if hasattr(body, "close"):
                    body.close()
            if response.status_code == 429 or (response.status_code >= 500 and method != "POST"):
                if attempt < RETRIES:
                    self._pause(attempt, response.headers.get("Retry-After"))
                    continue
            if response.status_code >= 400:
                raise AepError(f"{label}: AEP answered {response.status_code}: {adobe_error_text(response)}")
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise AepError(f"{label}: AEP answered {response.status_code} with a body that is not JSON: {response.text[:200]!r}") from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _pause(self, attempt: int, retry_after: Optional[str]) -> None:
        pause = BACKOFF_SECONDS * 2**attempt
        if retry_after and retry_after.strip().isdigit():
            pause = float(retry_after)
        self.sleep(min(pause, MAX_PAUSE_SECONDS))
