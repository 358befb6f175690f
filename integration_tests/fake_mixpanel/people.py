"""The fake's Query API: ``POST /api/query/engage`` (profiles, paged by session) and ``POST /api/query/cohorts/list``.

As ``/work/shared/reference/mixpanel-engage-api.md`` describes them: ``project_id`` in the query
string, a form body, the export's auth rules. Engage answers ``page_size`` profiles a page (1000,
or what the fake was given); page 0 opens a session (a snapshot of the matching profiles), any
later page needs its ``session_id`` (unknown -> 400 "Invalid session_id"). ``where`` understands
``properties["$last_seen"] >= "<UTC datetime>"`` (also ``>``); any other expression is a 400.
``filter_by_cohort={"id": N}`` answers the cohort's members (a member without a profile is
``{"$distinct_id": id, "$properties": {}}``, as with include_all_users); an unknown or deleted cohort
is a 400 "Cohort N not found".

Generated profiles are deterministic: profile ``i`` is ``generated_profile(i)``, its ``$last_seen``
``PROFILE_EPOCH + i`` minutes, so a ``where`` on it is a range of indexes (a million profiles page
without being held in memory). ``FakeMixpanel.set_profiles`` replaces or adds profiles by distinct_id.

Faults (the export's queue, one per request): ``status`` (before anything else), ``none``,
``reset`` (half the body, then the connection is cut), ``stall`` (half the body, then ``seconds``
of silence), ``malformed`` (half the body, as a complete response: not JSON), ``expire_session``
(every open session is forgotten before this request is handled).
"""

from __future__ import annotations

import datetime
import json
import math
import re
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence
from urllib.parse import parse_qs

from .groups import open_group

if TYPE_CHECKING:
    from .handler import _Handler

ENGAGE_PATH = "/api/query/engage"
COHORTS_PATH = "/api/query/cohorts/list"
QUERY_PATHS = frozenset({ENGAGE_PATH, COHORTS_PATH})
PROFILE_EPOCH = datetime.datetime(2024, 1, 1)
DEFAULT_PAGE_SIZE = 1000
_WHERE = re.compile(r'\s*properties\["\$last_seen"\]\s*(>=|>)\s*"([^"]+)"\s*$')
_CITIES = (("Paris", "Île-de-France", "FR", "Europe/Paris"), ("Austin", "Texas", "US", "America/Chicago"), ("Pune", "Maharashtra", "IN", "Asia/Kolkata"))


def last_seen_of(index: int) -> datetime.datetime:
    return PROFILE_EPOCH + datetime.timedelta(minutes=index)


def distinct_id_of(index: int) -> Any:
    """Every 7th profile's id is a number, as Mixpanel sends ids that were set as numbers."""
    return 900000 + index if index % 7 == 3 else f"user-{index:06d}"


def generated_profile(index: int) -> dict:
    """Profile ``index`` as the Engage API answers it (offset-less UTC datetimes, reserved ``$`` names, custom ones)."""
    city, region, country, tz = _CITIES[index % len(_CITIES)]
    props: dict[str, Any] = {
        "$created": (PROFILE_EPOCH - datetime.timedelta(days=30, seconds=index)).isoformat(),
        "$last_seen": last_seen_of(index).isoformat(),
        "$email": f"person{index}@example.com",
        "$first_name": f"First{index}",
        "$last_name": f"Last{index}",
        "$name": f"First{index} Last{index}",
        "$city": city, "$region": region, "$country_code": country, "$timezone": tz,
        "plan": ("free", "pro", "team")[index % 3],
        "visits": index % 50,
        "tags": ["a", "b"] if index % 2 else [],
        "prefs": {"newsletter": index % 2 == 0, "lang": "en"},
    }
    if index % 5 == 0:
        props["$phone"] = 33100000000 + index  # a number: the record gets its text, the original stays in properties
    elif index % 5 == 1:
        props["$phone"] = f"+1-555-{index % 10000:04d}"
    return {"$distinct_id": distinct_id_of(index), "$properties": props}


def index_of(distinct_id: Any) -> int | None:
    """The generated profile whose id this is, if any (``user-000010`` is not one: profile 10's id is 900010)."""
    text = str(distinct_id)
    digits = text[5:] if text.startswith("user-") else text
    if not digits.isdigit():
        return None
    index = int(digits) - (900000 if digits == text else 0)
    return index if index >= 0 and str(distinct_id_of(index)) == text else None


@dataclass
class _Session:
    keys: Sequence[Any]  # generated indexes (a range when nothing is overridden) or explicit result dicts
    output_properties: list | None


class PeopleData:
    """The people side of one FakeMixpanel: generated and explicit profiles, cohorts, open sessions."""

    def __init__(self, profiles: int = 0, page_size: int = DEFAULT_PAGE_SIZE, cohorts: Sequence[dict] = ()):
        self.profile_count = profiles
        self.page_size = page_size
        self.overrides: dict[str, dict] = {}  # str(distinct_id) -> result
        self.cohorts: list[dict] = [dict(cohort) for cohort in cohorts]  # each with "members": [distinct_id, ...]
        self.deleted_after_list: set[int] = set()  # still in cohorts/list, unknown to the engage query
        self.sessions: dict[str, _Session] = {}
        self._next_session = 0

    def profile(self, distinct_id: Any) -> dict | None:
        key = str(distinct_id)
        if key in self.overrides:
            return self.overrides[key]
        index = index_of(distinct_id)
        return generated_profile(index) if index is not None and index < self.profile_count else None

    def expected_profiles(self, since: datetime.datetime | None = None) -> list[dict]:
        """What a fault-free query answers, in order (materialised: for tests)."""
        return [self._result(key) for key in self._matching(since)]

    def _matching(self, since: datetime.datetime | None, strict: bool = False) -> Sequence[Any]:
        low = 0
        if since is not None:  # profile i was last seen i minutes after PROFILE_EPOCH
            minutes = (since - PROFILE_EPOCH).total_seconds() / 60
            low = max(0, math.floor(minutes) + 1 if strict else math.ceil(minutes))
        generated = range(min(low, self.profile_count), self.profile_count)
        if not self.overrides:
            return generated
        keys: list[Any] = [i for i in generated if str(distinct_id_of(i)) not in self.overrides]
        for result in self.overrides.values():
            seen = result.get("$properties", {}).get("$last_seen")
            if since is None or (isinstance(seen, str) and (seen > since.isoformat() if strict else seen >= since.isoformat())):
                keys.append(result)
        return keys

    def _result(self, key: Any, output_properties: list | None = None) -> dict:
        result = generated_profile(key) if isinstance(key, int) else key
        if output_properties is not None:
            result = {"$distinct_id": result["$distinct_id"],
                      "$properties": {k: v for k, v in result["$properties"].items() if k in output_properties}}
        return result

    def new_session(self, keys: Sequence[Any], output_properties: list | None) -> str:
        self._next_session += 1
        session_id = f"{1700000000 + self._next_session}-FAKE{self._next_session:02d}"
        self.sessions[session_id] = _Session(keys, output_properties)
        return session_id


def serve_query(handler: "_Handler", path: str, params: dict[str, str]) -> None:
    """Answer a Query API request (called by the handler for QUERY_PATHS)."""
    fake, record = handler.fake, handler.record
    length = int(handler.headers.get("Content-Length") or 0)
    form = {k: v[-1] for k, v in parse_qs(handler.rfile.read(length).decode("utf-8"), keep_blank_values=True).items()}
    record.form = form
    if handler.command != "POST":
        handler._send_json(405, {"error": f"Use POST for {path}"})
        return
    fault = fake._take_fault()
    record.fault = fault.kind if fault else None
    if fault is not None and fault.kind == "status":
        handler._status_fault(fault.options)
        return
    if fault is not None and fault.kind == "expire_session":
        with fake._lock:
            fake.people.sessions.clear()
    problem = handler._check_auth(params)
    if problem is not None:
        handler._send_json(problem[0], {"error": problem[1]})
        return
    with fake._lock:
        status, payload = _cohorts(fake.people) if path == COHORTS_PATH else _engage(fake.people, form)
    body = json.dumps(payload).encode("utf-8")
    kind = fault.kind if fault is not None and status == 200 else None
    if kind in ("reset", "stall", "malformed"):
        _broken(handler, body, kind, fault.options)
        return
    handler._send_json(status, body, content_type="application/json")


def _cohorts(people: PeopleData) -> tuple[int, Any]:
    listed = []
    for cohort in people.cohorts:
        entry = {"id": cohort["id"], "name": cohort.get("name", f"Cohort {cohort['id']}"), "description": cohort.get("description", ""),
                 "count": len(cohort.get("members", ())), "is_visible": cohort.get("is_visible", 1),
                 "created": cohort.get("created", "2024-01-02 03:04:05"), "project_id": cohort.get("project_id", 4242)}
        listed.append(entry)
    return 200, listed


def _engage(people: PeopleData, form: dict[str, str]) -> tuple[int, Any]:
    page_size = people.page_size
    session_id = form.get("session_id")
    if session_id:
        session = people.sessions.get(session_id)
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
            session, session_id = _open(people, form)
        except ValueError as error:
            return 400, {"error": str(error), "request": "/api/query/engage"}
        page_no = 0
    keys = session.keys[page_no * page_size:(page_no + 1) * page_size]
    results = [people._result(key, session.output_properties) for key in keys]
    return 200, {"page": page_no, "page_size": page_size, "session_id": session_id, "status": "ok",
                 "total": len(session.keys), "results": results}


def _open(people: PeopleData, form: dict[str, str]) -> tuple[_Session, str]:
    output = json.loads(form["output_properties"]) if form.get("output_properties") else None
    if form.get("data_group_id"):
        return open_group(people, form, output)
    if form.get("filter_by_cohort"):
        wanted = json.loads(form["filter_by_cohort"]).get("id")
        cohort = next((c for c in people.cohorts if c["id"] == wanted and wanted not in people.deleted_after_list), None)
        if cohort is None:
            raise ValueError(f"Cohort {wanted} not found")
        keys: Sequence[Any] = [people.profile(m) or {"$distinct_id": m, "$properties": {}} for m in cohort.get("members", ())]
    else:
        since, strict = None, False
        if form.get("where"):
            match = _WHERE.match(form["where"])
            if not match:
                raise ValueError(f"Invalid where expression: {form['where']}")
            strict = match.group(1) == ">"
            try:
                since = datetime.datetime.fromisoformat(match.group(2))
            except ValueError:
                raise ValueError(f"Invalid datetime in where: {match.group(2)}") from None
        keys = people._matching(since, strict)
    session_id = people.new_session(keys, output)
    return people.sessions[session_id], session_id


def _broken(handler: "_Handler", body: bytes, kind: str, options: dict) -> None:
    """Half the body, then: the connection cut (reset), silence (stall), or the end of a 'complete' response (malformed)."""
    half = body[: len(body) // 2]
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(half) if kind == "malformed" else len(body)))
    handler.end_headers()
    handler.wfile.write(half)
    handler.wfile.flush()
    if kind == "stall":
        if not handler.fake._stop.wait(float(options.get("seconds", 30))):
            handler.wfile.write(body[len(half):])
        return
    if kind == "reset":
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)
