"""A local fake of Mixpanel's raw event export endpoint, ``GET /api/2.0/export``.

Why a fake: the connector's interesting behaviour (retries, resumable streaming, bad lines,
timezone edges, late data) depends on how the real server misbehaves, which a live project
can't be made to do on demand.  This server answers like the real API as documented in
``/work/shared/reference/mixpanel-export-api.md`` and can be told to fail in the ways seen
in the wild (``add_fault``).  Standard library only, so it also runs in a bare container.

Days and timezones: an event belongs to the UTC calendar day of its stored ``properties.time``.
For a ``project_timezone`` other than UTC this models a *legacy* project, whose stored times
are local wall-clock seconds: the UTC date of the stored number is then the local day, so the
same rule applies.  The timezone only decides the server's "today" (``to_date`` after today is
rejected with 400), unless ``today`` is fixed in the constructor.

The clock (``now``): without it, every event exists from the start and "today" is the real
date.  With it, "today" is ``now()``'s date in the project's timezone, and an event exists (is
served, and is expected) once both its ``time`` and its ``mp_processing_time_ms`` are at or
before ``now()``: a simulated week of syncs sees each day fill up, late events included.
Generated events are filtered on the numbers ``event_lines`` computes anyway (``keep=``), never
by parsing a line; a day entirely in the future is skipped and a day whose every event has
arrived is served as without a clock.

Bodies are streamed (chunked, optionally gzip on the fly) from lazily generated lines, so a
million-event day never sits in memory.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import threading
from typing import Callable, Iterable, Iterator, NamedTuple, Sequence
from zoneinfo import ZoneInfo

from .common import RecordedRequest, Shared
from .events import day_of_time, event_lines, last_arrival_ms
from .handler import Handler, Server
from .people import DEFAULT_PAGE_SIZE, PeopleData
from .reports import ReportsData
from .where import arrival_filter, time_filter

_RAW = object()  # marks add_raw_line entries: sent verbatim, never filtered, never "expected"
_NOTHING = object()  # a generated day of which nothing exists yet
_EPOCH = datetime.datetime(1970, 1, 1)
_MICROSECOND = datetime.timedelta(microseconds=1)


class _Cutoff(NamedTuple):
    """An instant as the existence rule compares it, in whole microseconds since the Unix epoch."""

    wall_us: int  # the project's local wall clock, as a legacy project stores `time` (UTC projects: = utc_us)
    utc_us: int  # true UTC, as `mp_processing_time_ms` is


def _number(value) -> int | float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _aware(at: object, what: str) -> datetime.datetime:
    if not isinstance(at, datetime.datetime) or at.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime.datetime, not {at!r}")
    return at


def _with_ms(line: bytes) -> bytes:
    """Re-serialise an explicit event with ``properties.time`` in milliseconds."""
    event = json.loads(line)
    t = event["properties"]["time"]
    event["properties"]["time"] = t * 1000 if isinstance(t, int) else int(round(t * 1000))
    return json.dumps(event, separators=(",", ":")).encode("ascii") + b"\n"


class FakeMixpanel:
    """In-process fake of ``GET /api/2.0/export``; see the module docstring for the rules.

    ``events``: explicit raw events (``properties.time`` in Unix seconds); ``events_per_day`` +
    ``days``: generated lazily with ``generate_events(day, events_per_day, seed=seed)``.  Within a
    day the generated events come first, then explicit ones in insertion order.  ``today``: the
    server's "today" (default: the real date in ``project_timezone`` at request time).
    ``credentials_valid=False`` rejects every credential (401); ``expired_credentials=True`` answers
    400 "Unable to authenticate request" to everyone; ``payment_required=True`` answers 402.  These
    three are plain attributes and may be flipped between requests.  ``gzip_min_bytes``: bodies
    shorter than this that end within the first chunk are sent uncompressed, as the real API does.
    ``debug=True`` (or env FAKE_MIXPANEL_DEBUG=1) logs requests and tracebacks to stderr.
    ``cache_bodies=True`` keeps each fault-free response as sent and answers the same request again
    from memory (for the benchmark: a real Mixpanel's CPU is not on the machine being measured).
    ``now``: the fake's clock, a function returning an aware datetime (see the module docstring);
    ``today`` still wins over it.  ``drop_every_lines=N`` (a plain attribute too): an export response
    of more than N lines is cut after N, the connection dropped as by a ``reset`` fault.
    """

    def __init__(self, events: Iterable[dict] | None = None, *, events_per_day: int = 0,
                 days: Sequence[datetime.date] | None = None, seed: int = 0, gzip_enabled: bool = True,
                 chunk_size: int = 64 * 1024, today: datetime.date | None = None, project_timezone: str = "UTC",
                 host: str = "127.0.0.1", port: int = 0, credentials_valid: bool = True,
                 expired_credentials: bool = False, payment_required: bool = False,
                 gzip_min_bytes: int = 1400, debug: bool | None = None, cache_bodies: bool = False,
                 profiles: int = 0, page_size: int = DEFAULT_PAGE_SIZE, cohorts: Sequence[dict] = (),
                 now: Callable[[], datetime.datetime] | None = None, drop_every_lines: int | None = None):
        if events_per_day < 0 or chunk_size < 1:
            raise ValueError("events_per_day must be >= 0 and chunk_size >= 1")
        if drop_every_lines is not None and drop_every_lines < 0:
            raise ValueError("drop_every_lines must be None or >= 0")
        if events_per_day and not days:
            raise ValueError("events_per_day needs the days to generate (days=[...])")
        self.events_per_day, self.seed = events_per_day, seed
        self.generated_days = frozenset(days or ()) if events_per_day else frozenset()
        self.gzip_enabled, self.chunk_size, self.gzip_min_bytes = gzip_enabled, chunk_size, gzip_min_bytes
        self.today, self.project_timezone, self._tz = today, project_timezone, ZoneInfo(project_timezone)
        self._shifts: dict[int, int] = {}  # legacy: stored hour -> seconds from local wall clock to UTC
        self._arrival_shift = None if project_timezone == "UTC" else self._shift
        self.host, self.port = host, port
        self.credentials_valid, self.expired_credentials = credentials_valid, expired_credentials
        self.payment_required = payment_required
        self.debug = bool(os.environ.get("FAKE_MIXPANEL_DEBUG")) if debug is None else debug
        self.cache_bodies = cache_bodies
        self.now, self.drop_every_lines = now, drop_every_lines
        # A plain attribute: False serves `where`'s mp_processing_time_ms bounds as if they were not there.
        self.honour_arrival_filter = True
        self._bodies: dict[tuple, object] = {}  # request key -> export._CachedBody, when cache_bodies
        self._version = 0  # bumped by every change of the data: a body generated across a change is not kept
        self.requests: list[RecordedRequest] = []
        # The lock, stop event and fault queue every endpoint shares (common.py); the aliases are for this file.
        self.shared = Shared()
        self._lock, self._stop = self.shared.lock, self.shared.stop
        # day -> [(name or _RAW, line, stored time, mp_processing_time_ms or None)], in insertion order
        self._explicit: dict[datetime.date, list[tuple[object, bytes, int | float | None, int | float | None]]] = {}
        # day -> (latest stored time, latest mp_processing_time_ms or None) of its explicit events
        self._explicit_latest: dict[datetime.date, tuple[int | float, int | float | None]] = {}
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        # The Query API (people.py; served by engage.py, cohorts.py): `profiles` generated profiles, `page_size` a page, `cohorts` with their "members".
        self.people = PeopleData(profiles=profiles, page_size=page_size, cohorts=cohorts)
        self.reports = ReportsData()  # annotations and funnels (reports.py), set by a test
        self.people.groups = {}  # data_group_id -> group profiles (groups.py), set by a test
        if events is not None:
            self.add_events(events)

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://host:port`` (no trailing slash); only once started."""
        if self._server is None:
            raise RuntimeError("FakeMixpanel is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> "FakeMixpanel":
        if self._server is not None:
            raise RuntimeError("FakeMixpanel already started")
        handler = type("FakeMixpanelHandler", (Handler,), {"fake": self})
        self._stop.clear()
        self._server = Server((self.host, self.port), handler, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-mixpanel-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; wakes stalled responses and drops open connections."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stop.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            sockets = list(server.open_sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)

    def __enter__(self) -> "FakeMixpanel":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- data -------------------------------------------------------------------------------

    def add_events(self, events: Iterable[dict]) -> None:
        """Append events to their days (late data: a past day grows between two syncs).

        Events without a numeric ``properties.time`` belong to no day and are never served."""
        for event in events:
            props = event.get("properties") if isinstance(event, dict) else None
            day = day_of_time(props.get("time")) if isinstance(props, dict) else None
            if day is None:
                continue
            line = json.dumps(event, separators=(",", ":")).encode("ascii") + b"\n"
            name = event.get("event")
            t, processed = props["time"], _number(props.get("mp_processing_time_ms"))
            with self._lock:
                self._explicit.setdefault(day, []).append((name if isinstance(name, str) else None, line, t, processed))
                latest_t, latest_p = self._explicit_latest.get(day, (t, None))
                if processed is not None:
                    latest_p = processed if latest_p is None else max(latest_p, processed)
                self._explicit_latest[day] = (max(latest_t, t), latest_p)
                self._changed()

    def set_profiles(self, results: Iterable[dict]) -> None:
        """Replace (same distinct_id) or add profiles, each an Engage result: {"$distinct_id": ..., "$properties": {...}}."""
        with self._lock:
            for result in results:
                self.people.overrides[str(result["$distinct_id"])] = result

    def expected_profiles(self, since: datetime.datetime | None = None) -> list[dict]:
        """The Engage results a fault-free query (with `$last_seen >= since`) answers, in order."""
        with self._lock:
            return self.people.expected_profiles(since)

    def add_raw_line(self, day: datetime.date, line: bytes | str) -> None:
        """Append raw bytes (a newline is added unless present) to that day's output.

        For hostile data: huge lines, non-UTF-8, NaN, huge ints, duplicate keys.  Raw lines are
        sent even with an ``event`` filter, count towards ``limit`` and are not in expected_events."""
        data = line.encode("utf-8") if isinstance(line, str) else bytes(line)
        if not data.endswith(b"\n"):
            data += b"\n"
        with self._lock:
            self._explicit.setdefault(day, []).append((_RAW, data, None, None))
            self._changed()

    def add_fault(self, kind: str, *, times: int = 1, **options) -> None:
        """Queue a fault for the next ``times`` export requests (FIFO: each request consumes the first).

        Every export request consumes one, even one rejected for bad auth or params (a "status"
        fault even wins over those).  Options per kind are described in the package README
        (``integration_tests/fake_mixpanel/__init__.py``); every kind accepts ``no_charset=True``,
        and ``crlf=True`` / ``blank_lines=True`` combine with the line faults."""
        self.shared.add_fault(kind, times, options)

    def clear_faults(self) -> int:
        """Drop every queued fault (say, one a killed client never got to consume); returns how many requests' worth."""
        return self.shared.clear_faults()

    def expected_events(self, from_date: datetime.date, to_date: datetime.date, *, time_in_ms: bool = False,
                        where: str | None = None, at: datetime.datetime | None = None) -> list[dict]:
        """The events a fault-free request for that inclusive day range (and ``where``) would return, parsed.

        ``at`` (an aware datetime): the events that exist at that instant; default ``now()`` when
        the fake has a clock, else every event.  Ignores ``today`` and raw lines.  Materialises
        the list: meant for tests, not for benchmarks."""
        if at is None and self.now is not None:
            at = self.clock()
        elif at is not None:
            _aware(at, "at")
        return [json.loads(line) for line in self.body_lines(from_date, to_date, time_in_ms=time_in_ms, wanted=None,
                                                               raw=False, where=where, at=at)]

    # -- for the endpoints (export.py, handler.py): the clock, the body lines, the body cache ------

    def clock(self) -> datetime.datetime:
        """The fake's current instant: ``now()`` when given (checked to be aware), else the real time."""
        if self.now is None:
            return datetime.datetime.now(datetime.timezone.utc)
        return _aware(self.now(), "now()")

    def server_today(self, at: datetime.datetime | None = None) -> datetime.date:
        """The server's "today": ``today`` if fixed, else the date of ``at`` (default: the clock) in the project's timezone."""
        if self.today is not None:
            return self.today
        return (at if at is not None else self.clock()).astimezone(self._tz).date()

    def _changed(self) -> None:
        """The data changed (caller holds the lock): kept bodies are stale."""
        self._version += 1
        self._bodies.clear()

    def _cutoff(self, at: datetime.datetime) -> _Cutoff:
        local = at.astimezone(self._tz).replace(tzinfo=None)
        utc = at.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return _Cutoff((local - _EPOCH) // _MICROSECOND, (utc - _EPOCH) // _MICROSECOND)

    def settled(self, from_date: datetime.date, to_date: datetime.date, at: datetime.datetime) -> bool:
        """True when every event of those days exists at ``at``: a request then gets what it would without a clock."""
        cut = self._cutoff(at)
        with self._lock:
            days = [d for d in self.generated_days if from_date <= d <= to_date]
            latest = [v for d, v in self._explicit_latest.items() if from_date <= d <= to_date]
        if any(not self._generated_settled(day, cut) for day in days):
            return False
        return all(t * 1_000_000 <= cut.wall_us and (p is None or p * 1000 <= cut.utc_us) for t, p in latest)

    def _shift(self, stored: int) -> int:
        """Seconds from a stored local wall-clock time to UTC (legacy projects), cached per hour."""
        hour = stored // 3600
        shift = self._shifts.get(hour)
        if shift is None:
            wall = (_EPOCH + datetime.timedelta(hours=hour)).replace(tzinfo=self._tz)
            shift = self._shifts[hour] = int(wall.timestamp()) - hour * 3600
        return shift

    def _generated_settled(self, day: datetime.date, cut: _Cutoff) -> bool:
        day_end = ((day - _EPOCH.date()).days + 1) * 86400  # every stored time of the day is < day_end
        return (day_end - 1) * 1_000_000 <= cut.wall_us and last_arrival_ms(day, self._arrival_shift is not None) * 1000 <= cut.utc_us

    def _generated_keep(self, day: datetime.date, time_ok: Callable[[float], bool] | None, cut: _Cutoff | None,
                        arrival_ok: Callable[[float], bool] | None = None):
        """The ``keep`` for ``event_lines`` of a generated day (None: every event; _NOTHING: none)."""
        if cut is not None and (cut.wall_us // 1_000_000) < (day - _EPOCH.date()).days * 86400:
            return _NOTHING  # the whole day is still in the future
        if getattr(arrival_ok, "only_missing", False):
            return _NOTHING  # every generated event has mp_processing_time_ms
        if cut is None or self._generated_settled(day, cut):
            if arrival_ok is None:
                return None if time_ok is None else (lambda t, processed: time_ok(t))
            if time_ok is None:
                return lambda t, processed: arrival_ok(processed)
            return lambda t, processed: time_ok(t) and arrival_ok(processed)
        wall_s, utc_ms = cut.wall_us // 1_000_000, cut.utc_us // 1000  # generated times are whole s and ms
        if time_ok is None and arrival_ok is None:
            return lambda t, processed: t <= wall_s and processed <= utc_ms
        time_ok = time_ok or (lambda t: True)
        arrival_ok = arrival_ok or (lambda processed: True)
        return lambda t, processed: t <= wall_s and processed <= utc_ms and time_ok(t) and arrival_ok(processed)

    @property
    def data_version(self) -> int:
        """Bumped by every change of the data: a body generated across a change must not be kept."""
        return self._version

    def kept_body(self, key: tuple):
        """The body kept for this request key (cache_bodies), or None."""
        with self._lock:
            return self._bodies.get(key)

    def keep_body(self, key: tuple, version: int, body: object) -> None:
        """Keep a fault-free body for replay, unless the data changed since ``version`` (``data_version``)."""
        with self._lock:
            if self._version == version:
                self._bodies[key] = body

    def body_lines(self, from_date, to_date, *, time_in_ms: bool, wanted, raw: bool = True,
                    where: str | None = None, at: datetime.datetime | None = None) -> Iterator[bytes]:
        """The body lines for those days; ``at``: only the events that exist at that instant (None: all)."""
        time_ok = time_filter(where)  # the $time bounds of ``where`` (see where.py); None: every event
        arrival_ok = arrival_filter(where) if self.honour_arrival_filter else None  # its mp_processing_time_ms bounds
        cut = self._cutoff(at) if at is not None else None
        with self._lock:
            days = sorted(d for d in self.generated_days.union(self._explicit) if from_date <= d <= to_date)
        for day in days:
            if day in self.generated_days:
                keep = self._generated_keep(day, time_ok, cut, arrival_ok)
                if keep is not _NOTHING:
                    yield from event_lines(day, self.events_per_day, seed=self.seed, time_in_ms=time_in_ms,
                                           wanted=wanted, keep=keep, arrival_shift=self._arrival_shift)
            with self._lock:  # snapshot: events added meanwhile show up in the next request
                entries = list(self._explicit.get(day, ()))
            for name, line, t, processed in entries:
                if name is _RAW:
                    if raw:
                        yield line
                elif ((wanted is None or name in wanted) and (time_ok is None or time_ok(t))
                      and (arrival_ok is None or arrival_ok(processed))
                      and (cut is None or (t * 1_000_000 <= cut.wall_us
                                           and (processed is None or processed * 1000 <= cut.utc_us)))):
                    yield _with_ms(line) if time_in_ms else line
