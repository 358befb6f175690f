"""Tests of the fake Mixpanel export server itself.

The connector's integration tests trust this fake to behave like the real API, so its own
behaviour (auth rules, day filtering, streaming, faults) is pinned down here.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from integration_tests.fake_mixpanel import (
    FAKE_OAUTH_TOKEN,
    FAKE_PROJECT_ID,
    FAKE_PROJECT_SECRET,
    FAKE_SA_SECRET,
    FAKE_SA_USERNAME,
    MALFORMED_LINE,
    FakeMixpanel,
    generate_events,
)

DAY = datetime.date(2024, 3, 1)
TODAY = datetime.date(2024, 3, 10)
SA = (FAKE_SA_USERNAME, FAKE_SA_SECRET)
REPO = Path(__file__).resolve().parents[1]


def ts(day: datetime.date, hour: int = 12) -> int:
    return int(datetime.datetime(day.year, day.month, day.day, hour, tzinfo=datetime.timezone.utc).timestamp())


def export(fake: FakeMixpanel, *, auth=SA, headers=None, stream=False, timeout=10, **params) -> requests.Response:
    params.setdefault("from_date", DAY.isoformat())
    params.setdefault("to_date", params["from_date"])
    if auth == SA:
        params.setdefault("project_id", FAKE_PROJECT_ID)
    return requests.get(f"{fake.url}/api/2.0/export", params=params, auth=auth, headers=headers,
                        stream=stream, timeout=timeout)


def parse(body: bytes) -> list[dict]:
    return [json.loads(line) for line in body.splitlines() if line]


@pytest.fixture
def fake():
    with FakeMixpanel(events_per_day=20, days=[DAY, DAY + datetime.timedelta(days=2)], today=TODAY) as server:
        yield server


# -- generated events ---------------------------------------------------------------------------

def test_generated_events_are_deterministic_realistic_and_inside_their_day():
    events = list(generate_events(DAY, 2000, seed=7))
    assert events == list(generate_events(DAY, 2000, seed=7))
    assert events != list(generate_events(DAY, 2000, seed=8))
    start = ts(DAY, 0)
    times = [e["properties"]["time"] for e in events]
    assert times == sorted(times) and start <= times[0] and times[-1] < start + 86400
    assert len({e["properties"]["$insert_id"] for e in events}) == 2000
    for key in ("distinct_id", "$mp_api_endpoint", "$mp_api_timestamp_ms", "mp_processing_time_ms", "$browser",
                "$city", "$os", "$current_url", "utm_source", "mp_lib", "$device_id"):
        assert all(key in e["properties"] for e in events), key
    purchases = [e for e in events if e["event"] == "Items purchased"]
    assert purchases and all(isinstance(e["properties"]["item_price"], str) for e in purchases)
    assert any(e["properties"].get("$import") is True for e in events)
    assert any(isinstance(v, (list, dict)) for e in events for v in e["properties"].values())
    sizes = [len(json.dumps(e, separators=(",", ":"))) for e in events]
    assert 600 <= sum(sizes) / len(sizes) <= 800


# -- happy path ---------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_export_streams_expected_events_as_jsonl(fake, encoding):
    r = export(fake, to_date="2024-03-05", headers={"Accept-Encoding": encoding})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert r.headers["Transfer-Encoding"] == "chunked"
    assert r.headers.get("Content-Encoding") == (encoding if encoding == "gzip" else None)
    expected = fake.expected_events(DAY, datetime.date(2024, 3, 5))
    assert len(expected) == 40 and parse(r.content) == expected
    assert r.content == b"".join(json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in expected)
    assert fake.requests[-1].status == 200 and fake.requests[-1].params["project_id"] == str(FAKE_PROJECT_ID)


def test_empty_range_is_an_empty_200(fake):
    r = export(fake, from_date="2024-03-02", to_date="2024-03-02")
    assert r.status_code == 200 and r.content == b""


def test_limit_event_filter_time_in_ms_and_where(fake):
    all_events = fake.expected_events(DAY, DAY)
    assert parse(export(fake, limit=5).content) == all_events[:5]
    names = ["Page viewed", "Items purchased"]
    filtered = parse(export(fake, event=json.dumps(names), where='properties["$os"] == "iOS"').content)
    assert filtered == [e for e in all_events if e["event"] in names]
    assert fake.requests[-1].params["where"] == 'properties["$os"] == "iOS"'
    in_ms = parse(export(fake, time_in_ms="true").content)
    assert [e["properties"]["time"] for e in in_ms] == [e["properties"]["time"] * 1000 for e in all_events]
    assert in_ms == fake.expected_events(DAY, DAY, time_in_ms=True)


def test_explicit_events_days_order_and_late_arrivals():
    d2 = DAY + datetime.timedelta(days=1)
    events = [
        {"event": "b", "properties": {"time": ts(d2, 0), "distinct_id": "u1"}},
        {"event": "a", "properties": {"time": ts(DAY, 23) + 3599, "distinct_id": "u1", "tags": ["x"]}},
        {"event": "no time", "properties": {"distinct_id": "u1"}},
        {"event": "c", "properties": {"time": ts(DAY, 0) + 0.5, "distinct_id": "u2"}},
    ]
    with FakeMixpanel(events, today=TODAY) as fake:
        assert [e["event"] for e in parse(export(fake, to_date=d2.isoformat()).content)] == ["a", "c", "b"]
        fake.add_events([{"event": "late", "properties": {"time": ts(DAY, 5), "distinct_id": "u3"}}])
        assert [e["event"] for e in parse(export(fake).content)] == ["a", "c", "late"]
        assert parse(export(fake, time_in_ms="true").content)[1]["properties"]["time"] == ts(DAY, 0) * 1000 + 500


def test_legacy_timezone_uses_stored_wall_clock_and_local_today():
    # Stored 2024-03-01 23:30 "local" stays on 2024-03-01 even though the project is UTC-8.
    event = {"event": "e", "properties": {"time": ts(DAY, 23) + 1800, "distinct_id": "u"}}
    with FakeMixpanel([event], project_timezone="America/Los_Angeles") as fake:
        assert parse(export(fake).content) == [event]
        local_today = datetime.datetime.now(ZoneInfo("America/Los_Angeles")).date()
        tomorrow = (local_today + datetime.timedelta(days=1)).isoformat()
        assert export(fake, to_date=local_today.isoformat(), from_date=local_today.isoformat()).status_code == 200
        r = export(fake, to_date=tomorrow, from_date=tomorrow)
        assert r.status_code == 400 and r.json() == {"error": "to_date cannot be later than today"}


# -- auth and parameters ------------------------------------------------------------------------

@pytest.mark.parametrize("auth, params, status, error", [
    (SA, {"project_id": None}, 400, "project_id is required when authenticating with a service account"),
    (SA, {"project_id": "1"}, 403, "You don't have access to project 1"),
    ((FAKE_PROJECT_SECRET, ""), {}, 200, None),
    ((FAKE_PROJECT_SECRET, ""), {"project_id": str(FAKE_PROJECT_ID)}, 200, None),
    ((FAKE_SA_USERNAME, "wrong"), {"project_id": str(FAKE_PROJECT_ID)}, 401, "Invalid credentials"),
    (None, {}, 401, "Invalid credentials"),
    (SA, {"from_date": None}, 400, None),
    (SA, {"to_date": "2024-3-1"}, 400, None),
    (SA, {"from_date": "2024-03-02", "to_date": "2024-03-01"}, 400, None),
    (SA, {"to_date": "2024-03-11"}, 400, "to_date cannot be later than today"),
    (SA, {"limit": "0"}, 400, None),
    (SA, {"event": "Page viewed"}, 400, None),
])
def test_auth_and_parameter_errors(fake, auth, params, status, error):
    params = {"from_date": "2024-03-01", "to_date": "2024-03-01", **params}
    if auth == SA:
        params.setdefault("project_id", str(FAKE_PROJECT_ID))
    r = requests.get(f"{fake.url}/api/2.0/export", auth=auth, timeout=10,
                     params={k: v for k, v in params.items() if v is not None})
    assert r.status_code == status
    if status != 200:
        assert set(r.json()) == {"error"}
        assert FAKE_SA_SECRET not in r.text and FAKE_PROJECT_SECRET not in r.text
    if error:
        assert r.json()["error"] == error
    assert fake.requests[-1].status == status


def test_bearer_token_account_states_and_unknown_paths(fake):
    bearer = {"Authorization": f"Bearer {FAKE_OAUTH_TOKEN}"}
    assert export(fake, auth=None, headers=bearer).status_code == 200
    fake.payment_required = True
    assert export(fake).json() == {"error": "Your plan does not include the export API"}
    fake.expired_credentials = True
    r = export(fake, auth=None)
    assert (r.status_code, r.json()) == (400, {"error": "Unable to authenticate request"})
    r = requests.get(f"{fake.url}/api/2.0/engage", timeout=10)
    assert r.status_code == 404 and "error" in r.json()
    with FakeMixpanel(credentials_valid=False, today=TODAY) as rejecting:
        assert export(rejecting).status_code == 401


# -- faults -------------------------------------------------------------------------------------

def test_status_faults_are_fifo_and_counted(fake):
    fake.add_fault("status", status=429, headers={"Retry-After": "1"}, times=2)
    fake.add_fault("status", status=503, body="upstream down")
    responses = [export(fake) for _ in range(4)]
    assert [r.status_code for r in responses] == [429, 429, 503, 200]
    assert responses[0].headers["Retry-After"] == "1" and "error" in responses[0].json()
    assert responses[2].text == "upstream down"
    assert [r.fault for r in fake.requests] == ["status", "status", "status", None]


def test_none_fault_lets_requests_through_before_the_next_fault(fake):
    fake.add_fault("none", times=2)
    fake.add_fault("status", status=503)
    responses = [export(fake) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 503, 200]
    assert parse(responses[0].content) == parse(responses[3].content) == list(generate_events(DAY, 20))
    assert [r.fault for r in fake.requests] == ["none", "none", "status", None]


def test_clear_faults_drops_the_queue(fake):
    fake.add_fault("stall", times=2)
    fake.add_fault("status", status=503)
    assert fake.clear_faults() == 3
    assert export(fake).status_code == 200 and fake.requests[0].fault is None


@pytest.mark.parametrize("rst", [False, True])
def test_reset_cuts_the_body_mid_stream(fake, rst):
    fake.add_fault("reset", after_bytes=1000, rst=rst)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        _ = export(fake).content
    assert fake.requests[-1].body_bytes == 1000
    assert export(fake).status_code == 200  # the next request is served normally


def test_stall_triggers_client_timeout_and_does_not_block_stop():
    fake = FakeMixpanel(events_per_day=20, days=[DAY], today=TODAY).start()
    fake.add_fault("stall", after_bytes=100, seconds=60)
    r = export(fake, stream=True, timeout=0.5)
    with pytest.raises(requests.exceptions.ConnectionError):
        _ = r.content
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 3


def test_short_stall_then_complete_body(fake):
    fake.add_fault("stall", seconds=0.2)
    assert parse(export(fake).content) == fake.expected_events(DAY, DAY)


def test_line_faults(fake):
    expected = fake.expected_events(DAY, DAY)
    fake.add_fault("terminated_early", after_events=3, no_charset=True)
    r = export(fake)
    assert r.headers["Content-Type"] == "text/plain"
    assert r.content.endswith(b"\nterminated early\n") and parse(r.content.rsplit(b"\n", 2)[0]) == expected[:3]

    fake.add_fault("split_line", event_index=1)
    lines = export(fake).content.split(b"\n")
    assert len(lines) == len(expected) + 2 and json.loads(lines[1] + lines[2]) == expected[1]

    fake.add_fault("blank_lines")
    assert export(fake).content.count(b"\n\n") == len(expected)

    fake.add_fault("crlf")
    body = export(fake).content
    assert body.count(b"\r\n") == len(expected) == body.count(b"\n")

    fake.add_fault("malformed", event_index=2)
    lines = export(fake).content.splitlines(keepends=True)
    assert lines[2] == MALFORMED_LINE and parse(b"".join(lines[:2] + lines[3:])) == expected[:2] + expected[3:]

    fake.add_fault("no_charset")
    assert export(fake).headers["Content-Type"] == "text/plain"


def test_truncated_gzip_has_no_trailer_but_decodes(fake):
    fake.add_fault("truncated_gzip")
    r = export(fake, stream=True, headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip"
    raw = r.raw.read(decode_content=False)
    d = zlib.decompressobj(31)
    assert parse(d.decompress(raw)) == fake.expected_events(DAY, DAY) and not d.eof
    complete = export(fake, stream=True, headers={"Accept-Encoding": "gzip"}).raw.read(decode_content=False)
    d = zlib.decompressobj(31)
    d.decompress(complete)
    assert d.eof


def test_small_bodies_are_not_gzipped_like_the_real_api():
    event = {"event": "e", "properties": {"time": ts(DAY), "distinct_id": "u"}}
    with FakeMixpanel([event], today=TODAY) as fake:
        r = export(fake, headers={"Accept-Encoding": "gzip"})
        assert "Content-Encoding" not in r.headers and parse(r.content) == [event]


def test_gzip_can_be_disabled_and_chunks_follow_chunk_size():
    with FakeMixpanel(events_per_day=50, days=[DAY], today=TODAY, gzip_enabled=False, chunk_size=1000) as fake:
        r = export(fake, stream=True, headers={"Accept-Encoding": "gzip"})
        assert "Content-Encoding" not in r.headers
        chunks = list(r.raw.read_chunked(decode_content=False))
        assert {len(c) for c in chunks[:-1]} == {1000} and 0 < len(chunks[-1]) <= 1000
        assert parse(b"".join(chunks)) == fake.expected_events(DAY, DAY)


def test_hostile_raw_lines_are_sent_verbatim(fake):
    huge = b'{"event":"big","properties":{"time":1709294400,"blob":"' + b"x" * (10 * 1024 * 1024) + b'"}}'
    fake.add_raw_line(DAY, b'{"event":"nan","properties":{"time":1709294400,"v":NaN,"n":1' + b"0" * 40 + b"}}")
    fake.add_raw_line(DAY, b'{"event":"latin1","properties":{"time":1709294400,"city":"S\xe3o"}}')
    fake.add_raw_line(DAY, huge)
    for encoding in ("gzip", "identity"):
        body = export(fake, headers={"Accept-Encoding": encoding}, event='["nothing"]').content
        assert body.split(b"\n")[-2] == huge and b"S\xe3o" in body and b'"v":NaN' in body
    assert len(fake.expected_events(DAY, DAY)) == 20


# -- concurrency and command line ---------------------------------------------------------------

def test_concurrent_requests_are_all_recorded(fake):
    results = []
    threads = [threading.Thread(target=lambda: results.append(export(fake).status_code)) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 12 and len(fake.requests) == 12


def test_command_line_server(tmp_path):
    port_file = tmp_path / "url"
    proc = subprocess.Popen(
        [sys.executable, "-m", "integration_tests.fake_mixpanel", "--port", "0", "--events-per-day", "5",
         "--days", "2", "--start-day", "2024-03-01", "--port-file", str(port_file)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        url = proc.stdout.readline().decode().strip()
        assert url.startswith("http://127.0.0.1:") and port_file.read_text().strip() == url
        r = requests.get(f"{url}/api/2.0/export", auth=SA, timeout=10,
                         params={"from_date": "2024-03-01", "to_date": "2024-03-02", "project_id": FAKE_PROJECT_ID})
        assert parse(r.content) == list(generate_events(DAY, 5)) + list(generate_events(datetime.date(2024, 3, 2), 5))
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    told = proc.stderr.read().decode()
    for auth_type, secret in (("service_account", FAKE_SA_SECRET), ("project_secret", FAKE_PROJECT_SECRET), ("oauth_token", FAKE_OAUTH_TOKEN)):
        assert f"{auth_type}:" in told and f'"{secret}"' in told, told  # every credential it accepts, by auth_type
    assert f'"username": "{FAKE_SA_USERNAME}"' in told and f'"project_id": {FAKE_PROJECT_ID}' in told


@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_given_cache_bodies_when_the_same_request_repeats_then_the_same_bytes_come_from_memory(encoding):
    with FakeMixpanel(events_per_day=3000, days=[DAY], today=TODAY, cache_bodies=True) as fake:
        answers, bodies = [], []
        for _ in range(2):  # one after the other: a body is kept once it has gone out whole
            answers.append(export(fake, stream=True, headers={"Accept-Encoding": encoding}))
            bodies.append(b"".join(answers[-1].raw.read_chunked(decode_content=False)))
            answers[-1].close()
        assert bodies[0] == bodies[1]
        assert [r.headers.get("Content-Encoding") for r in answers] == [None if encoding == "identity" else "gzip"] * 2
        decoded = zlib.decompress(bodies[1], 31) if encoding == "gzip" else bodies[1]
        assert parse(decoded) == fake.expected_events(DAY, DAY)
        first, second = fake.requests
        assert (second.lines_sent, second.body_bytes) == (first.lines_sent, first.body_bytes) == (3000, len(decoded))
        assert (first.from_cache, second.from_cache) == (False, True)


def test_given_cache_bodies_when_events_arrive_or_a_fault_is_queued_then_the_cache_is_not_used():
    with FakeMixpanel(events_per_day=5, days=[DAY], today=TODAY, cache_bodies=True) as fake:
        assert len(parse(export(fake).content)) == 5
        fake.add_events([{"event": "late", "properties": {"time": ts(DAY), "distinct_id": "u"}}])
        assert len(parse(export(fake).content)) == 6  # new data is never answered from the cache
        fake.add_fault("terminated_early")
        assert export(fake).content.rstrip().endswith(b"terminated early")
        assert len(parse(export(fake).content)) == 6
        assert [r.from_cache for r in fake.requests] == [False, False, False, True]


# -- where: the $time bounds are applied, the rest is ignored -----------------------------------

def _time(event: dict) -> int:
    return event["properties"]["time"]


@pytest.mark.parametrize("time_in_ms", [False, True])
def test_where_applies_time_bounds_joined_with_and_and_ignores_the_rest(fake, time_in_ms):
    fake.add_events([{"event": "late", "properties": {"time": ts(DAY, 13), "distinct_id": "u", "$insert_id": "late-1"}}])
    every = fake.expected_events(DAY, DAY)
    low, high = ts(DAY, 6), ts(DAY, 13)
    scale = 1000 if time_in_ms else 1
    cases = {
        f'properties["$time"] >= datetime({low})': lambda t: t >= low,
        f'properties["$time"] > datetime({high})': lambda t: t > high,
        f'properties["$time"] <= datetime({high})': lambda t: t <= high,
        f'properties["$time"] < datetime("{datetime.datetime.fromtimestamp(high, datetime.timezone.utc).isoformat()[:19]}")': lambda t: t < high,
        f'(properties["$os"] == "iOS") and (properties["$time"] >= datetime({low}) and properties["$time"] < datetime({high}))':
            lambda t: low <= t < high,
        f'properties["$time"] >= datetime({low}) or properties["$os"] == "iOS"': lambda t: True,  # under `or`: ignored
        f'properties["$os"] == "iOS" or properties["$os"] == "x" and properties["$time"] >= datetime({low})': lambda t: True,
        f'not (properties["$time"] >= datetime({low}))': lambda t: True,
        'properties["$os"] == "iOS"': lambda t: True,
    }
    for where, wanted in cases.items():
        params = {"where": where, **({"time_in_ms": "true"} if time_in_ms else {})}
        got = parse(export(fake, **params).content)
        expected = [e for e in fake.expected_events(DAY, DAY, time_in_ms=time_in_ms) if wanted(_time(e) / scale)]
        assert got == expected == fake.expected_events(DAY, DAY, time_in_ms=time_in_ms, where=where), where
    assert 0 < len([e for e in every if low <= _time(e) < high]) < len(every)  # the bounds do cut
    assert any(e["event"] == "late" for e in every)


def _arrival(event: dict):
    return event["properties"].get("mp_processing_time_ms")


def test_where_applies_arrival_bounds_with_and_without_number_and_the_time_bounds(fake):
    unstamped = {"event": "old import", "properties": {"time": ts(DAY, 14), "distinct_id": "u", "$insert_id": "old-1"}}
    fake.add_events([unstamped])
    every = fake.expected_events(DAY, DAY)
    arrivals = sorted(_arrival(e) for e in every if _arrival(e) is not None)
    bound, low = arrivals[len(arrivals) // 2], ts(DAY, 6)
    cases = {
        f'number(properties["mp_processing_time_ms"]) >= {bound}': lambda e: _arrival(e) is not None and _arrival(e) >= bound,
        f'properties["mp_processing_time_ms"] < {bound}': lambda e: _arrival(e) is not None and _arrival(e) < bound,
        f'number(properties["mp_processing_time_ms"]) == {bound}': lambda e: _arrival(e) == bound,
        f'(properties["$os"] == "iOS") and (properties["$time"] >= datetime({low}) and number(properties["mp_processing_time_ms"]) > {bound})':
            lambda e: _time(e) >= low and _arrival(e) is not None and _arrival(e) > bound,
        'not defined(properties["mp_processing_time_ms"])': lambda e: _arrival(e) is None,
        '(properties["$os"] == "iOS") and (defined(properties["mp_processing_time_ms"]))': lambda e: _arrival(e) is not None,
        f'number(properties["mp_processing_time_ms"]) >= {bound} or properties["$os"] == "iOS"': lambda e: True,  # under `or`: ignored
    }
    for where, wanted in cases.items():
        got = parse(export(fake, where=where).content)
        assert got == [e for e in every if wanted(e)] == fake.expected_events(DAY, DAY, where=where), where
    assert [e["event"] for e in parse(export(fake, where='not defined(properties["mp_processing_time_ms"])').content)] == ["old import"]


def test_given_a_server_told_to_ignore_the_arrival_filter_when_asked_then_it_sends_every_event(fake):
    every = fake.expected_events(DAY, DAY)
    fake.honour_arrival_filter = False
    where = f'number(properties["mp_processing_time_ms"]) >= {max(_arrival(e) for e in every)}'
    assert parse(export(fake, where=where).content) == every
    fake.honour_arrival_filter = True
    assert len(parse(export(fake, where=where).content)) == 1


def test_where_never_filters_raw_lines(fake):
    fake.add_raw_line(DAY, b'{"event": "raw", "properties": {"time": 1}}')
    body = export(fake, where=f'properties["$time"] >= datetime({ts(DAY, 23)})').content
    assert b'"event": "raw"' in body


# -- late events in the generator ---------------------------------------------------------------

HOUR_MS = 3_600_000


def _arrival_delay_ms(event: dict) -> int:
    return event["properties"]["mp_processing_time_ms"] - event["properties"]["time"] * 1000


def test_given_generated_events_then_about_one_percent_arrive_1_to_96_hours_late_and_the_rest_within_seconds():
    events = [e for n in range(5) for e in generate_events(DAY + datetime.timedelta(days=n), 4000, seed=n)]
    delays = [_arrival_delay_ms(e) for e in events]
    late = [d for d in delays if d >= HOUR_MS]
    assert 0.008 <= len(late) / len(events) <= 0.012, len(late)
    assert all(HOUR_MS <= d <= 96 * HOUR_MS for d in late)
    assert all(0 <= d < 10_000 for d in delays if d < HOUR_MS)  # the others: within seconds of their time
    quarters = [sum(1 for d in late if HOUR_MS + q * 95 * HOUR_MS / 4 <= d < HOUR_MS + (q + 1) * 95 * HOUR_MS / 4)
                for q in range(4)]
    assert all(n >= len(late) / 10 for n in quarters), quarters  # spread over the range, not one value
    assert len(set(late)) > len(late) * 0.9
    imported = [e["properties"].get("$import") is True for e in events]
    assert 1 / 20 <= sum(imported) / len(events) <= 1 / 13  # still about 1 in 16 is an /import
    assert {imp for imp, d in zip(imported, delays, strict=True) if d >= HOUR_MS} == {True, False}  # lateness is not $import


# -- the clock (now=): today, existence, RecordedRequest.at, the cache -----------------------------

class Clock:
    """A settable fake clock: ``FakeMixpanel(now=clock)``."""

    def __init__(self, at: datetime.datetime):
        self.at = at

    def __call__(self) -> datetime.datetime:
        return self.at


def utc(day: datetime.date, hour: int = 0, minute: int = 0, second: int = 0, ms: int = 0) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, minute, second, ms * 1000, tzinfo=datetime.timezone.utc)


def _names(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["event"] for e in parse(response.content)]


def test_given_a_clock_when_an_event_has_not_happened_yet_then_it_is_not_served():
    clock = Clock(utc(DAY, 11, 59, 59))
    events = [{"event": "noon", "properties": {"time": ts(DAY, 12), "distinct_id": "u"}},
              {"event": "morning", "properties": {"time": ts(DAY, 8), "distinct_id": "u"}}]
    with FakeMixpanel(events, today=TODAY, now=clock) as fake:
        assert _names(export(fake)) == ["morning"]
        assert [e["event"] for e in fake.expected_events(DAY, DAY)] == ["morning"]
        clock.at = utc(DAY, 12)  # at its time exactly: it exists
        assert _names(export(fake)) == ["noon", "morning"]


def test_given_a_clock_when_an_event_has_not_arrived_then_it_is_not_served_until_the_clock_passes_its_arrival():
    arrival = utc(DAY + datetime.timedelta(days=2), 7)
    late = {"event": "late", "properties": {"time": ts(DAY, 10), "distinct_id": "u",
                                            "mp_processing_time_ms": int(arrival.timestamp() * 1000)}}
    on_time = {"event": "on time", "properties": {"time": ts(DAY, 11), "distinct_id": "u",
                                                  "mp_processing_time_ms": ts(DAY, 11) * 1000 + 300}}
    clock = Clock(utc(DAY, 18))
    with FakeMixpanel([late, on_time], today=TODAY, now=clock) as fake:
        assert _names(export(fake)) == ["on time"]
        clock.at = arrival - datetime.timedelta(milliseconds=1)
        assert _names(export(fake)) == ["on time"]
        clock.at = arrival
        assert _names(export(fake)) == ["late", "on time"]
        assert [e["event"] for e in fake.expected_events(DAY, DAY)] == ["late", "on time"]


def test_given_a_clock_then_a_generated_day_fills_up_with_its_events_as_they_happen_and_arrive():
    every = list(generate_events(DAY, 3000))
    def arrived_by(at: datetime.datetime, events=every) -> list[dict]:
        seconds, ms = at.timestamp(), at.timestamp() * 1000
        return [e for e in events if e["properties"]["time"] <= seconds and e["properties"]["mp_processing_time_ms"] <= ms]

    clock = Clock(utc(DAY, 15, 30))
    bound = ts(DAY, 6)
    where = f'properties["$time"] >= datetime({bound})'
    with FakeMixpanel(events_per_day=3000, days=[DAY], today=TODAY, now=clock) as fake:
        for at in (utc(DAY) - datetime.timedelta(seconds=1), utc(DAY, 15, 30), utc(DAY + datetime.timedelta(days=1), 9),
                   utc(DAY + datetime.timedelta(days=5))):
            clock.at = at
            expected = arrived_by(at)
            for encoding in ("gzip", "identity"):
                assert parse(export(fake, headers={"Accept-Encoding": encoding}).content) == expected, (at, encoding)
            assert fake.expected_events(DAY, DAY) == expected
            in_ms = parse(export(fake, time_in_ms="true").content)
            assert [e["properties"]["time"] for e in in_ms] == [e["properties"]["time"] * 1000 for e in expected]
            narrowed = [e for e in expected if e["properties"]["time"] >= bound]
            assert parse(export(fake, where=where).content) == narrowed == fake.expected_events(DAY, DAY, where=where)
        assert fake.requests[-1].lines_sent == len(narrowed)
    happened = [e for e in every if e["properties"]["time"] <= utc(DAY, 15, 30).timestamp()]
    assert 0 < len(arrived_by(utc(DAY, 15, 30))) < len(happened) < len(every)  # some happened but are late
    assert len(arrived_by(utc(DAY + datetime.timedelta(days=1), 9))) < len(every) == len(arrived_by(utc(DAY + datetime.timedelta(days=5))))


def test_given_a_clock_then_today_follows_it_in_the_project_timezone_unless_today_is_fixed():
    clock = Clock(utc(TODAY, 3))  # 2024-03-10 03:00 UTC is still 2024-03-09 in Los Angeles
    yesterday = (TODAY - datetime.timedelta(days=1)).isoformat()
    with FakeMixpanel(project_timezone="America/Los_Angeles", now=clock) as fake:
        r = export(fake, from_date=yesterday, to_date=TODAY.isoformat())
        assert r.status_code == 400 and r.json() == {"error": "to_date cannot be later than today"}
        assert export(fake, from_date=yesterday, to_date=yesterday).status_code == 200
        clock.at = utc(TODAY, 9)  # 01:00 on the 10th in Los Angeles
        assert export(fake, from_date=yesterday, to_date=TODAY.isoformat()).status_code == 200
        assert export(fake, from_date=yesterday, to_date="2024-03-11").status_code == 400
    with FakeMixpanel(now=Clock(utc(TODAY, 12)), today=DAY) as fixed:
        assert export(fixed, from_date=DAY.isoformat(), to_date="2024-03-02").status_code == 400
        assert export(fixed).status_code == 200


def test_given_a_legacy_project_and_a_clock_then_an_event_exists_once_local_wall_clock_time_passes_its_stored_time():
    # Stored 10:00 "local" in Los Angeles (UTC-8 on 2024-03-01) is 18:00 UTC: its stored number
    # is already past at 12:00 UTC, but the event has not happened yet.
    event = {"event": "e", "properties": {"time": ts(DAY, 10), "distinct_id": "u"}}
    clock = Clock(utc(DAY, 12))
    with FakeMixpanel([event], project_timezone="America/Los_Angeles", today=TODAY, now=clock) as fake:
        assert _names(export(fake)) == []
        clock.at = utc(DAY, 17, 59, 59)
        assert _names(export(fake)) == []
        clock.at = datetime.datetime(2024, 3, 1, 10, tzinfo=ZoneInfo("America/Los_Angeles"))  # any aware datetime
        assert _names(export(fake)) == ["e"]
        assert fake.expected_events(DAY, DAY, at=utc(DAY, 17)) == []


def test_given_no_clock_then_expected_events_at_an_instant_answers_what_existed_then_and_requests_get_everything():
    arrival = utc(DAY, 20)
    events = [{"event": "late", "properties": {"time": ts(DAY, 10), "distinct_id": "u",
                                               "mp_processing_time_ms": int(arrival.timestamp() * 1000)}},
              {"event": "plain", "properties": {"time": ts(DAY, 11), "distinct_id": "u"}}]
    with FakeMixpanel(events, today=TODAY) as fake:
        assert [e["event"] for e in fake.expected_events(DAY, DAY, at=utc(DAY, 10, 30))] == []
        assert [e["event"] for e in fake.expected_events(DAY, DAY, at=utc(DAY, 12))] == ["plain"]
        assert [e["event"] for e in fake.expected_events(DAY, DAY, at=arrival)] == ["late", "plain"]
        assert [e["event"] for e in fake.expected_events(DAY, DAY)] == ["late", "plain"]
        assert _names(export(fake)) == ["late", "plain"]
        with pytest.raises(ValueError):
            fake.expected_events(DAY, DAY, at=datetime.datetime(2024, 3, 1, 12))  # naive: which timezone?


def test_given_a_clock_then_recorded_requests_carry_its_instant_and_without_one_the_real_utc_time():
    clock = Clock(utc(DAY, 9, 15))
    with FakeMixpanel(events_per_day=5, days=[DAY], today=TODAY, now=clock) as fake:
        export(fake)
        clock.at = utc(DAY + datetime.timedelta(days=3), 23, 59)
        export(fake, from_date="2024-03-99")  # rejected requests are recorded with their instant too
        assert [r.at for r in fake.requests] == [utc(DAY, 9, 15), utc(DAY + datetime.timedelta(days=3), 23, 59)]
    with FakeMixpanel(events_per_day=5, days=[DAY], today=TODAY) as real:
        before = datetime.datetime.now(datetime.timezone.utc)
        export(real)
        after = datetime.datetime.now(datetime.timezone.utc)
        assert before <= real.requests[0].at <= after and real.requests[0].at.utcoffset() == datetime.timedelta(0)


def test_given_a_clock_and_cache_bodies_then_a_kept_body_is_never_stale():
    clock = Clock(utc(DAY, 12))
    with FakeMixpanel(events_per_day=500, days=[DAY], today=TODAY, cache_bodies=True, now=clock) as fake:
        def served() -> int:
            return len(parse(export(fake).content))

        noon = served()
        assert served() == noon and noon == len(fake.expected_events(DAY, DAY))
        clock.at = utc(DAY + datetime.timedelta(days=1), 12)
        next_day = served()
        assert noon < next_day == len(fake.expected_events(DAY, DAY))
        clock.at = utc(DAY + datetime.timedelta(days=6))  # every event of the day has arrived
        assert served() == served() == 500
        clock.at = utc(DAY, 12)  # back in time: the full body kept meanwhile must not be answered
        assert served() == noon
        assert [r.from_cache for r in fake.requests] == [False, False, False, False, True, False]


# -- drop_every_lines ---------------------------------------------------------------------------

def _read_until_dropped(response: requests.Response) -> tuple[bytes, bool]:
    """The body bytes a client gets, and whether the response ended incomplete."""
    pieces = []
    try:
        for piece in response.iter_content(chunk_size=None):
            pieces.append(piece)
    except requests.exceptions.ChunkedEncodingError:
        return b"".join(pieces), True
    return b"".join(pieces), False


@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_given_drop_every_lines_when_a_body_is_longer_then_it_is_cut_after_exactly_n_lines(encoding):
    with FakeMixpanel(events_per_day=60, days=[DAY], today=TODAY, drop_every_lines=25) as fake:
        expected = fake.expected_events(DAY, DAY)
        body, dropped = _read_until_dropped(export(fake, stream=True, headers={"Accept-Encoding": encoding}))
        assert dropped and body.endswith(b"\n") and parse(body) == expected[:25]
        assert fake.requests[-1].lines_sent == 25
        fake.drop_every_lines = None  # a plain attribute: the next request is whole again
        body, dropped = _read_until_dropped(export(fake, stream=True, headers={"Accept-Encoding": encoding}))
        assert not dropped and parse(body) == expected


def test_given_drop_every_lines_when_a_body_is_not_longer_then_it_completes():
    with FakeMixpanel(events_per_day=20, days=[DAY], today=TODAY, drop_every_lines=20) as fake:
        body, dropped = _read_until_dropped(export(fake, stream=True))
        assert not dropped and parse(body) == fake.expected_events(DAY, DAY)
        body, dropped = _read_until_dropped(export(fake, stream=True, limit=5))
        assert not dropped and len(parse(body)) == 5


def test_given_drop_every_lines_then_a_queued_fault_applies_first_and_a_long_kept_body_is_not_replayed():
    with FakeMixpanel(events_per_day=30, days=[DAY], today=TODAY, cache_bodies=True) as fake:
        expected = fake.expected_events(DAY, DAY)
        assert parse(export(fake).content) == expected  # kept whole
        fake.drop_every_lines = 10
        body, dropped = _read_until_dropped(export(fake, stream=True))
        assert dropped and parse(body) == expected[:10] and not fake.requests[-1].from_cache
        fake.add_fault("terminated_early", after_events=15)
        body, dropped = _read_until_dropped(export(fake, stream=True))
        assert not dropped and body.endswith(b"terminated early\n") and parse(body[:-len(b"terminated early\n")]) == expected[:15]
        fake.add_fault("none")
        body, dropped = _read_until_dropped(export(fake, stream=True))
        assert dropped and parse(body) == expected[:10]
