"""The fake's cohorts: ``POST /api/query/cohorts/list``, and the members an Engage query with
``filter_by_cohort={"id": N}`` pages (``engage.py`` asks ``cohort_members``).

``fake.people.cohorts`` (``FakeMixpanel(cohorts=[...])``): each ``{"id": 7, "name": ..., "members":
[distinct_id, ...]}``. The list answers, as Mixpanel does::

    [{"id": 7, "name": "Power users", "description": "", "count": 2, "is_visible": 1,
      "created": "2024-01-02 03:04:05", "project_id": 4242}]

A member without a profile is ``{"$distinct_id": id, "$properties": {}}`` (as with include_all_users);
an unknown cohort, or one in ``people.deleted_after_list``, is a 400 "Cohort N not found".
Same auth and fault queue as the export (``status``, ``none``, ``reset``, ``stall``, ``malformed``,
``expire_session``: see ``engage.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .common import read_form, serve_json
from .people import LastSeenFilter, PeopleData

COHORTS_PATH = "/api/query/cohorts/list"


def serve_cohorts(handler: Any, params: dict[str, str]) -> None:
    """Answer ``POST /api/query/cohorts/list`` (called by the router)."""
    people = handler.fake.people
    read_form(handler)
    serve_json(handler, params, "POST", lambda: list_cohorts(people), before_auth=lambda fault: forget_sessions(handler, fault))


def forget_sessions(handler: Any, fault: Any) -> None:
    """The ``expire_session`` fault, on any Query API request: every open Engage session is forgotten."""
    if fault.kind == "expire_session":
        with handler.fake.shared.lock:
            handler.fake.people.sessions.clear()


def list_cohorts(people: PeopleData) -> tuple[int, Any]:
    listed = []
    for cohort in people.cohorts:
        entry = {"id": cohort["id"], "name": cohort.get("name", f"Cohort {cohort['id']}"), "description": cohort.get("description", ""),
                 "count": len(cohort.get("members", ())), "is_visible": cohort.get("is_visible", 1),
                 "created": cohort.get("created", "2024-01-02 03:04:05"), "project_id": cohort.get("project_id", 4242)}
        listed.append(entry)
    return 200, listed


def cohort_members(people: PeopleData, wanted: Any, where: LastSeenFilter) -> Sequence[Any]:
    """The members of cohort ``wanted`` that ``where`` admits, as Engage results; ValueError (a 400) if it is unknown."""
    cohort = next((c for c in people.cohorts if c["id"] == wanted and wanted not in people.deleted_after_list), None)
    if cohort is None:
        raise ValueError(f"Cohort {wanted} not found")
    members = [people.profile(m) or {"$distinct_id": m, "$properties": {}} for m in cohort.get("members", ())]
    return [m for m in members if where.admits(m["$properties"].get("$last_seen"))]
