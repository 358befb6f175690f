"""The fake's Query API: ``POST /api/query/engage`` (profiles, paged by session) and ``POST /api/query/cohorts/list``.

As ``/work/shared/reference/mixpanel-engage-api.md`` describes them: ``project_id`` in the query
string, a form body, the export's auth rules. Engage answers ``page_size`` profiles a page (1000,
or what the fake was given); page 0 opens a session (a snapshot of the matching profiles), any
later page needs its ``session_id`` (unknown -> 400 "Invalid session_id"). ``where`` understands
``properties["$last_seen"] <op> "<UTC datetime>"`` (``>``, ``>=``, ``<``, ``<=``), ``not
defined(properties["$last_seen"])``, and those joined by `` and ``, with or without ``filter_by_cohort``
(compared as the offset-less UTC text Mixpanel stores); any other expression is a 400.

Sessions that expire (plain attributes of ``PeopleData``, set between requests): ``session_ttl_pages=K``
serves K pages of a session (pages 0..K-1), then forgets it; ``session_ttl_seconds=T`` forgets a
session T seconds after its page 0, by the fake's clock (``now=``, else the real time). Either way the
next page is the 400 "Invalid session_id" a real Mixpanel answers. ``scrambled=True`` answers a
query's profiles in a fixed scrambled order instead of by ``$last_seen`` (Mixpanel does not promise one).
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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from .groups import open_group

if TYPE_CHECKING:
    from .handler import _Handler

ENGAGE_PATH = "/api/query/engage"
COHORTS_PATH = "/api/query/cohorts/list"
QUERY_PATHS = frozenset({ENGAGE_PATH, COHORTS_PATH})
PROFILE_EPOCH = datetime.datetime(2024, 1, 1)
DEFAULT_PAGE_SIZE = 1000
_WHERE_TERM = re.compile(r'\s*properties\["\$last_seen"\]\s*(>=|>|<=|<)\s*"([^"]+)"\s*$')
_UNDEFINED = re.compile(r'\s*not\s+defined\s*\(\s*properties\["\$last_seen"\]\s*\)\s*$')
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


class _Scrambled(Sequence):
    """``keys`` in a fixed scrambled order, computed per position (a million keys are never copied)."""

    def __init__(self, keys: Sequence[Any]):
        self._keys, self._step = keys, 7919  # a prime: a step coprime with the length visits every key once
        while len(keys) and math.gcd(self._step, len(keys)) != 1:
            self._step += 2

    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self._keys[(index * self._step + 3) % len(self._keys)]


@dataclass
class _Session:
    keys: Sequence[Any]  # generated indexes (a range when nothing is overridden) or explicit result dicts
    output_properties: list | None
    opened_at: datetime.datetime | None = None
    pages_served: int = 0


@dataclass(frozen=True)
class LastSeenFilter:
    """A parsed ``where``: ``$last_seen`` bounds (each (datetime, inclusive) or None), or only profiles without it."""

    low: tuple[datetime.datetime, bool] | None = None
    high: tuple[datetime.datetime, bool] | None = None
    undefined: bool = False

    def admits(self, seen: Any) -> bool:
        if not isinstance(seen, str):
            return self.undefined or (self.low is None and self.high is None)
        if self.undefined:
            return False
        if self.low is not None:
            bound = self.low[0].isoformat()
            if seen < bound or (seen == bound and not self.low[1]):
                return False
        if self.high is not None:
            bound = self.high[0].isoformat()
            if seen > bound or (seen == bound and not self.high[1]):
                return False
        return True

    def index_range(self, count: int) -> range:
        """The generated profiles (``$last_seen`` = PROFILE_EPOCH + i minutes) it admits."""
        if self.undefined:
            return range(0)
        low, high = 0, count
        if self.low is not None:
            minutes = (self.low[0] - PROFILE_EPOCH).total_seconds() / 60
            low = max(0, math.ceil(minutes) if self.low[1] else math.floor(minutes) + 1)
        if self.high is not None:
            minutes = (self.high[0] - PROFILE_EPOCH).total_seconds() / 60
            high = min(count, math.floor(minutes) + 1 if self.high[1] else math.ceil(minutes))
        return range(min(low, count), max(min(low, count), high))


def parse_where(where: str) -> LastSeenFilter:
    """``where`` text -> LastSeenFilter; ValueError (the fake's 400) for anything else."""
    low = high = None
    undefined = False
    for term in re.split(r"\s+and\s+", where.strip()):
        if _UNDEFINED.match(term):
            undefined = True
            continue
        match = _WHERE_TERM.match(term)
        if not match:
            raise ValueError(f"Invalid where expression: {where}")
        try:
            at = datetime.datetime.fromisoformat(match.group(2))
        except ValueError:
            raise ValueError(f"Invalid datetime in where: {match.group(2)}") from None
        op = match.group(1)
        if op.startswith(">"):
            low = (at, op == ">=")
        else:
            high = (at, op == "<=")
    return LastSeenFilter(low, high, undefined)


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
        self.session_ttl_pages: int | None = None  # a session serves this many pages, then is forgotten
        self.session_ttl_seconds: float | None = None  # a session is forgotten this long after its page 0
        self.scrambled = False  # answer in a scrambled order, not by $last_seen

    def profile(self, distinct_id: Any) -> dict | None:
        key = str(distinct_id)
        if key in self.overrides:
            return self.overrides[key]
        index = index_of(distinct_id)
        return generated_profile(index) if index is not None and index < self.profile_count else None

    def expected_profiles(self, since: datetime.datetime | None = None) -> list[dict]:
        """What a fault-free query answers, in order (materialised: for tests)."""
        return [self._result(key) for key in self._matching(since)]

    def _matching(self, since: datetime.datetime | None, strict: bool = False, where: LastSeenFilter | None = None) -> Sequence[Any]:
        if where is None:
            where = LastSeenFilter(low=(since, not strict) if since is not None else None)
        generated = where.index_range(self.profile_count)
        if not self.overrides:
            return generated
        keys: list[Any] = [i for i in generated if str(distinct_id_of(i)) not in self.overrides]
        for result in self.overrides.values():
            if where.admits((result.get("$properties") or {}).get("$last_seen")):
                keys.append(result)
        return keys

    def _result(self, key: Any, output_properties: list | None = None) -> dict:
        result = generated_profile(key) if isinstance(key, int) else key
        if output_properties is not None:
            result = {"$distinct_id": result["$distinct_id"],
                      "$properties": {k: v for k, v in result["$properties"].items() if k in output_properties}}
        return result

    def new_session(self, keys: Sequence[Any], output_properties: list | None, at: datetime.datetime | None = None) -> str:
        self._next_session += 1
        session_id = f"{1700000000 + self._next_session}-FAKE{self._next_session:02d}"
        if self.scrambled:
            keys = _Scrambled(keys)
        self.sessions[session_id] = _Session(keys, output_properties, opened_at=at)
        return session_id

    def expired(self, session: _Session, at: datetime.datetime | None) -> bool:
        if self.session_ttl_pages is not None and session.pages_served >= self.session_ttl_pages:
            return True
        if self.session_ttl_seconds is not None and at is not None and session.opened_at is not None:
            return (at - session.opened_at).total_seconds() > self.session_ttl_seconds
        return False


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
        status, payload = _cohorts(fake.people) if path == COHORTS_PATH else _engage(fake.people, form, record.at)
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


def _engage(people: PeopleData, form: dict[str, str], at: datetime.datetime | None = None) -> tuple[int, Any]:
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
    results = [people._result(key, session.output_properties) for key in keys]
    return 200, {"page": page_no, "page_size": page_size, "session_id": session_id, "status": "ok",
                 "total": len(session.keys), "results": results}


def _open(people: PeopleData, form: dict[str, str], at: datetime.datetime | None = None) -> tuple[_Session, str]:
    output = json.loads(form["output_properties"]) if form.get("output_properties") else None
    where = parse_where(form["where"]) if form.get("where") else LastSeenFilter()
    if form.get("data_group_id"):
        return open_group(people, form, output, where, at)
    if form.get("filter_by_cohort"):
        wanted = json.loads(form["filter_by_cohort"]).get("id")
        cohort = next((c for c in people.cohorts if c["id"] == wanted and wanted not in people.deleted_after_list), None)
        if cohort is None:
            raise ValueError(f"Cohort {wanted} not found")
        members = [people.profile(m) or {"$distinct_id": m, "$properties": {}} for m in cohort.get("members", ())]
        keys: Sequence[Any] = [m for m in members if where.admits(m["$properties"].get("$last_seen"))]
    else:
        keys = people._matching(None, where=where)
    session_id = people.new_session(keys, output, at)
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
