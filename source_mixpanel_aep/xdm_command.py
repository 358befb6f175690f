"""`source-mixpanel-aep-xdm`: the commands beside the connector for loading XDM output into AEP.

    source-mixpanel-aep-xdm schema --config config.json        # what to create in AEP once
    source-mixpanel-aep read ... | source-mixpanel-aep-xdm jsonl --out-dir batch/   # files to upload

`schema`: what to create in AEP once, for XDM output.

Prints, from the connector's own config (the tenant, identity_namespaces and xdm_fields a sync
uses), the JSON payloads to POST in order: the custom identity namespaces, the field group, the
schema and the primary identity descriptor for events, then the field group, schema and primary
identity descriptor for profiles (see README, *Into Adobe Experience Platform*). They come from the
same tables as the records (`xdm.py`, `xdm_profiles.py`), so they cannot disagree with them.
`--part field_group` (etc.) prints one payload alone, ready for `curl -d @-`.

`jsonl`: a `read`'s output (Airbyte messages on stdin) -> the records alone (of one stream with
`--stream`), one bare JSON object per line (what AEP's batch ingestion reads), in files under AEP's
256 MB per-file limit. A read
that failed (an ERROR trace) makes it exit 1, so a partial export is not uploaded unnoticed.

The config is checked by the connector's `parse_config` as if output_format were "xdm": a mistake
is one line on stderr naming the field, and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import BinaryIO, List, Optional, Tuple

import orjson
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from .config import parse_config
from .xdm_payloads import FIELD_GROUP_ID, SCHEMA_ID, all_payloads
from .xdm_profile_payloads import PROFILE_FIELD_GROUP_ID, PROFILE_SCHEMA_ID, profile_payloads

PARTS = ("identity_namespaces", "field_group", "schema", "identity_descriptor", "profile_field_group", "profile_schema", "profile_identity_descriptor")
DEFAULT_MAX_FILE_MB = 250  # AEP's batch ingestion takes files up to 256 MB: a margin for MB vs MiB


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="source-mixpanel-aep-xdm", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    schema = commands.add_parser("schema", help="print the identity namespaces, field groups, schemas and identity descriptors (events, profiles) to create in AEP")
    schema.add_argument("--config", required=True, type=Path, help="the connector's config.json (xdm_tenant_id is required)")
    schema.add_argument("--part", choices=PARTS, help="print only this payload")
    jsonl = commands.add_parser("jsonl", help="turn a read's output (stdin) into bare-record JSONL files for AEP's batch ingestion")
    jsonl.add_argument("--out-dir", required=True, type=Path, help="directory for the files (created if missing)")
    jsonl.add_argument("--prefix", default="events", help="file name prefix: <prefix>-00001.jsonl, ... (default events)")
    jsonl.add_argument("--stream", help="only this stream's records (events and profiles go to different datasets); default: every record")
    jsonl.add_argument("--max-file-mb", type=float, default=DEFAULT_MAX_FILE_MB, help=f"largest file, in 10^6 bytes (default {DEFAULT_MAX_FILE_MB})")
    args = parser.parse_args(argv)
    if args.command == "jsonl":
        return _jsonl(sys.stdin.buffer, args.out_dir, args.prefix, int(args.max_file_mb * 1_000_000), args.stream)
    try:
        raw = json.loads(args.config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        print(f"Cannot read the config {args.config}: {error}", file=sys.stderr)
        return 1
    try:
        config = parse_config({**raw, "output_format": "xdm"} if isinstance(raw, dict) else raw)
    except AirbyteTracedException as error:
        print(error.message, file=sys.stderr)
        return 1
    payloads = {**all_payloads(config.xdm), **profile_payloads(config.xdm)}  # type: ignore[arg-type]  # always set for output_format "xdm"
    print(json.dumps(payloads[args.part] if args.part else payloads, indent=2, ensure_ascii=False))
    if not args.part:
        print(f"Replace {FIELD_GROUP_ID} with the field group's $id and {SCHEMA_ID} with the schema's $id from the answers to their POSTs "
              f"(for profiles: {PROFILE_FIELD_GROUP_ID} and {PROFILE_SCHEMA_ID}).", file=sys.stderr)
    return 0


def _jsonl(messages: BinaryIO, out_dir: Path, prefix: str, max_bytes: int, stream: Optional[str] = None) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    files: List[Tuple[Path, int, int]] = []  # (path, records, bytes)
    current: Optional[BinaryIO] = None
    errors: List[str] = []
    for line in messages:
        if not line.startswith(b"{"):
            continue
        message = json.loads(line)  # the stdlib: integers of any size stay exact
        if message.get("type") == "TRACE" and (message.get("trace") or {}).get("error"):
            errors.append(message["trace"]["error"].get("message", "an error"))
        if message.get("type") != "RECORD" or (stream is not None and message["record"].get("stream") != stream):
            continue
        record = _compact(message["record"]["data"]) + b"\n"
        if current is None or (files[-1][2] and files[-1][2] + len(record) > max_bytes):
            if current is not None:
                current.close()
            path = out_dir / f"{prefix}-{len(files) + 1:05d}.jsonl"
            current = open(path, "wb")
            files.append((path, 0, 0))
        current.write(record)
        path, count, size = files[-1]
        files[-1] = (path, count + 1, size + len(record))
    if current is not None:
        current.close()
    for path, count, size in files:
        print(f"{path}: {count} records, {size:,} bytes", file=sys.stderr)
    if errors:
        print(f"The read failed, these files hold only part of it: {errors[-1]}", file=sys.stderr)
        return 1
    return 0


def _compact(data: object) -> bytes:
    try:
        return orjson.dumps(data)
    except TypeError:  # an integer beyond 64 bits (flat output only) or a lone surrogate: the stdlib writes both
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
