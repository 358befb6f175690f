"""The fake's group profiles: the Engage query with ``data_group_id`` (Group Analytics).

``fake.people.groups`` maps a data_group_id to its group profiles, as Mixpanel answers them
(``{"$distinct_id": "acme", "$properties": {"$last_seen": "2024-01-02T03:04:05", "$name": "Acme"}}``); the
query pages by session like any Engage query (the same session expiry) and understands the same
``where``s on ``$last_seen`` (people.parse_where). An unknown data_group_id is a 400 "Invalid data_group_id".
Called by ``engage.py``; it only opens the session.
"""

from __future__ import annotations

import datetime

from .people import LastSeenFilter, PeopleData, Session


def open_group(people: PeopleData, form: dict[str, str], output: list | None, where: LastSeenFilter,
               at: datetime.datetime | None = None) -> tuple[Session, str]:
    wanted = form["data_group_id"]
    groups: dict[int, list[dict]] = getattr(people, "groups", {})
    if not wanted.isdigit() or int(wanted) not in groups:
        raise ValueError(f"Invalid data_group_id {wanted}")
    keys = [group for group in groups[int(wanted)] if where.admits(group.get("$properties", {}).get("$last_seen"))]
    session_id = people.new_session(keys, output, at)
    return people.sessions[session_id], session_id
