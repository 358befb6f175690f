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
    assert {imp for imp, d in zip(imported, delays) if d >= HOUR_MS} == {True, False}  # lateness is not $import
