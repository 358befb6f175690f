"""Pure mapping of a group profile (Group Analytics): a `profiles` record of an Engage `data_group_id` query -> a `group_profiles` record.

An Engage result of `POST https://mixpanel.com/api/query/engage?project_id=N` with body `data_group_id=1`:
    {"$distinct_id": "acme", "$properties": {"$last_seen": "2024-01-02T03:04:05", "$name": "Acme", "plan": "team"}}
Its `$distinct_id` is the group id (the value of the group key, e.g. company_id "acme"). The columns
are the profile's (people.to_profile: `last_seen`, `created`, `name`, `email`, ... and `properties`),
with `distinct_id` renamed `group_id` and the group key in front. No HTTP, no protocol.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping


def to_group_profile(group_key: str, profile: Mapping[str, Any]) -> Dict[str, Any]:
    """The flat profile record of a group -> the `group_profiles` record (`group_key`, `group_id` first)."""
    record: Dict[str, Any] = {"group_key": group_key, "group_id": profile["distinct_id"]}
    record.update((column, value) for column, value in profile.items() if column != "distinct_id")
    return record
