"""Run the fake in the foreground: ``python -m integration_tests.fake_mixpanel --events-per-day N --days D``.

Prints the base URL as the first stdout line (and writes it to ``--port-file``), so a Makefile or
benchmark can start it in the background and wait for the file; then, on stderr, every credential
it accepts (one per auth_type, as the connector's config spells them); serves until SIGTERM or
SIGINT.
"""

from __future__ import annotations

import argparse
import datetime
import os
import signal
import sys
import threading

from .common import FAKE_OAUTH_TOKEN, FAKE_PROJECT_ID, FAKE_PROJECT_SECRET, FAKE_SA_SECRET, FAKE_SA_USERNAME
from .server import FakeMixpanel

# These are the fake's own made-up values, printed so a user can paste them into a config.
ACCEPTED_CREDENTIALS = (
    f'service_account: "username": "{FAKE_SA_USERNAME}", "secret": "{FAKE_SA_SECRET}" (with "project_id": {FAKE_PROJECT_ID})',
    f'project_secret:  "api_secret": "{FAKE_PROJECT_SECRET}"',
    f'oauth_token:     "access_token": "{FAKE_OAUTH_TOKEN}"',
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m integration_tests.fake_mixpanel", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--events-per-day", type=int, default=1000)
    parser.add_argument("--days", type=int, default=3, help="number of days with generated events")
    parser.add_argument("--start-day", type=datetime.date.fromisoformat,
                        help="first day (YYYY-MM-DD); default: the --days days ending yesterday (UTC)")
    parser.add_argument("--no-gzip", action="store_true", help="never gzip, even if the client asks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk-size", type=int, default=64 * 1024)
    parser.add_argument("--port-file", help="write the base URL to this file once listening")
    parser.add_argument("--profiles", type=int, default=0, help="generated profiles served by /api/query/engage")
    parser.add_argument("--page-size", type=int, default=1000, help="profiles per Engage page (Mixpanel: 1000)")
    parser.add_argument("--cache-bodies", action="store_true",
                        help="answer a repeated request from memory instead of generating it again (benchmarks)")
    args = parser.parse_args(argv)

    start = args.start_day or datetime.datetime.now(datetime.timezone.utc).date() - datetime.timedelta(days=args.days)
    days = [start + datetime.timedelta(days=i) for i in range(args.days)]
    fake = FakeMixpanel(events_per_day=args.events_per_day if days else 0, days=days, seed=args.seed,
                        gzip_enabled=not args.no_gzip, chunk_size=args.chunk_size, host=args.host, port=args.port,
                        cache_bodies=args.cache_bodies, profiles=args.profiles, page_size=args.page_size)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    fake.start()
    try:
        if args.port_file:  # atomic, so a poller never reads half a URL; before stdout, so both agree
            tmp = f"{args.port_file}.tmp{os.getpid()}"
            with open(tmp, "w") as f:
                f.write(fake.url + "\n")
            os.replace(tmp, args.port_file)
        print(fake.url, flush=True)
        span = f"{days[0]}..{days[-1]}" if days else "no days"
        print(f"fake Mixpanel at {fake.url}: {args.events_per_day} events/day, {span} (UTC). Credentials it accepts, "
              "by credentials.auth_type:", *(f"  {line}" for line in ACCEPTED_CREDENTIALS), sep="\n", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
