"""End to end the way a data engineer runs it from Python: PyAirbyte, the installed command, DuckDB.

The connector is installed with pip into a fresh venv of its own (as a user would), and PyAirbyte
runs that venv's `source-mixpanel-aep` command (`local_executable`) against the fake Mixpanel,
writing `events` into its default DuckDB cache in a temp dir. Then late and new events arrive and
a second read picks up from the state PyAirbyte kept: it asks only for what reached Mixpanel since
the first read (`mp_processing_time_ms`), so yesterday's late events come with it (`test_arrival.py`).

Heavy (PyAirbyte and its dependencies are ~800 MB): `make pyairbyte-test` builds a venv with
PyAirbyte (.venv-pyairbyte/) and runs this file; `make test` leaves it out (-m "not heavy").
Offline: AIRBYTE_OFFLINE_MODE=1 (no registry, no telemetry), and the only server is the fake.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import pytest

from integration_tests.builders import expected_ids
from integration_tests.fake_mixpanel import FAKE_SA_SECRET, FakeMixpanel, connector_config, generate_events

pytestmark = pytest.mark.heavy

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENTS_PER_DAY = 40
LOOKBACK_DAYS = 1
PIP_TIMEOUT_SECONDS = 900
COLUMNS = {"_id", "timestamp", "time", "event_name", "distinct_id", "insert_id", "mp_api_endpoint", "mp_api_timestamp_ms",
           "mp_processing_time_ms", "properties", "_airbyte_raw_id", "_airbyte_extracted_at", "_airbyte_meta"}


def _say(message: str) -> None:
    print(f"[pyairbyte-test] {message}", file=sys.stderr, flush=True)


def _du(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file() and not file.is_symlink())


@pytest.fixture(scope="module")
def connector_command(tmp_path_factory) -> Path:
    """`pip install <repo>` into a new venv; the path of its console script."""
    venv = tmp_path_factory.mktemp("connector") / "venv"
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", str(REPO_ROOT)],
                   check=True, timeout=PIP_TIMEOUT_SECONDS)
    command = venv / "bin" / "source-mixpanel-aep"
    assert command.is_file(), "the package installs no source-mixpanel-aep console script"
    _say(f"connector venv: installed in {time.monotonic() - started:.0f} s, {_du(venv) / 1e6:.0f} MB")
    return command


@pytest.fixture
def pyairbyte(tmp_path, monkeypatch):
    """The `airbyte` module, imported with its cache, temp and project dirs under tmp_path, offline."""
    monkeypatch.setenv("AIRBYTE_OFFLINE_MODE", "1")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.setenv("AIRBYTE_CACHE_ROOT", str(tmp_path / "cache"))
    monkeypatch.setenv("AIRBYTE_PROJECT_DIR", str(tmp_path / "project"))
    monkeypatch.setenv("AIRBYTE_TEMP_DIR", str(tmp_path / "tmp"))
    monkeypatch.setenv("AIRBYTE_LOGGING_ROOT", str(tmp_path / "logs"))
    (tmp_path / "tmp").mkdir()
    assert "airbyte" not in sys.modules, "PyAirbyte reads its settings at import: import it only here"
    try:
        import airbyte
    except ImportError:  # pragma: no cover - a set-up problem, not a skip: CI must run this test
        pytest.fail("PyAirbyte is not installed in this venv: run `make pyairbyte-test`, which installs it")
    from airbyte import constants

    assert constants.AIRBYTE_OFFLINE_MODE and constants.DEFAULT_CACHE_ROOT == tmp_path / "cache"
    return airbyte


def _table(cache, sql: str):
    from sqlalchemy import text

    with cache.get_sql_engine().connect() as connection:
        return connection.execute(text(sql)).fetchall()


def test_pyairbyte_reads_events_into_duckdb_then_only_what_is_new(pyairbyte, connector_command, monkeypatch):
    today = dt.datetime.now(dt.timezone.utc).date()
    days = [today - dt.timedelta(days=offset) for offset in (3, 2, 1)]
    monkeypatch.setenv("MIXPANEL_SA_SECRET", FAKE_SA_SECRET)  # as the setup in docs/running.md exports it
    with FakeMixpanel(events_per_day=EVENTS_PER_DAY, days=days) as fake:
        # end_date fixed, so a run across midnight reads the same days
        config = connector_config(fake.url, start_date=days[0].isoformat(), end_date=today.isoformat(), lookback_window_days=LOOKBACK_DAYS)
        config["credentials"]["secret"] = pyairbyte.get_secret("MIXPANEL_SA_SECRET")  # the documented snippet's way
        source = pyairbyte.get_source("source-mixpanel-aep", local_executable=str(connector_command), config=config, streams=["events"])
        source.check()
        cache = pyairbyte.get_default_cache()
        assert Path(cache.db_path).is_relative_to(Path(pyairbyte.constants.DEFAULT_CACHE_ROOT))

        started = time.monotonic()
        first = source.read(cache=cache)
        _say(f"first read: {first.processed_records} records in {time.monotonic() - started:.1f} s")

        expected_first = fake.expected_events(days[0], today)
        assert len(expected_first) == EVENTS_PER_DAY * len(days)
        assert first.processed_records == len(expected_first)
        [(rows, unique_ids, first_time, last_time)] = _table(
            cache, "SELECT COUNT(*), COUNT(DISTINCT _id), MIN(timestamp), MAX(timestamp) FROM main.events")
        assert rows == unique_ids == len(expected_first)
        assert first_time.date() == days[0] and last_time.date() == days[-1]
        columns = {name for (name,) in _table(cache, "SELECT column_name FROM information_schema.columns WHERE table_name = 'events'")}
        assert COLUMNS <= columns, f"missing columns: {sorted(COLUMNS - columns)}"
        assert sorted(_id for (_id,) in _table(cache, "SELECT _id FROM main.events")) == expected_ids(expected_first)
        [(browsers,)] = _table(cache, """SELECT COUNT(*) FROM main.events WHERE json_extract_string(properties, '$."$browser"') IS NOT NULL""")
        assert browsers == rows  # every custom/default property survives inside `properties`

        # Late events for yesterday and new ones, both reaching Mixpanel after the first read, then an incremental read.
        now = int(time.time())
        late = list(generate_events(days[-1], 3, seed=101))
        for event in late:
            event["properties"]["mp_processing_time_ms"] = now * 1000
        new = [{"event": "Signed up", "properties": {"time": now - index, "distinct_id": f"new-{index}", "$insert_id": f"new-{now}-{index}",
                                                     "mp_processing_time_ms": now * 1000}} for index in range(5)]
        fake.add_events(late + new)
        started = time.monotonic()
        second = source.read(cache=cache)
        _say(f"incremental read: {second.processed_records} records in {time.monotonic() - started:.1f} s")

        asked = [request.params for request in fake.requests if "from_date" in request.params and "limit" not in request.params]
        assert [params["from_date"] for params in asked] == [days[0].isoformat(), days[-1].isoformat()]  # the lookback (1 day) before today
        assert "where" not in asked[0] and asked[1]["where"].startswith('number(properties["mp_processing_time_ms"]) >= ')
        # what arrived since the first read (minus the overlap): the late and the new events (and any of the fake's own
        # generated events stamped after it; without a clock the fake serves those already)
        expected_second = expected_ids(fake.expected_events(days[-1], today, where=asked[1]["where"]))
        assert set(expected_ids(late + new)) <= set(expected_second) and second.processed_records == len(expected_second)
        [(rows, unique_ids)] = _table(cache, "SELECT COUNT(*), COUNT(DISTINCT _id) FROM main.events")
        assert rows == unique_ids == len(set(expected_ids(expected_first)) | set(expected_second))
