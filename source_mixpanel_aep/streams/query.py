"""What every Query API stream shares: host, auth, POST form or GET, the error table, retries, pacing, its failure words.

    {POST|GET} https://{mixpanel|eu.mixpanel|in.mixpanel}.com/api/...?project_id=N
    (query_base_url when set; else a base_url is used for the Query API too)

Limits: 60 queries per hour and 5 at a time per project, a budget of its own (not the export's),
one QueryBudget for all the Query API streams of a sync. A query is counted when it starts (an
Engage query's page 0, cohorts/list, a funnel window); the later pages of an Engage session are
reads of that query's snapshot and are not paced: waiting an hour per 60 pages is what turned a
14-minute profile sync into 8 hours in Airbyte's connector (its issue #29035). A 429 still waits
for Retry-After.

Faults: 5xx, 429, resets and timeouts retry the same request (the CDK's HttpClient, our backoff); a
request still failing after the retries ends the stream with a transient_error naming it. A stream
without paging (annotations, funnels, cohorts/list) derives from QueryStream alone; the Engage
streams' paging and parts are streams/engage.py's.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, Iterable, List, Mapping, MutableMapping, Optional, TypeVar, Union
from urllib.parse import parse_qs, urlsplit

import orjson
import requests
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.streams.http import HttpStream
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..cdk.errors import config_error, transient_error
from ..cdk.http_errors import retries_ran_out
from ..clock import SYSTEM_CLOCK, Clock
from ..config import MixpanelConfig
from .auth import authenticator
from .backoff import ExportBackoffStrategy, backoff_strategy, retries_said
from .error_table import ExportErrorHandler
from .failure_words import last_failure
from .pacing import PacingBudget
from .settings import MAX_RETRIES, READ_SETTINGS

__all__ = ["QueryBudget", "QueryErrorHandler", "QueryStream", "body_of", "saved_state", "sent_form"]
T = TypeVar("T")

QUERIES_PER_HOUR = 60
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

    A 200 is parsed here, once: a body that is not JSON is retried like a broken connection. The
    Engage streams' 400s to survive (a session, a cohort) are engage.EngageErrorHandler's.
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
        return super().interpret_response(response)

    def user_message(self, status: int, said: str) -> str:
        if status in (401, 403) and self._auth_type == "oauth_token":
            # Mixpanel documents only service accounts (preferred) and project secrets for the Query API.
            return (
                f"Mixpanel's Query API did not accept the OAuth token ({status}: {said}). Mixpanel documents service accounts "
                f"and project secrets for the Query API, not OAuth tokens: use a service account to read the Query API streams ({query_stream_names()})."
            )
        if status == 402:
            return f"Mixpanel says the plan does not include the Query API (402: {said}). Upgrade the plan or leave the Query API streams ({query_stream_names()}) unselected."
        if status == 404:
            return (
                f"Mixpanel's Query API was not found (404: {said}). Check region, and query_base_url (when it is unset, "
                "a base_url is used for the Query API too: a proxy for the export alone needs query_base_url)."
            )
        if status == 400 and not ("authenticate" in said.lower() or "project_id" in said.lower()):
            return f"Mixpanel rejected the query ({status}: {said})."
        return super().user_message(status, said)


def query_stream_names() -> str:
    """The catalog's Query API streams, as the messages above list them: from the registry (streams/__init__.py), read when a message is made."""
    from . import STREAM_CLASSES  # not at import: the registry imports the streams, which import this module

    return ", ".join(stream_class.name for stream_class in STREAM_CLASSES if issubclass(stream_class, QueryStream))


def saved_state(value: Optional[Mapping[str, Any]], field: str, parse: Callable[[Any], T], stream: str, expected: str, fix: str) -> Optional[T]:
    """`parse` of a saved state's `field` (None without one); a config_error naming the stream and the shape expected if it fails."""
    raw = (value or {}).get(field)
    if raw is None:
        return None
    try:
        return parse(raw)
    except (TypeError, ValueError, AttributeError):
        message = f"The saved state for stream '{stream}' is not understood: {dict(value or {})!r}. Expected {expected}. {fix}"
        raise config_error(message) from None


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
    """Base of the Query API streams: POST with a form body (or GET), project_id in the query string, the error table above.

    A subclass names its `api_path` (or `path`), `noun`, `parse_response`, and for paging its
    `next_page_token` (one answer by default); `_emitted` counts what it yielded, for the failure words.
    """

    http_method = "POST"
    state_checkpoint_interval = None
    api_path: str
    noun = "records"  # in log lines
    error_handler_class = QueryErrorHandler  # a stream with an answer of its own to pass through subclasses it

    def __init__(self, config: MixpanelConfig, *, budget: Optional[PacingBudget] = None, max_retries: int = MAX_RETRIES, clock: Clock = SYSTEM_CLOCK):
        self._config = config
        self._clock = clock  # the source's: what the streams read the time from (clock.py)
        self._max_retries = max_retries
        self._backoff: Optional[ExportBackoffStrategy] = None  # the HttpClient's, made once: its `retries` says how many a failed page got
        self._pages = 0
        self._emitted = 0
        self._delivered = 0  # by this stream in this sync, over every read_records
        super().__init__(authenticator=authenticator(config.credentials), api_budget=budget or QueryBudget(clock=clock.monotonic, sleep=clock.sleep))

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
        return self.error_handler_class(config.project_id, settings, host=host, auth_type=config.credentials.auth_type)

    def get_backoff_strategy(self) -> ExportBackoffStrategy:
        if self._backoff is None:
            self._backoff = backoff_strategy(dataclasses.replace(READ_SETTINGS, max_retries=self._max_retries), self.logger)
        return self._backoff

    def next_page_token(self, response: requests.Response) -> Optional[Mapping[str, Any]]:
        return None  # one answer, no paging (the Engage streams page: engage.EngageStream)

    # --- reading -----------------------------------------------------------------------------
    def describe(self, stream_slice: Optional[Mapping[str, Any]] = None) -> str:
        return f"Stream '{self.name}'"

    def read_records(self, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_slice: Optional[Mapping[str, Any]] = None, stream_state: Optional[Mapping[str, Any]] = None) -> Iterable[StreamData]:
        """The CDK's read of one slice (and its pages), with a failure that names the page and what was emitted."""
        self._pages = self._emitted = 0
        try:
            yield from super().read_records(sync_mode, cursor_field, stream_slice, stream_state)
        except AirbyteTracedException as error:
            if not retries_ran_out(error):  # not the HttpClient giving up: already says what happened
                raise
            message = (
                f"{self.describe(stream_slice)}: page {self._pages} of the query{self.part_words()} could not be read after {retries_said(self._backoff.retries if self._backoff else self._max_retries)} "
                f"(last answer: {last_failure(error)}). {self._emitted:,} {self.noun} of this query were emitted; nothing of it was "
                "checkpointed, and the state emitted so far lets the next run resume. If Mixpanel is down or rate-limiting the project, run the sync again later."
            )
            raise transient_error(message, error.internal_message) from None
        finally:
            self._delivered += self._emitted

    def part_words(self) -> str:
        return ""  # an Engage part says which (engage.EngageStream)
