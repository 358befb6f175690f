"""The fake's annotations and funnels: ``GET /api/app/projects/{id}/annotations``, ``/api/2.0/annotations``,
``/api/2.0/funnels/list`` and ``/api/2.0/funnels``.

Same auth and fault queue as the rest of the fake (one fault per request; ``status``, ``none``,
``reset``, ``stall``, ``malformed`` as in engage.py). GET only.

Annotations (``fake.reports.annotations``: entries as Mixpanel answers them, ``date`` as
``"2024-03-01 10:00:00"``): the App API answers ``{"status": "ok", "results": [...]}`` for the
project in the path (another project: 403), filtered by ``fromDate``/``toDate`` (inclusive days;
either may be absent); ``/api/2.0/annotations`` needs ``from_date`` and ``to_date`` and answers
``{"annotations": [...]}`` without ``user`` and ``tags``, as the old endpoint does.

Funnels (``fake.reports.funnels``: ``{"funnel_id": 7, "name": "Signup", "steps": ["App Open", "Sign up"]}``):
``funnels/list`` answers ``[{"funnel_id", "name"}]``; ``funnels?funnel_id=7&from_date=&to_date=&unit=day``
answers ``{"meta": {"dates": [...]}, "data": {date: {"steps": [...], "analysis": {...}}}}``, every day of
the range, its numbers ``funnel_day(funnel, day)`` (deterministic; ``late[(funnel_id, "2024-03-01")] = n``
adds n people to that day, as late events do). A funnel in ``delete_after`` is gone (400 "Funnel 7 not
found") once that many of its queries were answered (0: deleted right after the list).
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from .common import FAKE_PROJECT_ID, serve_json

APP_ANNOTATIONS = re.compile(r"^/api/app/projects/(\d+)/annotations$")
OLD_ANNOTATIONS_PATH = "/api/2.0/annotations"
FUNNELS_LIST_PATH = "/api/2.0/funnels/list"
FUNNELS_PATH = "/api/2.0/funnels"
MAX_FUNNEL_DAYS = 366


def is_report_path(path: str) -> bool:
    return path in (OLD_ANNOTATIONS_PATH, FUNNELS_LIST_PATH, FUNNELS_PATH) or APP_ANNOTATIONS.match(path) is not None


class ReportsData:
    """The annotations and funnels of one FakeMixpanel (plain attributes: a test sets them, even between syncs)."""

    def __init__(self) -> None:
        self.annotations: list[dict] = []
        self.funnels: list[dict] = []
        self.late: dict[tuple[int, str], int] = {}
        self.delete_after: dict[int, int] = {}
        self.answered: dict[int, int] = {}  # funnel_id -> queries answered

    def funnel_day(self, funnel: dict, day: datetime.date) -> dict:
        """What the funnel query answers for one day: counts falling step by step, ratios as Mixpanel computes them."""
        start = 100 + (funnel["funnel_id"] * 37 + day.toordinal()) % 50 + self.late.get((funnel["funnel_id"], day.isoformat()), 0)
        steps, count, previous = [], start, start
        for number, event in enumerate(funnel.get("steps") or ["App Open"]):
            if number:
                count = count * (60 + (day.day + number) % 30) // 100
            steps.append({"count": count, "step_conv_ratio": round(count / previous, 4) if previous else 0,
                          "overall_conv_ratio": round(count / start, 4), "avg_time": None if number == 0 else 30 * number,
                          "avg_time_from_start": None if number == 0 else 45 * number, "event": event, "goal": event,
                          "step_label": event})
            previous = count
        return {"steps": steps, "analysis": {"completion": count, "starting_amount": start, "steps": len(steps), "worst": 1}}

    def expected_funnel_records(self, first: datetime.date, last: datetime.date) -> list[dict]:
        """The `funnels` records a fault-free read of [first, last] gives, funnel by funnel, day by day (for tests)."""
        records = []
        for funnel in self.funnels:
            day = first
            while day <= last:
                records.append({"funnel_id": funnel["funnel_id"], "funnel_name": funnel["name"], "date": day.isoformat(),
                                **self.funnel_day(funnel, day)})
                day += datetime.timedelta(days=1)
        return records


def serve_report(handler: Any, path: str, params: dict[str, str]) -> None:
    """Answer an annotations or funnels request (called by the router when is_report_path)."""
    if handler.command != "GET":
        handler.close_connection = True  # the request body (if any) is never read
    fake = handler.fake
    serve_json(handler, params, "GET", lambda: _answer(fake, path, params))


def _answer(fake: Any, path: str, params: dict[str, str]) -> tuple[int, Any]:
    reports: ReportsData = fake.reports
    app = APP_ANNOTATIONS.match(path)
    if app is not None:
        if int(app.group(1)) != FAKE_PROJECT_ID:
            return 403, {"error": f"You don't have access to project {int(app.group(1))}"}
        try:
            kept = _dated(reports.annotations, params.get("fromDate"), params.get("toDate"))
        except ValueError as error:
            return 400, {"error": str(error)}
        return 200, {"status": "ok", "results": kept}
    if path == OLD_ANNOTATIONS_PATH:
        if not params.get("from_date") or not params.get("to_date"):
            return 400, {"error": "from_date and to_date are required"}
        try:
            kept = _dated(reports.annotations, params["from_date"], params["to_date"])
        except ValueError as error:
            return 400, {"error": str(error)}
        return 200, {"annotations": [{k: v for k, v in entry.items() if k not in ("user", "tags")} for entry in kept], "error": False}
    if path == FUNNELS_LIST_PATH:
        return 200, [{"funnel_id": f["funnel_id"], "name": f["name"]} for f in reports.funnels]
    return _funnel(reports, params)


def _dated(entries: list[dict], first: str | None, last: str | None) -> list[dict]:
    low = datetime.date.fromisoformat(first[:10]).isoformat() if first else None
    high = datetime.date.fromisoformat(last[:10]).isoformat() if last else None
    return [dict(entry) for entry in entries
            if (low is None or entry["date"][:10] >= low) and (high is None or entry["date"][:10] <= high)]


def _funnel(reports: ReportsData, params: dict[str, str]) -> tuple[int, Any]:
    if params.get("unit", "day") != "day":
        return 400, {"error": "the fake answers unit=day only"}
    try:
        funnel_id = int(params["funnel_id"])
        first, last = datetime.date.fromisoformat(params["from_date"]), datetime.date.fromisoformat(params["to_date"])
    except (KeyError, ValueError):
        return 400, {"error": "funnel_id, from_date and to_date are required (dates as YYYY-MM-DD)"}
    if last < first or (last - first).days >= MAX_FUNNEL_DAYS:
        return 400, {"error": f"from_date {first} to to_date {last} is not a range of 1 to {MAX_FUNNEL_DAYS} days"}
    funnel = next((f for f in reports.funnels if f["funnel_id"] == funnel_id), None)
    answered = reports.answered.get(funnel_id, 0)
    if funnel is None or (funnel_id in reports.delete_after and answered >= reports.delete_after[funnel_id]):
        return 400, {"error": f"Funnel {funnel_id} not found", "request": "/api/2.0/funnels"}
    reports.answered[funnel_id] = answered + 1
    dates, data, day = [], {}, first
    while day <= last:
        dates.append(day.isoformat())
        data[day.isoformat()] = reports.funnel_day(funnel, day)
        day += datetime.timedelta(days=1)
    return 200, {"meta": {"dates": dates}, "data": data}
