"""`source-mixpanel-aep-xdm schema --config config.json`: what to create in AEP once, for XDM output.

Prints, from the connector's own config (the tenant, identity_namespaces and xdm_fields a sync
uses), the JSON payloads to POST in order: the custom identity namespaces, the field group, the
schema and the primary identity descriptor (see README, *Into Adobe Experience Platform*). They
come from the same field table as the records (`xdm.py`), so they cannot disagree with them.
`--part field_group` (etc.) prints one payload alone, ready for `curl -d @-`.

The config is checked by the connector's `parse_config` as if output_format were "xdm": a mistake
is one line on stderr naming the field, and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from .config import parse_config
from .xdm_payloads import FIELD_GROUP_ID, SCHEMA_ID, all_payloads

PARTS = ("identity_namespaces", "field_group", "schema", "identity_descriptor")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="source-mixpanel-aep-xdm", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    schema = commands.add_parser("schema", help="print the identity namespaces, field group, schema and identity descriptor to create in AEP")
    schema.add_argument("--config", required=True, type=Path, help="the connector's config.json (xdm_tenant_id is required)")
    schema.add_argument("--part", choices=PARTS, help="print only this payload")
    args = parser.parse_args(argv)
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
    payloads = all_payloads(config.xdm)  # type: ignore[arg-type]  # always set for output_format "xdm"
    print(json.dumps(payloads[args.part] if args.part else payloads, indent=2, ensure_ascii=False))
    if not args.part:
        print(f"Replace {FIELD_GROUP_ID} with the field group's $id and {SCHEMA_ID} with the schema's $id from the answers to their POSTs.",
              file=sys.stderr)
    return 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
