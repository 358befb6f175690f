"""The fake's group profiles: the Engage query with ``data_group_id`` (Group Analytics).

``fake.people.groups`` maps a data_group_id to its group profiles, as Mixpanel answers them
(``{"$distinct_id": "acme", "$properties": {"$last_seen": "2024-01-02T03:04:05", "$name": "Acme"}}``); the
query pages by session like any Engage query and understands the same ``where`` on ``$last_seen``.
An unknown data_group_id is a 400 "Invalid data_group_id", as Mixpanel answers.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .people import PeopleData, _Session


def open_group(people: "PeopleData", form: dict[str, str], output: list | None) -> "tuple[_Session, str]":
    from .people import _WHERE

    wanted = form["data_group_id"]
    groups: dict[int, list[dict]] = getattr(people, "groups", {})
    if not wanted.isdigit() or int(wanted) not in groups:
        raise ValueError(f"Invalid data_group_id {wanted}")
    keys: list[Any] = list(groups[int(wanted)])
    if form.get("where"):
        match = _WHERE.match(form["where"])
        if not match:
            raise ValueError(f"Invalid where expression: {form['where']}")
        since = datetime.datetime.fromisoformat(match.group(2)).isoformat()
        strict = match.group(1) == ">"
        keys = [k for k in keys if isinstance(seen := k.get("$properties", {}).get("$last_seen"), str) and (seen > since if strict else seen >= since)]
    session_id = people.new_session(keys, output)
    return people.sessions[session_id], session_id
