"""Pure mapping of Mixpanel's people data: an Engage result -> a `profiles` record, a cohort -> a `cohorts` record.

No HTTP, no protocol: streams/profiles.py and streams/cohorts.py call these per result.

An Engage result (`POST https://{mixpanel|eu.mixpanel|in.mixpanel}.com/api/query/engage`, 1000 a page):
    {"$distinct_id": "4", "$properties": {"$created": "2008-12-12T11:20:47", "$email": "example@mixpanel.com",
     "$first_name": "Example", "$last_seen": "2008-06-09T23:08:40", "plan": "pro"}}
A cohort (`POST .../api/query/cohorts/list`, one JSON array):
    {"id": 1000, "name": "Cohort One", "description": "...", "count": 150, "is_visible": 1,
     "created": "2019-03-19 23:49:51", "project_id": 1}

Rules, as for events (mapping.py): nothing is lost. A reserved property leaves `properties` only when its
column holds it as is (a string for the text columns, the same instant for the datetimes); a value that
had to be converted (a number `$phone` -> its text) or could not be (a list `$email`) also stays in
`properties` under its original name. Columns with no value are left out. Profile datetimes come
without an offset and are read as UTC (Mixpanel stores and shows profile datetimes in UTC); a value
with an offset is converted to UTC.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Tuple

# as_text: (column value, the original fits as is): a string as is, a number or boolean as its JSON text, else None;
# the events mapping's rule for AEP's string columns, so profiles and events convert alike.
from .values import as_text, utc_datetime, whole_number

# column -> reserved property, in output order (then `properties`)
PROFILE_DATETIMES: Tuple[Tuple[str, str], ...] = (("last_seen", "$last_seen"), ("created", "$created"))
PROFILE_TEXTS: Tuple[Tuple[str, str], ...] = (
    ("email", "$email"),
    ("first_name", "$first_name"),
    ("last_name", "$last_name"),
    ("name", "$name"),
    ("phone", "$phone"),
    ("city", "$city"),
    ("region", "$region"),
    ("country_code", "$country_code"),
    ("timezone", "$timezone"),
)


class Unmappable(ValueError):
    """A result that cannot become a record (no id): reported and counted by the stream, never silently dropped."""


def distinct_id_of(value: Any) -> str:
    """Mixpanel sends a number when the id was set as one; the record's distinct_id is always text."""
    text, _ = as_text(value)
    if text is None or text == "":
        raise Unmappable(f"no usable $distinct_id ({value!r})")
    return text


def to_profile(result: Mapping[str, Any]) -> Dict[str, Any]:
    """One Engage result -> the `profiles` record; raises Unmappable without a distinct_id."""
    if not isinstance(result, Mapping):
        raise Unmappable(f"a result that is not an object ({type(result).__name__})")
    record: Dict[str, Any] = {"distinct_id": distinct_id_of(result.get("$distinct_id"))}
    raw = result.get("$properties")
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise Unmappable(f"$properties is not an object ({type(raw).__name__})")
    properties = dict(raw)
    for column, key in PROFILE_DATETIMES:
        if key in properties:
            value = utc_datetime(properties[key])
            if value is not None:
                record[column] = value
                del properties[key]
    for column, key in PROFILE_TEXTS:
        if key in properties:
            value, fits = as_text(properties[key])
            if value is not None:
                record[column] = value
                if fits:
                    del properties[key]
    record["properties"] = properties
    return record


def to_cohort(raw: Mapping[str, Any]) -> Dict[str, Any]:
    """One cohorts/list entry -> the `cohorts` record; raises Unmappable without an integer id."""
    if not isinstance(raw, Mapping):
        raise Unmappable(f"a cohort that is not an object ({type(raw).__name__})")
    cohort_id = whole_number(raw.get("id"))
    if cohort_id is None:
        raise Unmappable(f"a cohort without an integer id ({raw.get('id')!r})")
    record: Dict[str, Any] = {"id": cohort_id}
    for column in ("name", "description"):
        value, _ = as_text(raw.get(column))
        if value is not None:
            record[column] = value
    count = whole_number(raw.get("count"))
    if count is not None:
        record["count"] = count
    visible = raw.get("is_visible")
    if isinstance(visible, (bool, int)) and not isinstance(visible, float):
        record["is_visible"] = bool(visible)
    created = utc_datetime(raw.get("created"))
    if created is not None:
        record["created"] = created
    project_id = whole_number(raw.get("project_id"))
    if project_id is not None:
        record["project_id"] = project_id
    return record


def to_member(cohort_id: int, result: Mapping[str, Any]) -> Dict[str, Any]:
    """One Engage result of a `filter_by_cohort` query -> the `cohort_members` record."""
    if not isinstance(result, Mapping):
        raise Unmappable(f"a result that is not an object ({type(result).__name__})")
    return {"cohort_id": cohort_id, "distinct_id": distinct_id_of(result.get("$distinct_id"))}
