"""The fake's people: generated and explicit profiles, the ``where`` on ``$last_seen``, cohorts and the
Engage sessions that page them. Data only: the endpoints are ``engage.py`` (profiles and group
profiles, paged by session) and ``cohorts.py`` (``/api/query/cohorts/list``).

Generated profiles are deterministic: profile ``i`` is ``generated_profile(i)``, its ``$last_seen``
``PROFILE_EPOCH + i`` minutes, so a ``where`` on it is a range of indexes (a million profiles page
without being held in memory). ``FakeMixpanel.set_profiles`` replaces or adds profiles by distinct_id.
``where`` understands ``properties["$last_seen"] <op> "<UTC datetime>"`` (``>``, ``>=``, ``<``, ``<=``),
``not defined(properties["$last_seen"])``, and those joined by `` and `` (compared as the offset-less
UTC text Mixpanel stores); any other expression is a ValueError (the endpoint's 400).

Sessions that expire (plain attributes of ``PeopleData``, set between requests): ``session_ttl_pages=K``
serves K pages of a session (pages 0..K-1), then forgets it; ``session_ttl_seconds=T`` forgets a
session T seconds after its page 0, by the fake's clock (``now=``, else the real time).
``scrambled=True`` answers a query's profiles in a fixed scrambled order instead of by ``$last_seen``.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
class Session:
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
        self.sessions: dict[str, Session] = {}
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
        return [self.result(key) for key in self.matching(since)]

    def matching(self, since: datetime.datetime | None, strict: bool = False, where: LastSeenFilter | None = None) -> Sequence[Any]:
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

    def result(self, key: Any, output_properties: list | None = None) -> dict:
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
        self.sessions[session_id] = Session(keys, output_properties, opened_at=at)
        return session_id

    def expired(self, session: Session, at: datetime.datetime | None) -> bool:
        if self.session_ttl_pages is not None and session.pages_served >= self.session_ttl_pages:
            return True
        if self.session_ttl_seconds is not None and at is not None and session.opened_at is not None:
            return (at - session.opened_at).total_seconds() > self.session_ttl_seconds
        return False
