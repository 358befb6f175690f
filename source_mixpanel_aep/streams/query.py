"""What the three Query API streams share: host, POST form bodies, Engage paging, errors, pacing.

    POST https://{mixpanel|eu.mixpanel|in.mixpanel}.com/api/query/engage?project_id=N
        body (form): [where=...][&filter_by_cohort={"id": 7}][&session_id=1234567890-EXAMPL&page=3]
    -> {"page": 3, "page_size": 1000, "session_id": "1234567890-EXAMPL", "status": "ok", "total": 4200,
        "results": [{"$distinct_id": "4", "$properties": {"$last_seen": "2008-06-09T23:08:40", ...}}]}

Paging (Mixpanel's rule): the same query again with the answer's session_id and page + 1, while a
page held `page_size` results. Limits: 60 queries per hour and 5 at a time per project, a budget
of its own (not the export's). A query is counted when it starts (page 0, cohorts/list); the pages
of one session are reads of that query's snapshot and are not paced: waiting an hour per 60 pages
is what turned a 14-minute profile sync into 8 hours in Airbyte's connector (its issue #29035). A
429 still waits for Retry-After.

Faults: 5xx, 429, resets and timeouts retry the same page (the CDK's HttpClient, our backoff); an
expired or unknown session_id (400 naming the session) restarts the query from page 0 with a WARN;
a page still failing after the retries ends the stream with a transient_error naming the page.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional, Union
from urllib.parse import parse_qs, urlsplit

import orjson
import requests
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.streams.http import HttpStream
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.sources.streams.http.exceptions import BaseBackoffException
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..config import MixpanelConfig
from .http import (
    MAX_RETRIES,
    READ_SETTINGS,
    ExportBackoffStrategy,
    ExportErrorHandler,
    PacingBudget,
    authenticator,
    backoff_strategy,
    error_text,
    last_failure,
)

QUERIES_PER_HOUR = 60
SESSION_RESTARTS = 3  # an expired session restarts the query; more than this many times in one query fails it
PROGRESS_EVERY_PAGES = 10
_BODY = "_mixpanel_body"  # the parsed JSON answer, kept on the response by the error handler


def sent_form(response: requests.Response) -> Dict[str, str]:
    """The form fields of the request that got this response (page, session_id, filter_by_cohort)."""
    body = response.request.body if response.request is not None else None
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return {key: values[-1] for key, values in parse_qs(body or "").items()}


def body_of(response: requests.Response) -> Any:
    return getattr(response, _BODY, None)


class QueryErrorHandler(ExportErrorHandler):
    """The export's error table, plus what only the Query API does.

    A 200 is parsed here, once: a body that is not JSON is retried like a broken connection. A 400
    about the session of a page > 0, or about the cohort of a members query, is passed to the
    stream (IGNORE): it restarts the query, or skips the deleted cohort.
    """

    def __init__(self, *args: Any, auth_type: str = "service_account", **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._auth_type = auth_type

    def interpret_response(self, response: Optional[Union[requests.Response, Exception]]) -> ErrorResolution:
        if isinstance(response, requests.Response):
            if response.status_code == 200:
                try:
                    setattr(response, _BODY, orjson.loads(response.content))
                except orjson.JSONDecodeError:
                    return ErrorResolution(ResponseAction.RETRY, FailureType.transient_error, "Mixpanel's answer was not JSON (cut off?).")
            elif response.status_code in (400, 404):
                said, form = error_text(response).lower(), sent_form(response)
                if "session" in said and form.get("session_id"):
                    return ErrorResolution(ResponseAction.IGNORE, error_message=f"Mixpanel refused the query session ({said}).")
                if "cohort" in said and form.get("filter_by_cohort"):
                    return ErrorResolution(ResponseAction.IGNORE, error_message=f"Mixpanel refused the cohort ({said}).")
        return super().interpret_response(response)

    def user_message(self, status: int, said: str) -> str:
        if status in (401, 403) and self._auth_type == "oauth_token":
            # Mixpanel documents only service accounts (preferred) and project secrets for the Query API.
            return (
                f"Mixpanel's Query API did not accept the OAuth token ({status}: {said}). Mixpanel documents service accounts "
                "and project secrets for the Query API, not OAuth tokens: use a service account to read profiles and cohorts."
            )
        if status == 402:
            return f"Mixpanel says the plan does not include the Query API (402: {said}). Upgrade the plan or leave profiles and cohorts unselected."
        if status == 404:
            return (
                f"Mixpanel's Query API was not found (404: {said}). Check region, and query_base_url (when it is unset, "
                "a base_url is used for the Query API too: a proxy for the export alone needs query_base_url)."
            )
        if status == 400 and not ("authenticate" in said.lower() or "project_id" in said.lower()):
            return f"Mixpanel rejected the query ({status}: {said})."
        return super().user_message(status, said)


class QueryBudget(PacingBudget):
    """60 new queries per rolling hour, never a wait while under it; later pages of a session are not counted."""

    def __init__(self, **kwargs: Any):
        super().__init__(**{"per_hour": QUERIES_PER_HOUR, "per_second": QUERIES_PER_HOUR, **kwargs})

    def acquire_call(self, request: Any, block: bool = True, timeout: Optional[float] = None) -> None:
        body = getattr(request, "body", None) or ""
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        if "session_id=" in body:
            return
        super().acquire_call(request, block, timeout)

    def sent_ago(self) -> List[float]:
        """Seconds since each query still inside the rolling hour: what a plan needs to say its pacing up front."""
        now = self._clock()
        return [now - sent for sent in self._sent if now - sent < 3600.0]


class QueryStream(HttpStream):
    """Base of the Query API streams: POST with a form body, project_id in the query string, the error table above."""

    http_method = "POST"
    state_checkpoint_interval = None
    api_path = "api/query/engage"
    noun = "profiles"  # in log lines
    error_handler_class = QueryErrorHandler  # a stream with an answer of its own to pass through subclasses it

    def __init__(self, config: MixpanelConfig, *, budget: Optional[PacingBudget] = None, max_retries: int = MAX_RETRIES):
        self._config = config
        self._max_retries = max_retries
        self._pages = 0
        self._emitted = 0
        self._restarts = 0
        self._total: Optional[int] = None
        super().__init__(authenticator=authenticator(config.credentials), api_budget=budget or QueryBudget())

    @property
    def is_resumable(self) -> bool:
        # Not resumable full refresh: its checkpoint would be a page of a session, which is gone by the
        # next attempt. A full-refresh query stream is read whole; profiles resumes from its cursor.
        return self.supports_incremental

    @property
    def url_base(self) -> str:
        return self._config.query_base_url + "/"

    def path(self, **kwargs: Any) -> str:
        return self.api_path

    def request_params(self, stream_state: Optional[Mapping[str, Any]], stream_slice: Optional[Mapping[str, Any]] = None, next_page_token: Optional[Mapping[str, Any]] = None) -> MutableMapping[str, Any]:
        return {"project_id": self._config.project_id} if self._config.project_id is not None else {}

    def request_headers(self, **kwargs: Any) -> Mapping[str, Any]:
        return {"Accept": "application/json"}

    def request_kwargs(self, **kwargs: Any) -> Mapping[str, Any]:
        return {"timeout": READ_SETTINGS.timeouts(self._config), "allow_redirects": False}

    def get_error_handler(self) -> QueryErrorHandler:
        config = self._config
        settings = dataclasses.replace(READ_SETTINGS, max_retries=self._max_retries)
        host = urlsplit(config.query_base_url).hostname
        return self.error_handler_class(config.project_id, config.project_timezone, config.legacy_local_time, settings, host=host, auth_type=config.credentials.auth_type)

    def get_backoff_strategy(self) -> ExportBackoffStrategy:
        return backoff_strategy(dataclasses.replace(READ_SETTINGS, max_retries=self._max_retries), self.logger)

    # --- Engage paging -----------------------------------------------------------------------
    def engage_body(self, next_page_token: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
        token = next_page_token or {}
        if token.get("session_id"):
            return {"session_id": token["session_id"], "page": token["page"]}
        return {}

    def next_page_token(self, response: requests.Response) -> Optional[Mapping[str, Any]]:
        if response.status_code != 200:
            return self.refused(response)
        body = body_of(response) or {}
        results, page_size = body.get("results") or [], body.get("page_size")
        self._pages += 1
        if isinstance(body.get("total"), int):
            self._total = body["total"]
        if self._pages % PROGRESS_EVERY_PAGES == 0:
            self.logger.info(f"{self.describe()}: {self._emitted:,} {self.noun} so far of {self._total if self._total is not None else '?'} ({self._pages} pages)")
        if not isinstance(page_size, int) or len(results) < page_size or not body.get("session_id"):
            return None
        return {"session_id": body["session_id"], "page": int(body.get("page", 0)) + 1}

    def refused(self, response: requests.Response) -> Optional[Mapping[str, Any]]:
        """A refused session (the only 400 the error handler lets through here): the query again from page 0."""
        self._restarts += 1
        page = sent_form(response).get("page", "?")
        if self._restarts > SESSION_RESTARTS:
            message = (
                f"{self.describe()}: Mixpanel refused the query's session_id {self._restarts} times ({error_text(response)}); "
                "gave up. Nothing of this query was checkpointed; run the sync again."
            )
            raise AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.transient_error)
        self.logger.warning(
            f"{self.describe()}: Mixpanel no longer knows the query's session_id at page {page} ({error_text(response)}); "
            f"reading the query again from page 0 ({self._emitted:,} {self.noun} already emitted may repeat: dedupe on the primary key)."
        )
        return {"page": 0, "restart": self._restarts}

    def results(self, response: requests.Response) -> List[Any]:
        body = body_of(response)
        results = body.get("results") if isinstance(body, Mapping) else None
        if response.status_code == 200 and not isinstance(results, list):
            message = f"{self.describe()}: Mixpanel's answer has no results list: {str(body)[:200]}"
            raise AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.transient_error)
        return results or []

    # --- reading -----------------------------------------------------------------------------
    def describe(self, stream_slice: Optional[Mapping[str, Any]] = None) -> str:
        return f"Stream '{self.name}'"

    def read_records(self, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_slice: Optional[Mapping[str, Any]] = None, stream_state: Optional[Mapping[str, Any]] = None) -> Iterable[StreamData]:
        """The CDK's paging (request_body_data, next_page_token, parse_response), with a failure that names the page."""
        self._pages = self._emitted = self._restarts = 0
        self._total = None
        try:
            yield from super().read_records(sync_mode, cursor_field, stream_slice, stream_state)
        except AirbyteTracedException as error:
            if not isinstance(error.__context__, BaseBackoffException):  # not the HttpClient giving up: already says what happened
                raise
            message = (
                f"{self.describe(stream_slice)}: page {self._pages} of the query could not be read after {self._max_retries} retries "
                f"(last answer: {last_failure(error)}). {self._emitted:,} {self.noun} of this query were emitted; nothing of it was "
                "checkpointed, and the state emitted so far lets the next run resume. If Mixpanel is down or rate-limiting the project, run the sync again later."
            )
            raise AirbyteTracedException(message=message, internal_message=error.internal_message, failure_type=FailureType.transient_error) from None
