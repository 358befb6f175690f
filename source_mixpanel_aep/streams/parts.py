"""Parts of an Engage query, each small enough to be read in one query session (pure: no HTTP, no protocol).

    POST https://mixpanel.com/api/query/engage?project_id=N
        body: where=properties["$last_seen"] > "2024-01-01T00:00:00" and properties["$last_seen"] <= "2024-01-01T08:19:59"
    -> {"page": 0, "page_size": 1000, "session_id": "...", "total": 4200, "results": [...]}

Why: Mixpanel forgets a query's session after a while (a time, or a number of pages). A query
whose pages outlive its session cannot be finished by starting it again from page 0: the new
session expires at the same place. So a query is read in parts, by `$last_seen` ranges (the
server-side `where` incremental reads already use):

- the first part is the whole query (no `where`, or `> cursor`): one query when it fits, as before;
- a part whose session expires is split in two at the middle of the `$last_seen` values its pages
  held (else the middle of its range) and both halves are read instead, the lower one first;
- a part whose pages came sorted by `$last_seen` (as far as they were read) needs no split: every
  profile last seen before the last second read has been read, so that range is done (a "done"
  part, no query; `profiles` checkpoints it) and the rest is read as a new part;
- once sessions have expired twice, after at most K pages, a part whose page 0 says it needs more
  than K pages is split at once, before its other pages are read (sized from what the earlier
  parts held; one expiry alone may be a fluke and would shrink every later part);
- splitting the whole query gives a part of its own to profiles without `$last_seen`
  (`not defined(...)`), first, so a full refresh stays exact;
- a part that cannot be split (one second of `$last_seen`, or the undefined part) is read again at
  most SESSION_RESTARTS times, then `Unfinishable` is raised; at most MAX_PARTS parts per query.

Ranges are (low, high]: `$last_seen > low` and `<= high`, either side open. Neighbours share the
bound text, so every `$last_seen` value, compared as Mixpanel compares it (text), is in exactly one
part. Parts are read in ascending `$last_seen`: when (low, high] is complete every part below it is
too, which is what lets `profiles` checkpoint `high` after each part.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
from typing import Deque, Optional, Tuple

SESSION_RESTARTS = 3  # an unsplittable part whose session expires is read again at most this many times
MAX_PARTS = 1000  # parts read per query, a guard: halving a 56-year range to one second takes ~31 levels
FLOOR = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)  # where splitting an open-below part starts
CEILING_AHEAD = dt.timedelta(days=1)  # the top of an open-above part, for splitting: the sync's start plus this
_SECOND = dt.timedelta(seconds=1)
LAST_SEEN = 'properties["$last_seen"]'


class Unfinishable(Exception):
    """A part that cannot be split further kept losing its session."""


def where_time(instant: dt.datetime) -> str:
    """Mixpanel compares profile datetimes as offset-less UTC text."""
    return instant.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")


def _whole_second(instant: dt.datetime) -> dt.datetime:
    return instant.replace(microsecond=0)


@dataclasses.dataclass(frozen=True)
class Part:
    """`kind`: "all" (the whole query), "undefined" (no `$last_seen`), "range" ((low, high], None: open),
    or "done" (a range already read from a sorted session: nothing to ask, only to checkpoint)."""

    kind: str = "all"
    low: Optional[dt.datetime] = None
    high: Optional[dt.datetime] = None

    def where(self) -> Optional[str]:
        if self.kind == "all":
            return None
        if self.kind == "undefined":
            return f"not defined({LAST_SEEN})"
        terms = []
        if self.low is not None:
            terms.append(f'{LAST_SEEN} > "{where_time(self.low)}"')
        if self.high is not None:
            terms.append(f'{LAST_SEEN} <= "{where_time(self.high)}"')
        return " and ".join(terms) or None

    def describe(self) -> str:
        if self.kind == "all":
            return "the whole query"
        if self.kind == "undefined":
            return "the part without $last_seen"
        if self.kind == "done":
            return f"the part up to {where_time(self.high)}, read from a sorted session" if self.high else "a part read from a sorted session"
        low = where_time(self.low) if self.low is not None else "the start"
        high = where_time(self.high) if self.high is not None else "now"
        return f"the part with $last_seen in ({low}, {high}]"

    def middle(self, seen: Optional[Tuple[dt.datetime, dt.datetime]], started: dt.datetime) -> Optional[dt.datetime]:
        """Where to split: the middle of the `$last_seen` values read (min, max), else of the range; None: cannot."""
        if self.kind in ("undefined", "done"):
            return None
        candidates = []
        if seen is not None and seen[1] - seen[0] >= _SECOND:
            candidates.append(_whole_second(seen[0] + (seen[1] - seen[0]) / 2))
        low = self.low if self.low is not None else min(FLOOR, (self.high or FLOOR) - CEILING_AHEAD)
        high = self.high if self.high is not None else max(started + CEILING_AHEAD, low)
        candidates.append(_whole_second(low + (high - low) / 2))
        for middle in candidates:
            if (self.low is None or middle > self.low) and (self.high is None or middle < self.high) and low <= middle < high:
                return middle
        return None

    def halves(self, seen: Optional[Tuple[dt.datetime, dt.datetime]], started: dt.datetime) -> Optional[Tuple["Part", ...]]:
        """The parts to read instead of this one, ascending; None when it cannot be split."""
        middle = self.middle(seen, started)
        if middle is None:
            return None
        lower, upper = Part("range", self.low, middle), Part("range", middle, self.high)
        return (Part("undefined"), lower, upper) if self.kind == "all" else (lower, upper)


class PartPlan:
    """The parts still to read, ascending, and what the sessions so far have shown they hold."""

    def __init__(self, first: Part, started: dt.datetime):
        self._pending: Deque[Part] = collections.deque([first])
        self._started = started
        self._restarts = 0  # of the part at the front, while it cannot be split
        self.parts_read = 0
        self.splits = 0
        self._served: list = []  # pages each expired session served

    @property
    def done(self) -> bool:
        return not self._pending

    def next(self) -> Optional[Part]:
        """The part to read now (the lowest pending), counted as a query unless done; None when every part is read."""
        if not self._pending:
            return None
        if self._pending[0].kind != "done":
            self.parts_read += 1
        return self._pending[0]

    def completed(self, part: Part) -> None:
        assert self._pending[0] == part
        self._pending.popleft()
        self._restarts = 0

    @property
    def capacity_pages(self) -> Optional[int]:
        """The most pages an expired session served, once two have expired."""
        return max(self._served) if len(self._served) >= 2 else None

    def too_big(self, part: Part, pages_needed: int, seen: Optional[Tuple[dt.datetime, dt.datetime]] = None) -> bool:
        """At page 0: whether the part needs more pages than an expired session served, and can be split."""
        if self.capacity_pages is None or pages_needed <= self.capacity_pages or self.splits >= MAX_PARTS:
            return False
        return part.halves(seen, self._started) is not None

    def expired(self, part: Part, pages_served: int, seen: Optional[Tuple[dt.datetime, dt.datetime]], *, early: bool = False, sorted_up_to: Optional[dt.datetime] = None) -> Tuple[Part, ...]:
        """The session of `part` expired after `pages_served` pages (or it was `too_big`: early): split it.

        `sorted_up_to`: the pages read were sorted by `$last_seen` up to this instant. Returns the
        parts that replace it; raises Unfinishable when it cannot be split and has lost its session
        more than SESSION_RESTARTS times.
        """
        assert self._pending[0] == part
        if not early and pages_served > 0:
            self._served.append(pages_served)
        halves = self._continued(part, sorted_up_to) or (part.halves(seen, self._started) if self.splits < MAX_PARTS else None)
        if halves is None:
            self._restarts += 1
            if self._restarts > SESSION_RESTARTS:
                raise Unfinishable(f"its session expired {self._restarts} times and it cannot be split further")
            return (part,)
        self._pending.popleft()
        self._pending.extendleft(reversed(halves))
        self._restarts = 0
        self.splits += 1
        return halves

    def _continued(self, part: Part, sorted_up_to: Optional[dt.datetime]) -> Optional[Tuple[Part, ...]]:
        """A sorted session read up to T: (low, T - 1 s] is done, (T - 1 s, high] still to read; None when that is no progress."""
        if sorted_up_to is None or part.kind not in ("all", "range"):
            return None
        done_to = _whole_second(sorted_up_to) - _SECOND  # the last second read may have more profiles on the next page
        if (part.low is not None and done_to <= part.low) or (part.high is not None and done_to >= part.high):
            return None
        rest = (Part("done", part.low, done_to), Part("range", done_to, part.high))
        return (Part("undefined"),) + rest if part.kind == "all" else rest
