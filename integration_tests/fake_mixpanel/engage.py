"""The fake's Engage query: ``POST /api/query/engage`` (profiles, group profiles, a cohort's members; paged by session).

As ``/work/shared/reference/mixpanel-engage-api.md`` describes it: ``project_id`` in the query string,
a form body, the export's auth rules. Engage answers ``page_size`` profiles a page (1000, or what the
fake was given); page 0 opens a session (a snapshot of the matching profiles), any later page needs its
``session_id`` (unknown or expired -> 400 "Invalid session_id"). A page answers::

    {"page": 0, "page_size": 1000, "session_id": "1700000001-FAKE01", "status": "ok", "total": 2,
     "results": [{"$distinct_id": "user-000000", "$properties": {"$last_seen": "2024-01-01T00:00:00", ...}}]}

``where`` on ``$last_seen`` (``people.parse_where``; anything else is a 400), with or without
``filter_by_cohort={"id": N}`` (the cohort's members, ``cohorts.py``); ``data_group_id`` pages group
profiles instead (``groups.py``); ``output_properties`` keeps only those properties. The data and the
session expiry rules are ``people.py``'s.

Faults (the export's queue, one per request): ``status`` (before anything else), ``none``,
``reset`` (half the body, then the connection is cut), ``stall`` (half the body, then ``seconds``
of silence), ``malformed`` (half the body, as a complete response: not JSON), ``expire_session``
(every open session is forgotten before this request is handled).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from typing import Any

from .cohorts import cohort_members, forget_sessions
from .common import read_form, serve_json
from .groups import open_group
from .people import LastSeenFilter, PeopleData, Session, parse_where

ENGAGE_PATH = "/api/query/engage"


def serve_engage(handler: Any, params: dict[str, str]) -> None:
    """Answer ``POST /api/query/engage`` (called by the router)."""
    people, record = handler.fake.people, handler.record
    form = read_form(handler)
    serve_json(handler, params, "POST", lambda: engage(people, form, record.at),
               before_auth=lambda fault: forget_sessions(handler, fault))


def engage(people: PeopleData, form: dict[str, str], at: datetime.datetime | None = None) -> tuple[int, Any]:
    """(status, payload) of one Engage page; the caller holds the fake's lock."""
    page_size = people.page_size
    session_id = form.get("session_id")
    if session_id:
        session = people.sessions.get(session_id)
        if session is not None and people.expired(session, at):
            del people.sessions[session_id]
            session = None
        if session is None:
            return 400, {"error": f"Invalid session_id {session_id!r}: it has expired or is unknown", "request": "/api/query/engage"}
        page = form.get("page", "")
        if not page.isdigit():
            return 400, {"error": "page must be a non-negative integer"}
        page_no = int(page)
    else:
        if form.get("page", "0") not in ("", "0"):
            return 400, {"error": "session_id is required for any page above 0"}
        try:
            session, session_id = _open(people, form, at)
        except ValueError as error:
            return 400, {"error": str(error), "request": "/api/query/engage"}
        page_no = 0
    session.pages_served += 1
    keys = session.keys[page_no * page_size:(page_no + 1) * page_size]
    results = [people.result(key, session.output_properties) for key in keys]
    return 200, {"page": page_no, "page_size": page_size, "session_id": session_id, "status": "ok",
                 "total": len(session.keys), "results": results}


def _open(people: PeopleData, form: dict[str, str], at: datetime.datetime | None = None) -> tuple[Session, str]:
    output = json.loads(form["output_properties"]) if form.get("output_properties") else None
    where = parse_where(form["where"]) if form.get("where") else LastSeenFilter()
    if form.get("data_group_id"):
        return open_group(people, form, output, where, at)
    if form.get("filter_by_cohort"):
        keys: Sequence[Any] = cohort_members(people, json.loads(form["filter_by_cohort"]).get("id"), where)
    else:
        keys = people.matching(None, where=where)
    session_id = people.new_session(keys, output, at)
    return people.sessions[session_id], session_id
