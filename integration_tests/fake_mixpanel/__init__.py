"""Fake Mixpanel raw event export API (``GET /api/2.0/export``) for tests, demo and benchmark.

Standard library only.  Typical use::

    with FakeMixpanel(events_per_day=1000, days=[date(2024, 3, 1)], today=date(2024, 3, 5)) as fake:
        config = connector_config(fake.url, start_date="2024-03-01")
        ...
        assert [r.status for r in fake.requests] == [200]

Credentials it accepts (anything else is 401 "Invalid credentials"):
  * ``Basic base64(FAKE_SA_USERNAME:FAKE_SA_SECRET)`` with ``project_id=FAKE_PROJECT_ID``
    (no project_id -> 400, another id -> 403);
  * ``Basic base64(FAKE_PROJECT_SECRET:)`` (empty password), project_id optional;
  * ``Bearer FAKE_OAUTH_TOKEN``, project_id optional.
A given project_id other than FAKE_PROJECT_ID is 403 with any credentials.

``where``: only its ``$time`` bounds are applied, ``properties["$time"] >= datetime(<Unix seconds>)``
(also ``>``, ``<``, ``<=``, ``==``) joined to the rest with ``and``, e.g. ``(<theirs>) and (<ours>)``;
arrival bounds too, ``number(properties["mp_processing_time_ms"]) >= <ms>`` (or without ``number()``;
an event lacking the property matches none) and ``[not] defined(properties["mp_processing_time_ms"])``;
``fake.honour_arrival_filter = False`` ignores those, as a server that does not apply them would.
Every other condition, and ``$time`` under ``or``/``not``, is ignored (see ``where.py``).
Events without ``mp_processing_time_ms``: pass them to ``add_events`` without it.

Generated events (``events_per_day`` + ``days``, see ``events.py``): about 1 in 100 is *late*, its
``mp_processing_time_ms`` between 1 h and 96 h after its ``time`` (spread over that range); every
other one arrives within seconds of its ``time``.  About 1 in 16 carries ``"$import": true``
(independent of lateness).

The clock, ``now=`` (a function returning an aware datetime; ``None``, the default: no clock):
  * the server's "today" is ``now()``'s date in ``project_timezone`` (a fixed ``today=`` still wins);
  * an event *exists* (is served, and is in ``expected_events``) once both its ``properties.time``
    and its ``properties.mp_processing_time_ms`` are at or before ``now()``.  ``time`` is compared as
    stored: for a legacy project (``project_timezone`` other than UTC) against now's local
    wall-clock seconds; ``mp_processing_time_ms`` (UTC ms) against now itself.  An event without a
    numeric ``mp_processing_time_ms`` exists once its ``time`` is past.  Raw lines are never filtered;
  * ``expected_events(..., at=instant)`` answers what exists at any instant (also without a clock);
    with a clock ``at`` defaults to ``now()``, without one (and no ``at``) every event counts;
  * ``RecordedRequest.at`` is when the request arrived, by this clock (no clock: real UTC time).
    A request reads the clock once: its "today" and its existence cut-off are that instant;
  * ``cache_bodies``: with a clock, a body is kept and replayed only when every event of its days
    exists at the request's instant (the body is then the same for any later instant); any other
    request is generated afresh, so a kept body is never stale.
Without a clock every event exists from the start and "today" is the real date.

``drop_every_lines=N`` (``None`` by default; a plain attribute too, it may change between requests):
an export response of more than N body lines is cut after exactly N lines, the connection shut
down mid-body as by the ``reset`` fault (a FIN, no final chunk), so the client sees an incomplete
response.  A response of at most N lines completes normally.  A request that consumes a queued
fault follows that fault instead (a ``none`` fault leaves the rule on), and a kept body
(``cache_bodies``) of more than N lines is not replayed.

Faults, queued with ``add_fault(kind, times=1, **options)``; each export request consumes the
first pending one (even a request then rejected for auth or params):
  * ``none``: no fault, the request is served normally.  Queue it first to let that many
    requests through before a fault (e.g. a server that fails from the second window on).
  * ``status``: ``status`` (default 500), ``headers`` (e.g. {"Retry-After": "1"}), ``body``
    (dict -> JSON, str/bytes -> text; default {"error": "..."}), ``content_type``.  Sent before
    any auth or parameter check; nothing else is sent.
  * ``reset``: ``after_bytes`` body bytes (uncompressed; default half of a body under 4000 bytes,
    else 2000) are sent, then the connection is shut down mid-body without the last chunk.
    ``rst=True`` sends a TCP RST instead of a FIN (data not yet read by the client may be lost).
  * ``stall``: ``after_bytes`` (same default) then ``seconds`` (default 30) of silence with the
    connection open, then the rest of the body.  ``stop()`` ends the stall at once.
  * ``terminated_early``: ``after_events`` lines (default half) then a final ``terminated early``
    line (``trailing_newline=True``), then a normal end of response.
  * ``split_line``: the line at ``event_index`` (default 0) gets a "\\n" in its middle.
  * ``malformed``: the line at ``event_index`` (default 0) is replaced by
    ``{"event": "broken", "properties": {``.
  * ``blank_lines``: an empty line after every line.   ``crlf``: "\\r\\n" line endings.
  * ``truncated_gzip``: the gzip stream ends without its final block and trailer (all data so far is
    sync-flushed, so it decodes); ``after_bytes`` ends it early.  Only when the client accepts gzip
    (then forced even under gzip_min_bytes or with gzip_enabled=False); otherwise ``after_bytes``
    simply truncates the plain body.
  * ``no_charset``: ``Content-Type: text/plain`` without charset.
Every kind also accepts ``no_charset=True``, ``crlf=True`` and ``blank_lines=True``.
Line indexes count body lines after filtering and ``limit`` (raw lines included).

Run ``python -m integration_tests.fake_mixpanel --help`` for the command-line server.

Layout (each module imports only those below it; ``test_fake_mixpanel`` fails on a cycle or on a
module using another's ``_private`` name): ``server.py`` (``FakeMixpanel``: the data, the clock) ->
``handler.py`` (the HTTP server and router) -> one module per endpoint family: ``export.py``
(``/api/2.0/export``), ``engage.py`` (``/api/query/engage``) -> ``groups.py``, ``cohorts.py``
(``/api/query/cohorts/list``) -> ``people.py`` (profiles, sessions), ``reports.py`` (annotations,
funnels) -> ``common.py`` (credentials, fault queue, auth check, JSON answers, the request record);
``events.py`` (the generated events) and ``where.py`` (the ``where`` filters) stand alone.
A new endpoint: a module with ``serve_<name>(handler, params)`` over ``common.serve_json`` (the same
auth and fault queue), one branch in ``handler.Handler._route``, its data on ``FakeMixpanel`` (one line).
"""

from .common import (
    FAKE_OAUTH_TOKEN,
    FAKE_PROJECT_ID,
    FAKE_PROJECT_SECRET,
    FAKE_SA_SECRET,
    FAKE_SA_USERNAME,
    FAULT_KINDS,
    RecordedRequest,
)
from .events import event_lines, generate_events
from .export import MALFORMED_LINE
from .server import FakeMixpanel


def connector_config(base_url: str | None, **settings: object) -> dict:
    """A source-mixpanel-aep config the fake accepts: its service account and project at `base_url`
    (None: no base_url, the connector's default host), then `settings` (start_date, ...)."""
    config: dict = {"credentials": {"auth_type": "service_account", "username": FAKE_SA_USERNAME, "secret": FAKE_SA_SECRET},
                    "project_id": FAKE_PROJECT_ID}
    if base_url is not None:
        config["base_url"] = base_url
    config.update(settings)
    return config

__all__ = [
    "FAKE_OAUTH_TOKEN", "FAKE_PROJECT_ID", "FAKE_PROJECT_SECRET", "FAKE_SA_SECRET", "FAKE_SA_USERNAME",
    "FAULT_KINDS", "MALFORMED_LINE", "FakeMixpanel", "RecordedRequest", "connector_config", "event_lines", "generate_events",
]
