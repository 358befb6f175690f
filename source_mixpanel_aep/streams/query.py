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
expired or unknown session_id (400 naming the session) ends the part being read, with a WARN, and
it is read again as two smaller parts (streams/parts.py: `$last_seen` ranges), so a query whose
pages outlive their session still finishes; a part that cannot be split and keeps expiring, or a
page still failing after the retries, ends the stream with a transient_error naming it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Callable, Dict, Iterable, List, Mapping, MutableMapping, Optional, TypeVar, Union
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
from ..records.values import utc_datetime
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
    retries_said,
)
from .parts import SESSION_RESTARTS, Part, PartPlan, Unfinishable

__all__ = ["SESSION_RESTARTS", "QueryBudget", "QueryStream", "saved_state"]
T = TypeVar("T")

QUERIES_PER_HOUR = 60
PROGRESS_EVERY_PAGES = 10
SORTED_EVIDENCE = 10  # strict rises of $last_seen in the pages read before they are trusted to be sorted by it
_BODY = "_mixpanel_body"  # the parsed JSON answer, kept on the response by the error handler


def sent_form(response: requests.Response) -> Dict[str, str]:
    """The form fields of the request that got this response (page, session_id, filter_by_cohort)."""
    body = response.request.body if response.request is not None else None
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return {key: values[-1] for key, values in parse_qs(body or "").items()}


def body_of(response: requests.Response) -> Any:
    return getattr(response, _BODY, None)


def _instant(value: Optional[str]) -> Optional[dt.datetime]:
    text = utc_datetime(value)
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text is not None else None


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
                "and project secrets for the Query API, not OAuth tokens: use a service account to read the Query API streams (profiles, cohorts, cohort_members, annotations, funnels, group_profiles)."
            )
        if status == 402:
            return f"Mixpanel says the plan does not include the Query API (402: {said}). Upgrade the plan or leave the Query API streams (profiles, cohorts, cohort_members, annotations, funnels, group_profiles) unselected."
        if status == 404:
            return (
                f"Mixpanel's Query API was not found (404: {said}). Check region, and query_base_url (when it is unset, "
                "a base_url is used for the Query API too: a proxy for the export alone needs query_base_url)."
            )
        if status == 400 and not ("authenticate" in said.lower() or "project_id" in said.lower()):
            return f"Mixpanel rejected the query ({status}: {said})."
        return super().user_message(status, said)


def saved_state(value: Optional[Mapping[str, Any]], field: str, parse: Callable[[Any], T], stream: str, expected: str, fix: str) -> Optional[T]:
    """`parse` of a saved state's `field` (None without one); a config_error naming the stream and the shape expected if it fails."""
    raw = (value or {}).get(field)
    if raw is None:
        return None
    try:
        return parse(raw)
    except (TypeError, ValueError, AttributeError):
        message = f"The saved state for stream '{stream}' is not understood: {dict(value or {})!r}. Expected {expected}. {fix}"
        raise AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.config_error) from None


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
        self._backoff: Optional[ExportBackoffStrategy] = None  # the HttpClient's, made once: its `retries` says how many a failed page got
        self._pages = 0
        self._emitted = 0
        self._total: Optional[int] = None
        self._plan: Optional[PartPlan] = None
        self._part = Part()
        self._outcome = "complete"  # of the part read last: "complete", "expired" (its session), "too_big" (split at page 0)
        self._refused_page = "?"
        self._seen: Optional[List[str]] = None  # [min, max] $last_seen text of the part's results so far
        self._sorted: Optional[str] = None  # the last $last_seen read while the part's results came sorted by it, else None
        self._unsorted = False
        self._rises = 0  # strict increases of $last_seen seen while sorted: the evidence that the order is by it
        self._delivered = 0  # by this stream in this sync, over every part
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
        if self._backoff is None:
            self._backoff = backoff_strategy(dataclasses.replace(READ_SETTINGS, max_retries=self._max_retries), self.logger)
        return self._backoff

    # --- Engage paging -----------------------------------------------------------------------
    def engage_body(self, next_page_token: Optional[Mapping[str, Any]], stream_slice: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        token = next_page_token or {}
        body: Dict[str, Any] = {"session_id": token["session_id"], "page": token["page"]} if token.get("session_id") else {}
        where = ((stream_slice or {}).get("part") or Part()).where()
        if where:
            body["where"] = where
        return body

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
        if self._outcome == "too_big" or not isinstance(page_size, int) or len(results) < page_size or not body.get("session_id"):
            return None
        return {"session_id": body["session_id"], "page": int(body.get("page", 0)) + 1}

    def refused(self, response: requests.Response) -> Optional[Mapping[str, Any]]:
        """A refused session (the only 400 the error handler lets through here): this part ends, to be split (see after_part)."""
        self._outcome = "expired"
        self._refused_page = sent_form(response).get("page", "?")
        self._refused_text = error_text(response)
        return None

    def results(self, response: requests.Response) -> List[Any]:
        body = body_of(response)
        results = body.get("results") if isinstance(body, Mapping) else None
        if response.status_code == 200 and not isinstance(results, list):
            message = f"{self.describe()}: Mixpanel's answer has no results list: {str(body)[:200]}"
            raise AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.transient_error)
        if not results:
            return []
        page_size, total = body.get("page_size"), body.get("total")
        plan = self._plan
        self._note_seen(results)
        if plan is not None and self._pages == 0 and isinstance(page_size, int) and page_size > 0 and isinstance(total, int):
            if self._unsorted and plan.too_big(self._part, total // page_size + 1, self.seen_range()):
                self._outcome = "too_big"  # its records come again from the smaller parts: not emitted twice
                return []
        return results

    def _note_seen(self, results: List[Any]) -> None:
        """The range of `$last_seen` read from this part: where it is split if its session expires."""
        seen, last, unsorted, rises = self._seen, self._sorted, self._unsorted, self._rises
        for result in results:
            properties = result.get("$properties") if isinstance(result, dict) else None
            value = properties.get("$last_seen") if isinstance(properties, dict) else None
            if isinstance(value, str) and not unsorted:
                if last is not None and value < last:
                    unsorted = True
                elif last is not None and value > last:
                    rises += 1
                last = value
            if isinstance(value, str):
                if seen is None:
                    seen = self._seen = [value, value]
                elif value < seen[0]:
                    seen[0] = value
                elif value > seen[1]:
                    seen[1] = value
        self._sorted, self._unsorted, self._rises = last, unsorted, rises

    def seen_range(self) -> Optional[tuple]:
        if self._seen is None:
            return None
        low, high = (_instant(value) for value in self._seen)
        return (low, high) if low is not None and high is not None else None

    def sorted_up_to(self) -> Optional[dt.datetime]:
        """Where the pages read were sorted by $last_seen up to; None unless they were, with SORTED_EVIDENCE rises.

        A few profiles, or many sharing one $last_seen (a bulk import), look sorted in any order:
        taking them for sorted would call a range done that is not, so they are split instead.
        """
        if self._sorted is None or self._unsorted or self._rises < SORTED_EVIDENCE:
            return None
        return _instant(self._sorted)

    # --- reading -----------------------------------------------------------------------------
    def describe(self, stream_slice: Optional[Mapping[str, Any]] = None) -> str:
        return f"Stream '{self.name}'"

    def read_records(self, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_slice: Optional[Mapping[str, Any]] = None, stream_state: Optional[Mapping[str, Any]] = None) -> Iterable[StreamData]:
        """One part (stream_slice["part"], default the whole query): the CDK's paging, with a failure that names the page.

        Sets `_outcome`; the caller passes it to after_part.
        """
        self._pages = self._emitted = 0
        self._total, self._seen, self._outcome = None, None, "complete"
        self._sorted, self._unsorted, self._rises, self._refused_text = None, False, 0, ""
        self._part = (stream_slice or {}).get("part") or Part()
        try:
            yield from super().read_records(sync_mode, cursor_field, stream_slice, stream_state)
        except AirbyteTracedException as error:
            if not isinstance(error.__context__, BaseBackoffException):  # not the HttpClient giving up: already says what happened
                raise
            message = (
                f"{self.describe(stream_slice)}: page {self._pages} of the query{self.part_words()} could not be read after {retries_said(self._backoff.retries if self._backoff else self._max_retries)} "
                f"(last answer: {last_failure(error)}). {self._emitted:,} {self.noun} of this query were emitted; nothing of it was "
                "checkpointed, and the state emitted so far lets the next run resume. If Mixpanel is down or rate-limiting the project, run the sync again later."
            )
            raise AirbyteTracedException(message=message, internal_message=error.internal_message, failure_type=FailureType.transient_error) from None
        finally:
            self._delivered += self._emitted

    def part_words(self) -> str:
        return "" if self._part.kind == "all" else f" ({self._part.describe()})"

    def after_part(self, plan: PartPlan, stream_slice: Optional[Mapping[str, Any]] = None) -> bool:
        """What the part just read means for the plan; True when it is complete. Raises the transient_error of an unfinishable part."""
        part = self._part
        if self._outcome == "complete":
            plan.completed(part)
            return True
        try:
            parts = plan.expired(part, self._pages, self.seen_range(), early=self._outcome == "too_big", sorted_up_to=self.sorted_up_to())
        except Unfinishable as why:
            message = (
                f"{self.describe(stream_slice)}: Mixpanel keeps forgetting the query's session ({self._refused_words()}): "
                f"{part.describe()} could not be read, {why}. {self._delivered:,} {self.noun} were emitted in this sync "
                f"({self._emitted:,} from this part, which may repeat), in {plan.parts_read} queries; "
                + ("the state emitted so far lets the next run resume after the last complete part. " if self.supports_incremental else "")
                + "Run the sync again later; if it fails the same way, Mixpanel's sessions are too short for this project's paging."
            )
            raise AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.transient_error) from None
        if self._outcome == "too_big":
            self.logger.info(
                f"{self.describe(stream_slice)}: {part.describe()} holds {self._total:,} {self.noun}, more than a session served "
                f"({plan.capacity_pages} pages); read in {len(parts)} parts instead."
            )
        elif len(parts) == 1:
            self.logger.warning(
                f"{self.describe(stream_slice)}: Mixpanel no longer knows the query's session_id at page {self._refused_page} ({self._refused_words()}); "
                f"{part.describe()} cannot be split, so it is read again from page 0 ({self._emitted:,} {self.noun} already emitted may repeat: "
                "dedupe on the primary key)."
            )
        elif any(p.kind == "done" for p in parts):
            self.logger.warning(
                f"{self.describe(stream_slice)}: Mixpanel no longer knows the query's session_id at page {self._refused_page} ({self._refused_words()}); "
                f"its pages came sorted by $last_seen, so the rest, {parts[-1].describe()}, is read as a new query "
                f"({self.noun} of the last second read may repeat: dedupe on the primary key)."
            )
        else:
            self.logger.warning(
                f"{self.describe(stream_slice)}: Mixpanel no longer knows the query's session_id at page {self._refused_page} ({self._refused_words()}); "
                f"{part.describe()} is read again in {len(parts)} smaller parts, by $last_seen ({self._emitted:,} {self.noun} already emitted may repeat: "
                "dedupe on the primary key)."
            )
        return False

    def _refused_words(self) -> str:
        return getattr(self, "_refused_text", "") or "its session was refused"
