"""Pure mapping of Mixpanel's annotations and funnels, and the plan of a funnels read. No HTTP, no protocol.

An annotation (`GET https://{mixpanel|eu.mixpanel|in.mixpanel}.com/api/app/projects/{project_id}/annotations`):
    {"status": "ok", "results": [{"id": 51, "project_id": 4242, "date": "2024-03-01 10:00:00",
     "description": "v2.3 released", "user": {"id": 7, "first_name": "Ann", "last_name": "Lee",
     "email": "ann@example.com"}, "tags": [{"id": 3, "name": "release"}]}]}
    (the older `/api/2.0/annotations` answers `{"annotations": [...]}` with the same entries, no user or tags)

A funnel (`GET .../api/2.0/funnels/list` -> `[{"funnel_id": 7, "name": "Signup"}]`, then per funnel
`GET .../api/2.0/funnels?funnel_id=7&from_date=2024-03-01&to_date=2024-03-30&unit=day`):
    {"meta": {"dates": ["2024-03-01"]}, "data": {"2024-03-01": {"steps": [{"count": 120, "step_conv_ratio": 1,
     "overall_conv_ratio": 1, "avg_time": null, "event": "App Open", "goal": "App Open"}, ...],
     "analysis": {"completion": 31, "starting_amount": 120, "steps": 2, "worst": 1}}}}

Mixpanel's annotation dates have no offset and are read as UTC, as profile datetimes are
(values.utc_datetime). Funnel steps are kept as Mixpanel returns them (counts and ratios untouched).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Dict, Iterator, List, Mapping, Sequence, Tuple

from .people import Unmappable
from .values import as_text, utc_datetime, whole_number


def annotation_entries(body: Any) -> List[Any]:
    """The entries of either annotations answer; raises Unmappable for an answer of neither shape."""
    if isinstance(body, Mapping):
        for key in ("results", "annotations"):
            if isinstance(body.get(key), list):
                return body[key]
    raise Unmappable(f"an annotations answer without a results list: {str(body)[:200]}")


def to_annotation(raw: Any, project_id: Any = None) -> Dict[str, Any]:
    """One annotation -> the `annotations` record; raises Unmappable without an integer id or a readable date."""
    if not isinstance(raw, Mapping):
        raise Unmappable(f"an annotation that is not an object ({type(raw).__name__})")
    annotation_id = whole_number(raw.get("id"))
    if annotation_id is None:
        raise Unmappable(f"an annotation without an integer id ({raw.get('id')!r})")
    date = utc_datetime(raw.get("date"))
    if date is None:
        raise Unmappable(f"annotation {annotation_id} has no readable date ({raw.get('date')!r})")
    record: Dict[str, Any] = {"id": annotation_id, "date": date}
    description, _ = as_text(raw.get("description"))
    if description is not None:
        record["description"] = description
    user = _user(raw.get("user"))
    if user:
        record["user"] = user
    record["tags"] = [name for name in (_tag_name(tag) for tag in raw.get("tags") or ()) if name is not None]
    project = whole_number(raw.get("project_id"))
    if project is None:
        project = whole_number(project_id)
    if project is not None:
        record["project_id"] = project
    return record


def _user(raw: Any) -> Dict[str, Any]:
    if not isinstance(raw, Mapping):
        return {}
    user: Dict[str, Any] = {}
    user_id = whole_number(raw.get("id"))
    if user_id is not None:
        user["id"] = user_id
    name = " ".join(part for part in (raw.get("first_name"), raw.get("last_name")) if isinstance(part, str) and part) or raw.get("name")
    if isinstance(name, str) and name:
        user["name"] = name
    if isinstance(raw.get("email"), str) and raw["email"]:
        user["email"] = raw["email"]
    return user


def _tag_name(tag: Any) -> Any:
    if isinstance(tag, Mapping):
        tag = tag.get("name")
    text, _ = as_text(tag)
    return text


def to_funnel(raw: Any) -> Dict[str, Any]:
    """One funnels/list entry -> {"funnel_id", "funnel_name"}; raises Unmappable without an integer id."""
    if not isinstance(raw, Mapping):
        raise Unmappable(f"a funnel that is not an object ({type(raw).__name__})")
    funnel_id = whole_number(raw.get("funnel_id"))
    if funnel_id is None:
        raise Unmappable(f"a funnel without an integer funnel_id ({raw.get('funnel_id')!r})")
    name, _ = as_text(raw.get("name"))
    return {"funnel_id": funnel_id, "funnel_name": name or ""}


def funnel_days(funnel: Mapping[str, Any], body: Any) -> Iterator[Dict[str, Any]]:
    """A funnel query's answer -> one `funnels` record per date, in date order; raises Unmappable for an answer without `data`."""
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, Mapping):
        raise Unmappable(f"a funnel answer without data: {str(body)[:200]}")
    for date in sorted(data):
        day = data[date]
        if not isinstance(day, Mapping):
            raise Unmappable(f"funnel {funnel['funnel_id']}, {date}: not an object ({type(day).__name__})")
        record: Dict[str, Any] = {"funnel_id": funnel["funnel_id"], "funnel_name": funnel.get("funnel_name", ""), "date": date,
                                  "steps": list(day.get("steps") or [])}
        if isinstance(day.get("analysis"), Mapping):
            record["analysis"] = dict(day["analysis"])
        yield record


def date_windows(first: dt.date, last: dt.date, days: int) -> List[Tuple[dt.date, dt.date]]:
    """[first, last] cut into inclusive windows of at most `days` days, oldest first; empty when first > last."""
    windows = []
    while first <= last:
        end = min(last, first + dt.timedelta(days=days - 1))
        windows.append((first, end))
        first = end + dt.timedelta(days=1)
    return windows


def funnel_start(start_date: dt.date, cursor: Any, lookback_days: int) -> dt.date:
    """The first date to read: the cursor's date again and `lookback_days` before it (late events change them), never before start_date."""
    if cursor is None:
        return start_date
    return max(start_date, cursor - dt.timedelta(days=lookback_days))


def paced_seconds(queries: int, per_hour: int, sent_ago: Sequence[float] = ()) -> float:
    """How long `queries` more queries wait under `per_hour` a rolling hour, when queries went out `sent_ago` seconds ago.

    Queries are taken as instant: the answer is the pacing alone, what the plan can say up front.
    """
    times = sorted(-age for age in sent_ago if age < 3600.0)
    now = 0.0
    for _ in range(queries):
        if len(times) >= per_hour:
            now = max(now, times[-per_hour] + 3600.0)
        times.append(now)
    return now


def duration_words(seconds: float) -> str:
    """`0 s`, `45 s`, `5 min`, `2 h 05 min`: a pacing wait as a person reads it."""
    if seconds < 60:
        return f"{math.ceil(seconds)} s"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
