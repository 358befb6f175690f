"""How fast the fake Mixpanel serves one big filtered export: lines per second, wall and server CPU.

    .venv/bin/python bench/fake_speed.py [--events 200000] [--repeat 3] [--no-where] [--no-clock]

One request for one day of ``--events`` generated events, gzip on, with a ``where`` lower bound on
``$time`` (the connector's form, one hour into the day) and the fake's clock (``now``) set to two
days after the day, so the existence filter runs too (and drops the late events not yet arrived).
The client reads the raw (still compressed) bytes and decodes nothing, so the numbers are the
fake's. Prints the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from integration_tests.fake_mixpanel import FAKE_PROJECT_ID, FAKE_SA_SECRET, FAKE_SA_USERNAME, FakeMixpanel  # noqa: E402

DAY = datetime.date(2024, 3, 1)
UTC = datetime.timezone.utc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-where", action="store_true", help="no where filter")
    parser.add_argument("--no-clock", action="store_true", help="no now= clock (no existence filter)")
    args = parser.parse_args()

    day_start = datetime.datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    settings: dict = {"events_per_day": args.events, "days": [DAY], "today": DAY + datetime.timedelta(days=5)}
    clock = not args.no_clock
    if clock:
        settings["now"] = lambda: day_start + datetime.timedelta(days=2)
    try:
        fake = FakeMixpanel(**settings)
    except TypeError:  # a fake without a clock
        settings.pop("now")
        fake, clock = FakeMixpanel(**settings), False
    params = {"from_date": DAY.isoformat(), "to_date": DAY.isoformat(), "project_id": FAKE_PROJECT_ID}
    if not args.no_where:
        params["where"] = f'properties["$time"] >= datetime({int(day_start.timestamp()) + 3600})'
    best = None
    with fake:
        for _ in range(args.repeat):
            started = time.perf_counter()
            with requests.get(f"{fake.url}/api/2.0/export", params=params, auth=(FAKE_SA_USERNAME, FAKE_SA_SECRET),
                              headers={"Accept-Encoding": "gzip"}, stream=True, timeout=600) as response:
                response.raise_for_status()
                wire = sum(len(chunk) for chunk in response.raw.stream(1 << 20, decode_content=False))
            wall = time.perf_counter() - started
            record = fake.requests[-1]
            deadline = time.monotonic() + 5  # the server thread records its CPU time just after the last chunk
            while record.cpu_seconds == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            run = (wall, record.cpu_seconds, record.lines_sent, wire)
            best = run if best is None or run[0] < best[0] else best
    wall, cpu, lines, wire = best
    print(f"{args.events} events generated, {lines} lines served ({wire / 1e6:.1f} MB gzip), "
          f"where={'yes' if 'where' in params else 'no'}, clock={'yes' if clock else 'no'}: "
          f"{wall:.2f} s wall, {cpu:.2f} s server CPU; {lines / wall:,.0f} lines/s wall, "
          f"{args.events / cpu:,.0f} generated events per server CPU second")
    return 0


if __name__ == "__main__":
    sys.exit(main())
