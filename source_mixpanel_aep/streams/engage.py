"""What the Engage streams share (profiles, cohort_members, group_profiles): the Engage query's paging, and its parts.

    POST https://{mixpanel|eu.mixpanel|in.mixpanel}.com/api/query/engage?project_id=N
        body (form): [where=...][&filter_by_cohort={"id": 7}][&session_id=1234567890-EXAMPL&page=3]
    -> {"page": 3, "page_size": 1000, "session_id": "1234567890-EXAMPL", "status": "ok", "total": 4200,
        "results": [{"$distinct_id": "4", "$properties": {"$last_seen": "2008-06-09T23:08:40", ...}}]}

Paging (Mixpanel's rule): the same query again with the answer's session_id and page + 1, while a
page held `page_size` results. A query is counted against the Query API budget when it starts
(page 0); the pages of one session are reads of that query's snapshot and are not paced
(streams/query.py, QueryBudget).

Faults: an expired or unknown session_id (400 naming the session) ends the part being read, with a
WARN, and it is read again as two smaller parts (streams/parts.py: `$last_seen` ranges), so a query
whose pages outlive their session still finishes; a part that cannot be split and keeps expiring
ends the stream with a transient_error naming it. The host, auth, retries and budget are
QueryStream's, the base of every Query API stream.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

import requests
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction

from ..cdk.errors import transient_error
from ..config import MixpanelConfig
from ..records.values import utc_datetime
from .failure_words import error_text
from .parts import SESSION_RESTARTS, Part, PartPlan, Unfinishable
from .query import QueryErrorHandler, QueryStream, body_of, sent_form

__all__ = ["SESSION_RESTARTS", "EngageErrorHandler", "EngageStream"]

PROGRESS_EVERY_PAGES = 10
SORTED_EVIDENCE = 10  # strict rises of $last_seen in the pages read before they are trusted to be sorted by it


def _instant(value: Optional[str]) -> Optional[dt.datetime]:
    text = utc_datetime(value)
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text is not None else None


class EngageErrorHandler(QueryErrorHandler):
    """The Query API's error table, plus Engage's: a 400 about the session of a page > 0, or about the cohort of
    a members query, is passed to the stream (IGNORE): it restarts the query, or skips the deleted cohort."""

    def interpret_response(self, response: Optional[Union[requests.Response, Exception]]) -> ErrorResolution:
        if isinstance(response, requests.Response) and response.status_code in (400, 404):
            said, form = error_text(response).lower(), sent_form(response)
            if "session" in said and form.get("session_id"):
                return ErrorResolution(ResponseAction.IGNORE, error_message=f"Mixpanel refused the query session ({said}).")
            if "cohort" in said and form.get("filter_by_cohort"):
                return ErrorResolution(ResponseAction.IGNORE, error_message=f"Mixpanel refused the cohort ({said}).")
        return super().interpret_response(response)


class EngageStream(QueryStream):
    """Base of the Engage streams: POST api/query/engage, paged by session, read in parts when a session expires."""

    api_path = "api/query/engage"
    noun = "profiles"  # in log lines
    error_handler_class = EngageErrorHandler

    def __init__(self, config: MixpanelConfig, **kwargs: Any):
        self._total: Optional[int] = None
        self._plan: Optional[PartPlan] = None
        self._part = Part()
        self._outcome = "complete"  # of the part read last: "complete", "expired" (its session), "too_big" (split at page 0)
        self._refused_page = "?"
        self._seen: Optional[List[str]] = None  # [min, max] $last_seen text of the part's results so far
        self._sorted: Optional[str] = None  # the last $last_seen read while the part's results came sorted by it, else None
        self._unsorted = False
        self._rises = 0  # strict increases of $last_seen seen while sorted: the evidence that the order is by it
        super().__init__(config, **kwargs)

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
            raise transient_error(message)
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
    def read_records(self, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_slice: Optional[Mapping[str, Any]] = None, stream_state: Optional[Mapping[str, Any]] = None) -> Iterable[StreamData]:
        """One part (stream_slice["part"], default the whole query): QueryStream's read, the part's paging state reset first.

        Sets `_outcome`; the caller passes it to after_part.
        """
        self._total, self._seen, self._outcome = None, None, "complete"
        self._sorted, self._unsorted, self._rises, self._refused_text = None, False, 0, ""
        self._part = (stream_slice or {}).get("part") or Part()
        yield from super().read_records(sync_mode, cursor_field, stream_slice, stream_state)

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
            raise transient_error(message) from None
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
