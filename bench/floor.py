"""The plain-Python floor the connector is measured against (run by bench.py as its own process).

Defined exactly as in the performance issue: requests' `iter_lines` (its default 512-byte
chunks) + the standard library's `json.loads` + strip `$` from property names + `json.dumps` of a
RECORD-shaped message per line, written to stdout with `sys.stdout.write`. Nothing else: no retries, no windows, no schema, no state. It reads the same
export URL with the same parameters and credentials as the connector, taken from the connector's
own config file:

    python bench/floor.py --config .bench/config.json > /dev/null

Standard library + requests only, so starting it costs what starting a small Python script costs.
"""

import argparse
import json
import sys
import time

import requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="the connector config (service account, project_id, base_url, start_date, end_date)")
    args = parser.parse_args()
    with open(args.config, encoding="utf-8") as f:
        config = json.load(f)
    credentials = config["credentials"]
    url = config["base_url"].rstrip("/") + "/api/2.0/export"
    params = {"from_date": config["start_date"], "to_date": config["end_date"], "time_in_ms": "true", "project_id": config["project_id"]}
    auth = (credentials["username"], credentials["secret"])

    resp = requests.get(url, params=params, auth=auth, stream=True)
    resp.raise_for_status()
    write = sys.stdout.write
    for line in resp.iter_lines():
        if line:
            ev = json.loads(line)
            props = {k.lstrip("$"): v for k, v in ev["properties"].items()}
            now_ms = int(time.time() * 1000)
            msg = {"type": "RECORD", "record": {"stream": "events", "data": {"event_name": ev["event"], **props}, "emitted_at": now_ms}}
            write(json.dumps(msg) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
