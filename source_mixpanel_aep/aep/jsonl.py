"""`source-mixpanel-aep-xdm jsonl`: a `read`'s output (Airbyte messages on stdin) -> one batch of files for one AEP dataset.

A RECORD line such as

    {"type":"RECORD","record":{"stream":"events","data":{"_id":"91aa...","timestamp":"...","eventType":"...","_acme":{...}},"emitted_at":1}}

becomes its bare `data`, one JSON object per line (what AEP's batch ingestion reads), in files
`<prefix>-00001.jsonl`, ... under AEP's 256 MB per-file limit, never splitting a record. What AEP
would refuse is refused here, before anything is uploaded: records of two streams (events and
profiles go to two datasets: pick one with `--stream`), flat records (no `_<tenant>` object:
`output_format` is not "xdm", or the cohorts streams, which are always flat). The folder must hold
no `.jsonl` file already (`upload` sends every one of them): `--replace` deletes them first.

The read's last STATE per stream goes to `--state-out` as the list `read --state` takes, so the
next read resumes where this one ended. A read that failed (an ERROR trace) exits 1: the files
hold only part of it, the state says how far it got.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, BinaryIO, Dict, List, Optional, TextIO, Tuple

from ..records.json_codec import dumps
from ..records.xdm import usable_identity


class Refused(Exception):
    """Input AEP would refuse: nothing of it is kept."""


def is_xdm(data: Any) -> Optional[str]:
    """The tenant key (`_acme`) of an XDM record; None for a flat one."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key.startswith("_") and key != "_id" and isinstance(value, dict):
                return key
    return None


def state_key(state: Dict[str, Any]) -> str:
    descriptor = (state.get("stream") or {}).get("stream_descriptor") or {}
    return f"{state.get('type', 'LEGACY')}:{descriptor.get('namespace') or ''}:{descriptor.get('name') or ''}"


def clear_folder(out_dir: Path, replace: bool, log: TextIO) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    old = sorted(out_dir.glob("*.jsonl"))
    if not old:
        return
    if not replace:
        raise Refused(f"{out_dir} already holds {len(old)} .jsonl file(s) ({old[0].name}, ...) from an earlier run, and `upload` sends "
                      "every .jsonl file of the folder: empty it, choose a new --out-dir, or pass --replace to delete them first")
    for path in old:
        path.unlink()
    print(f"removed {len(old)} .jsonl file(s) of an earlier run from {out_dir}", file=log)


def write_batch(messages: BinaryIO, out_dir: Path, max_bytes: int, *, prefix: Optional[str] = None, stream: Optional[str] = None,
                state_out: Optional[Path] = None, replace: bool = False, log: Optional[TextIO] = None) -> int:
    log = log or sys.stderr
    try:
        clear_folder(out_dir, replace, log)
    except Refused as error:
        print(error, file=log)
        return 1
    files: List[Tuple[Path, int, int]] = []  # (path, records, bytes)
    current: Optional[BinaryIO] = None
    errors: List[str] = []
    states: Dict[str, Dict[str, Any]] = {}
    chosen, tenant_key, unidentified = stream, None, 0
    try:
        for line in messages:
            if not line.startswith(b"{"):
                continue
            message = json.loads(line)  # the stdlib: integers of any size stay exact
            kind = message.get("type")
            if kind == "STATE" and isinstance(message.get("state"), dict):
                states[state_key(message["state"])] = message["state"]
                continue
            if kind == "TRACE" and (message.get("trace") or {}).get("error"):
                errors.append(message["trace"]["error"].get("message", "an error"))
            if kind != "RECORD":
                continue
            name, data = message["record"].get("stream"), message["record"].get("data")
            if chosen is None:
                chosen = name
            elif name != chosen:
                if stream is not None:
                    continue
                raise Refused(f"the read holds records of {chosen!r} and {name!r}: they go to different AEP datasets (different schemas); "
                              f"run jsonl once per stream, with --stream {chosen} and --stream {name}, each into its own --out-dir")
            if tenant_key is None:
                tenant_key = is_xdm(data)
                if tenant_key is None:
                    raise Refused(f"the {name!r} records are flat, not XDM (no _<tenant> object): an AEP dataset on the XDM schema refuses "
                                  "them. Set \"output_format\": \"xdm\" in the config and read again (cohorts and cohort_members are always "
                                  "flat: leave them out of the catalog)")
            primary = (data.get(tenant_key) or {}).get("distinct_id")
            if not (type(primary) is str and usable_identity(primary)):  # a profile keeps a blocked one: it is the stream's key
                unidentified += 1
            record = _compact(data) + b"\n"
            if current is None or (files[-1][2] and files[-1][2] + len(record) > max_bytes):
                if current is not None:
                    current.close()
                path = out_dir / f"{prefix or chosen or 'events'}-{len(files) + 1:05d}.jsonl"
                current = open(path, "wb")
                files.append((path, 0, 0))
            current.write(record)
            path, count, size = files[-1]
            files[-1] = (path, count + 1, size + len(record))
    except Refused as error:
        if current is not None:
            current.close()
        for path, _, _ in files:
            path.unlink()
        print(f"{error}. Nothing was written.", file=log)
        return 1
    if current is not None:
        current.close()
    for path, count, size in files:
        print(f"{path}: {count} records, {size:,} bytes", file=log)
    if not files:
        print(f"no record{' of ' + stream if stream else ''} in the read: no file written", file=log)
    if unidentified:
        print(f"WARN: {unidentified} record(s) have no {tenant_key}.distinct_id AEP's Identity Service takes (none in the event, or "
              "a blocked one: empty, null, anonymous, invalid, over 1,024 characters): the schema's primary identity. AEP keeps them in "
              "the dataset; Real-Time Customer Profile and Identity Service skip them", file=log)
    _keep_state(states, state_out, log)
    if errors:
        print(f"The read failed, these files hold only part of it: {errors[-1]}", file=log)
        return 1
    return 0


def _keep_state(states: Dict[str, Dict[str, Any]], state_out: Optional[Path], log: TextIO) -> None:
    if state_out is None:
        if states:
            print("The read's STATE was not kept (no --state-out): the next read would start again from start_date", file=log)
        return
    if not states:
        print(f"The read emitted no STATE: {state_out} not written", file=log)
        return
    state_out.parent.mkdir(parents=True, exist_ok=True)
    partial = state_out.with_name(state_out.name + ".partial")
    partial.write_text(json.dumps(list(states.values()), ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(partial, state_out)  # a crash never leaves half a state where the next read looks
    print(f"{state_out}: the last state of {len(states)} stream(s); the next read takes it with --state {state_out}", file=log)


def _compact(data: object) -> bytes:
    return dumps(data)  # an integer beyond 64 bits (flat output only) or a lone surrogate: the stdlib writes both
