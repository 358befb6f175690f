"""Deterministic, realistic raw export events for the fake Mixpanel server.

The benchmark streams a 1,000,000-event day through the fake, so the server never
builds event dicts: it formats each JSON line straight from pre-escaped byte
fragments (``event_lines``).  ``generate_events`` parses those same lines, which makes
"the dicts tests compare against" and "the bytes the server sends" one code path
instead of two that could drift apart.

Every line equals ``json.dumps(event, separators=(",", ":"))`` of its own dict
(ASCII-escaped, no spaces), so a line can be rebuilt from a parsed event byte for byte.

Arrival (``mp_processing_time_ms``, UTC ms): about 1 event in 100 is *late*, processed between
1 hour and 96 hours (4 days) after its ``time``, spread evenly over that range; every other
event is processed within about 4.5 seconds of its ``time``.  Which events are late, and by how
much, follows from the seed like everything else; lateness is independent of ``$import`` (about
1 event in 16, sent through /import, which only sets ``"$import": true`` and ``mp_lib``).
For a legacy project (stored ``time`` in local wall-clock seconds) the server passes
``arrival_shift`` so that the processing time is true UTC, as Mixpanel writes it for every project.
"""

from __future__ import annotations

import datetime
import json
import random
from typing import Callable, Iterable, Iterator

__all__ = ["generate_events", "event_lines", "day_of_time", "last_arrival_ms"]

_EPOCH = datetime.date(1970, 1, 1)


def _j(value) -> bytes:
    """JSON-encode a vocabulary value once, at import time (ASCII, compact)."""
    return json.dumps(value, separators=(",", ":")).encode("ascii")


def _table(weighted: Iterable[tuple[object, int]]) -> list:
    """Expand (value, weight) pairs into a 100-entry lookup table (index = random % 100)."""
    table = [value for value, weight in weighted for _ in range(weight)]
    assert len(table) == 100, len(table)
    return table


# (name, kind): kind "cart" and "purchase" events carry item_* properties.
_EVENTS = _table([
    (("Page viewed", ""), 30), (("Product viewed", ""), 14), (("Button clicked", ""), 10),
    (("Search performed", "search"), 9), (("Session started", "session"), 9),
    (("Logged in", ""), 7), (("Added to cart", "cart"), 8), (("Checkout started", "cart"), 4),
    (("Items purchased", "purchase"), 6), (("Signed up", ""), 3),
])
_EVENTS = [(name, _j(name), kind) for name, kind in _EVENTS]

_BROWSERS = [_j(b) for b in ("Chrome", "Chrome", "Chrome", "Safari", "Mobile Safari", "Firefox", "Edge", "Chrome Mobile")]
_OSES = [_j(o) for o in ("Windows", "Windows", "Mac OS X", "Mac OS X", "iOS", "Android", "Linux", "Chrome OS")]
# (city, region, country): a few non-ASCII names so the \u escapes get exercised.
_PLACES = [
    b'"$city":%s,"$region":%s,"mp_country_code":%s' % (_j(c), _j(r), _j(cc))
    for c, r, cc in [
        ("San Francisco", "California", "US"), ("New York", "New York", "US"), ("Austin", "Texas", "US"),
        ("Chicago", "Illinois", "US"), ("Seattle", "Washington", "US"), ("Toronto", "Ontario", "CA"),
        ("London", "England", "GB"), ("Manchester", "England", "GB"), ("Paris", "Île-de-France", "FR"),
        ("Lyon", "Auvergne-Rhône-Alpes", "FR"), ("Berlin", "Land Berlin", "DE"), ("München", "Bavaria", "DE"),
        ("Zürich", "Zurich", "CH"), ("Madrid", "Madrid", "ES"), ("Amsterdam", "North Holland", "NL"),
        ("Stockholm", "Stockholm", "SE"), ("São Paulo", "São Paulo", "BR"), ("Ciudad de México", "CDMX", "MX"),
        ("Bengaluru", "Karnataka", "IN"), ("Mumbai", "Maharashtra", "IN"), ("東京", "Tokyo", "JP"),
        ("Sydney", "New South Wales", "AU"), ("Singapore", "Singapore", "SG"), ("Dublin", "Leinster", "IE"),
        ("Warszawa", "Mazowieckie", "PL"), ("Lisboa", "Lisbon", "PT"), ("Oslo", "Oslo", "NO"),
        ("Seoul", "Seoul", "KR"), ("Cape Town", "Western Cape", "ZA"), ("Buenos Aires", "Buenos Aires", "AR"),
        ("Vancouver", "British Columbia", "CA"), ("Kraków", "Lesser Poland", "PL"),
    ]
]
_ITEMS = [
    (_j(str(29000 + 37 * n)), _j(name), _j(price))
    for n, (name, price) in enumerate([
        ("charger", "800.00"), ("phone case", "19.99"), ("headphones", "129.00"), ("usb-c cable", "9.50"),
        ("laptop stand", "45.00"), ("keyboard", "89.90"), ("mouse", "24.99"), ("monitor", "329.00"),
        ("webcam", "59.00"), ("desk lamp", "34.50"), ("backpack", "74.00"), ("water bottle", "15.00"),
        ("notebook", "4.99"), ("smart watch", "249.00"), ("speaker", "99.00"), ("power bank", "39.99"),
    ])
]
_PATHS = ["/", "/", "/pricing", "/blog/how-we-ship", "/cart", "/checkout", "/account", "/search?q=usb+charger",
          "/products/29000", "/products/29037", "/products/29111", "/products/29222", "/help/returns",
          "/products/29333?ref=home", "/deals", "/signup"]
_URLS = [_j("https://shop.example.com" + p) for p in _PATHS]
# (referrer, referring domain, utm_source, utm_medium, utm_campaign); None becomes JSON null.
_TRAFFIC = [
    b'"$initial_referrer":%s,"$initial_referring_domain":%s,"utm_campaign":%s,"utm_medium":%s,"utm_source":%s'
    % (_j(ref), _j(dom), _j(camp), _j(med), _j(src))
    for ref, dom, src, med, camp in [
        ("$direct", "$direct", None, None, None), ("$direct", "$direct", None, None, None),
        ("https://www.google.com/", "www.google.com", "google", "cpc", "spring_sale"),
        ("https://www.google.com/", "www.google.com", "google", "organic", None),
        ("https://www.facebook.com/", "www.facebook.com", "facebook", "social", "retargeting-q2"),
        ("https://news.ycombinator.com/", "news.ycombinator.com", "hn", "referral", None),
        ("https://mail.example.net/", "mail.example.net", "newsletter", "email", "weekly-digest-42"),
        ("https://www.bing.com/", "www.bing.com", "bing", "cpc", "brand"),
    ]
]
_SEARCHES = [_j(["usb charger"]), _j(["headphones", "noise cancelling"]), _j(["desk lamp"]), _j([])]
_EXPERIMENTS = [
    b',"$experiments":{"checkout-flow":"variant-b","pricing-page":{"bucket":3,"enrolled":true}}',
    b',"$experiments":{"checkout-flow":"control","onboarding":{"bucket":1,"enrolled":false,"cohorts":["beta","eu"]}}',
]
_USERS = 5000
_DISTINCT_IDS = [_j("user-%05d@example.com" % u) for u in range(_USERS)]
_DEVICE_IDS = [_j("18%014x-0%x" % ((u * 0x9E3779B97F4A7C15) & (2**56 - 1), u)) for u in range(_USERS)]

# Properties every event has, in the order the line lists them.
_LINE = (
    b'{"event":%s,"properties":{"time":%d,"distinct_id":%s,"$browser":%s,"$browser_version":%d,%s,'
    b'"$current_url":%s,"$device_id":%s,"$insert_id":"%08x-%04x-4%03x-%04x-%012x","$lib_version":"2.55.1",'
    b'"$mp_api_endpoint":"api.mixpanel.com","$mp_api_timestamp_ms":%d,"$os":%s,"$screen_height":%d,'
    b'"$screen_width":%d,%s,"$user_id":%s,"is_logged_in":%s,"mp_lib":%s,"mp_processing_time_ms":%d%s}}\n'
)
# Late arrivals: one event in _LATE_ONE_IN reaches Mixpanel between these two delays after its `time`.
_LATE_ONE_IN = 100
_LATE_MIN_MS, _LATE_MAX_MS = 3_600_000, 96 * 3_600_000
_SCREENS = [(1080, 1920), (900, 1440), (1440, 2560), (844, 390), (915, 412), (768, 1366), (1117, 1728), (800, 1280)]


def day_of_time(value) -> datetime.date | None:
    """The UTC calendar day of a Unix-seconds timestamp, or None when there is no usable time.

    For legacy projects Mixpanel stores wall-clock seconds in the project's timezone, so the
    UTC date of the stored number *is* the project-local day: one rule serves both cases."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return _EPOCH + datetime.timedelta(days=int(value // 86400))
    except (OverflowError, ValueError):  # inf, nan, or out of date range
        return None


_MAX_SHIFT_MS = 14 * 3_600_000  # the largest UTC offset there is: a legacy day's arrivals end at most this much later


def last_arrival_ms(day: datetime.date, shifted: bool = False) -> int:
    """No event ``event_lines(day, ...)`` generates is processed after this (Unix ms), whatever the count or seed."""
    return ((day - _EPOCH).days + 1) * 86_400_000 + _LATE_MAX_MS + (_MAX_SHIFT_MS if shifted else 0)


def event_lines(day: datetime.date, count: int, *, seed: int = 0, time_in_ms: bool = False,
                wanted: frozenset[str] | set[str] | None = None,
                keep: Callable[[int, int], bool] | None = None,
                arrival_shift: Callable[[int], int] | None = None) -> Iterator[bytes]:
    """Yield the JSON lines (bytes ending in b"\\n") of ``generate_events(day, count, seed=seed)``.

    ``wanted`` (event names) filters without changing the other events: the random draws
    happen for every event, only the formatting is skipped.  ``keep(time, processing_ms)`` does
    the same on the event's stored ``time`` (Unix seconds, even with ``time_in_ms``) and its
    ``mp_processing_time_ms``, so the server filters on them without parsing a line (or even
    formatting it).  ``arrival_shift(time)``: seconds to add to a stored (local wall-clock) time to
    get UTC, for a legacy project's ``mp_processing_time_ms``.  Times rise through the day: event i lands in the i-th of ``count`` equal
    slices of the day, at a random offset.
    """
    rng = random.Random("fake-mixpanel:%d:%s" % (seed, day.isoformat()))
    bits = rng.getrandbits
    day_start = (day - _EPOCH).days * 86400
    slot = max(1, 86400 // count) if count else 1
    id_day, id_seed = day.toordinal() & 0xFFFF, seed & 0xFFF
    for i in range(count):
        r, s = bits(64), bits(64)  # drawn even for filtered-out events, so the others don't change
        name, name_json, kind = _EVENTS[r % 100]
        if wanted is not None and name not in wanted:
            continue
        t = day_start + (i * 86400) // count + (r >> 7) % slot
        t_utc = t if arrival_shift is None else t + arrival_shift(t)
        received = t_utc * 1000 + 40 + (s & 0xFFF)  # client -> API latency, in ms
        # Arrival: within seconds, except the late ~1%, 1 h to 96 h after `time`.  Decided from r ^ s
        # (no third draw, so the draws of the next events don't shift): uniform, and independent of
        # r alone and of s alone, so lateness is not tied to the event name, the user or $import.
        late = r ^ s
        if late % _LATE_ONE_IN == 0:
            processed = t_utc * 1000 + _LATE_MIN_MS + (late // _LATE_ONE_IN) % (_LATE_MAX_MS - _LATE_MIN_MS + 1)
        else:
            processed = received + 5 + ((s >> 35) & 255)
        if keep is not None and not keep(t, processed):
            continue
        user = (r >> 24) % _USERS
        logged_in = user % 3 != 0
        extra = b""
        if kind == "purchase" or kind == "cart":
            item_id, item_name, price = _ITEMS[(s >> 12) & 15]
            extra = b',"item_id":%s,"item_name":%s,"item_price":%s' % (item_id, item_name, price)
            if kind == "cart":
                extra += b',"cart_items":[%s,%s]' % (item_id, _ITEMS[(s >> 16) & 15][0])
        elif kind == "search":
            extra = b',"search_terms":%s' % _SEARCHES[(s >> 12) & 3]
        elif kind == "session":
            extra = b',"session_length_s":%d.%d' % ((s >> 12) & 1023, (s >> 22) % 10)
        if (s >> 26) & 15 == 0:
            extra += _EXPERIMENTS[(s >> 30) & 1]
        if (s >> 31) & 15 == 0:  # sent through /import
            extra += b',"$import":true'
            lib = b'"python"'
        else:
            lib = b'"web"'
        height, width = _SCREENS[(r >> 40) & 7]
        line = _LINE % (
            name_json, t * 1000 if time_in_ms else t, _DISTINCT_IDS[user], _BROWSERS[(r >> 43) & 7],
            100 + (r >> 46) % 32, _PLACES[(r >> 51) & 31], _URLS[(r >> 56) & 15], _DEVICE_IDS[user],
            ((s >> 40) | (r << 24)) & 0xFFFFFFFF, id_day, id_seed, 0x8000 | ((r >> 60) << 10) | ((s >> 8) & 0x3FF), i,
            received, _OSES[(s >> 4) & 7], height, width, _TRAFFIC[(s >> 43) & 7],
            _DISTINCT_IDS[user] if logged_in else b"null", b"true" if logged_in else b"false", lib,
            processed, extra,
        )
        yield line


def generate_events(day: datetime.date, count: int, *, seed: int = 0) -> Iterator[dict]:
    """Deterministic, realistic raw export events for one UTC day: same (day, count, seed) -> same events.

    Each event has ``time`` (Unix seconds inside ``day``, rising), ``distinct_id``, a unique
    ``$insert_id`` (unique per day, seed and index), ``$mp_api_endpoint``, ``$mp_api_timestamp_ms``,
    ``mp_processing_time_ms``, ``$browser``, ``$city``, ``$os``, ``$current_url``, ``utm_source``
    (sometimes null), ``mp_lib``, ``$device_id`` and more; purchase-like events add ``item_id``,
    ``item_name`` and ``item_price`` (a string like "800.00"); about 1 in 16 has ``"$import": true``;
    some carry a list or a nested object.  ``mp_processing_time_ms`` is within seconds of ``time``,
    except for about 1 event in 100 (late: 1 h to 96 h after ``time``, spread over that range).
    About 700 bytes per line.  Lazy: nothing of the day is held in memory.
    """
    for line in event_lines(day, count, seed=seed):
        yield json.loads(line)
