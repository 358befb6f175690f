"""`source-mixpanel-aep-xdm`: the commands beside the connector for loading XDM output into AEP.

    source-mixpanel-aep-xdm schema --config config.json        # the payloads to create in AEP, printed
    source-mixpanel-aep-xdm setup  --config config.json > aep-ids.json    # ... created in AEP (idempotent)
    source-mixpanel-aep read ... | source-mixpanel-aep-xdm jsonl --stream events --out-dir batch/ --state-out state.json
    source-mixpanel-aep-xdm upload --ids aep-ids.json --stream events --dir batch/ --wait 600
    source-mixpanel-aep-xdm status --batch <id>

`schema`: prints, from the connector's own config (the tenant, identity_namespaces and xdm_fields a
sync uses), the JSON payloads to POST in order: the custom identity namespaces, the field group, the
schema and the primary identity descriptor for events, then the field group, schema and primary
identity descriptor for profiles (see docs/aep.md, *Into Adobe Experience Platform*). They come from the
same tables as the records (`xdm.py`, `xdm_profiles.py`), so they cannot disagree with them.
`--part field_group` (etc.) prints one payload alone.

`setup` creates them in AEP (`aep/setup.py`), `jsonl` writes a read's records as batch files and keeps
its state (`aep/jsonl.py`), `upload` sends one folder as one batch and `status` reads how a batch ended
(`aep/batch.py`). AEP's credentials come from the environment (`aep/client.py`: AEP_ACCESS_TOKEN,
AEP_API_KEY, AEP_ORG_ID, AEP_SANDBOX, optional AEP_BASE_URL); they are never printed.

The config is checked by the connector's `parse_config` as if output_format were "xdm": a mistake
is one line on stderr naming the field, and exit status 1. So is an AEP error, with Adobe's text.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..config import parse_config
from ..records.xdm import xdm_settings
from ..records.xdm_payloads import FIELD_GROUP_ID, SCHEMA_ID, all_payloads
from ..records.xdm_profile_payloads import PROFILE_FIELD_GROUP_ID, PROFILE_SCHEMA_ID, profile_payloads
from .batch import FINAL, report, status, upload
from .client import DEFAULT_BASE_URL, AepClient, AepError, AepSettings
from .jsonl import write_batch
from .setup import STREAMS, Setup

PARTS = ("identity_namespaces", "field_group", "schema", "identity_descriptor", "profile_field_group", "profile_schema", "profile_identity_descriptor")
DEFAULT_MAX_FILE_MB = 250  # AEP's batch ingestion takes files up to 256 MB: a margin for MB vs MiB


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="source-mixpanel-aep-xdm", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    schema = commands.add_parser("schema", help="print the identity namespaces, field groups, schemas and identity descriptors (events, profiles) to create in AEP")
    schema.add_argument("--config", required=True, type=Path, help="the connector's config.json (xdm_tenant_id is required)")
    schema.add_argument("--part", choices=PARTS, help="print only this payload")
    setup = commands.add_parser("setup", help="create them in AEP, reusing what exists, with Profile-enabled datasets; prints their ids (JSON)")
    setup.add_argument("--config", required=True, type=Path, help="the connector's config.json (xdm_tenant_id is required)")
    setup.add_argument("--streams", nargs="+", choices=STREAMS, default=list(STREAMS), help="which streams' schemas and datasets (default both)")
    jsonl = commands.add_parser("jsonl", help="turn a read's output (stdin) into bare-record JSONL files for AEP's batch ingestion, and keep its state")
    jsonl.add_argument("--out-dir", required=True, type=Path, help="directory for the files (created if missing; must hold no .jsonl file)")
    jsonl.add_argument("--prefix", help="file name prefix: <prefix>-00001.jsonl, ... (default: the stream's name)")
    jsonl.add_argument("--stream", help="only this stream's records (events and profiles go to different datasets); needed when the read has both")
    jsonl.add_argument("--state-out", type=Path, help="write the read's last state per stream here, the list `read --state` takes")
    jsonl.add_argument("--replace", action="store_true", help="delete the .jsonl files already in --out-dir first")
    jsonl.add_argument("--max-file-mb", type=float, default=DEFAULT_MAX_FILE_MB, help=f"largest file, in 10^6 bytes (default {DEFAULT_MAX_FILE_MB})")
    upload = commands.add_parser("upload", help="send the .jsonl files of a folder to a dataset as one batch, complete it, print its status")
    target = upload.add_mutually_exclusive_group(required=True)
    target.add_argument("--dataset", help="the dataset's id")
    target.add_argument("--ids", type=Path, help="setup's output (aep-ids.json); with --stream")
    upload.add_argument("--stream", choices=STREAMS, default="events", help="which dataset of --ids (default events)")
    upload.add_argument("--dir", required=True, type=Path, help="the folder jsonl wrote")
    status = commands.add_parser("status", help="print a batch's status (JSON)")
    status.add_argument("--batch", required=True, help="the batch id upload printed")
    for verb in (setup, upload, status):
        verb.add_argument("--base-url", help=f"AEP's API root (default $AEP_BASE_URL or {DEFAULT_BASE_URL})")
        verb.add_argument("--sandbox", help="the sandbox name (default $AEP_SANDBOX)")
    for verb in (upload, status):
        verb.add_argument("--wait", type=float, default=0, help="seconds to wait for the batch to end (success or failed); default 0: "
                          "report it once. Exit 0 only for success (or, without --wait, a batch still processing), 1 failed, 3 still processing")
    args = parser.parse_args(argv)
    if args.command == "jsonl":
        return write_batch(sys.stdin.buffer, args.out_dir, int(args.max_file_mb * 1_000_000), prefix=args.prefix, stream=args.stream,
                           state_out=args.state_out, replace=args.replace)
    try:
        if args.command in ("upload", "status"):
            return _batch(args)
        config = _config(args.config)
        if config is None:
            return 1
        if args.command == "setup":
            ids = Setup(_client(args), xdm_settings(config.xdm)).run(args.streams)  # type: ignore[arg-type]  # always set for output_format "xdm"
            print(json.dumps(ids, indent=2))
            return 0
    except AepError as error:
        print(f"AEP: {error}", file=sys.stderr)
        return 1
    settings = xdm_settings(config.xdm)  # type: ignore[arg-type]  # always set for output_format "xdm"
    payloads = {**all_payloads(settings), **profile_payloads(settings)}
    print(json.dumps(payloads[args.part] if args.part else payloads, indent=2, ensure_ascii=False))
    if not args.part:
        print(f"Replace {FIELD_GROUP_ID} with the field group's $id and {SCHEMA_ID} with the schema's $id from the answers to their POSTs "
              f"(for profiles: {PROFILE_FIELD_GROUP_ID} and {PROFILE_SCHEMA_ID}), or let `setup` do it all.", file=sys.stderr)
    return 0


def _config(path: Path):
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        print(f"Cannot read the config {path}: {error}", file=sys.stderr)
        return None
    try:
        return parse_config({**raw, "output_format": "xdm"} if isinstance(raw, dict) else raw)
    except AirbyteTracedException as error:
        print(error.message, file=sys.stderr)
        return None


def _client(args: argparse.Namespace) -> AepClient:
    return AepClient(AepSettings.from_env(base_url=args.base_url, sandbox=args.sandbox))


def _batch(args: argparse.Namespace) -> int:
    client = _client(args)
    if args.command == "upload":
        dataset = args.dataset or _dataset_of(args.ids, args.stream)
        batch = upload(client, dataset, args.dir)
        if batch is None:
            print(json.dumps({"dataset": dataset, "status": "nothing to upload"}))
            return 0
    else:
        batch = args.batch
    summary = report(batch, status(client, batch, args.wait))
    print(json.dumps(summary))
    if summary["status"] != "success" and summary["status"] in FINAL:
        print(f"AEP: batch {batch} {summary['status']}: {'; '.join(summary.get('errors') or ['no error text'])}", file=sys.stderr)
        return 1
    if args.wait and summary["status"] != "success":  # waited, and AEP is not done: the caller must not treat it as loaded
        print(f"AEP: batch {batch} is still {summary['status']} after {args.wait:g} s: "
              f"ask again with `source-mixpanel-aep-xdm status --batch {batch} --wait 600`", file=sys.stderr)
        return 3
    return 0


def _dataset_of(ids_path: Path, stream: str) -> str:
    try:
        ids = json.loads(ids_path.read_text(encoding="utf-8"))
        return str(ids[stream]["dataset"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise AepError(f"{ids_path} has no {stream} dataset ({type(error).__name__}: {error}): run `setup --config config.json > {ids_path}`") from None


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
