"""`source-mixpanel-aep-xdm upload` and `status`: one batch of `jsonl`'s files into an AEP dataset, and how it ended.

    POST /foundation/import/batches                      {"datasetId": ..., "inputFormat": {"format": "json"}} -> {"id": ...}
    PUT  /foundation/import/batches/<batch>/datasets/<dataset>/files/<name>    each file (at most 256 MB)
    POST /foundation/import/batches/<batch>?action=COMPLETE                    AEP starts ingesting
    GET  /foundation/catalog/batches/<batch>             {"<batch>": {"status": "processing" | "success" | "failed", ...}}

A batch takes at most 1,500 files and 100 GB; a folder beyond that is refused before anything is
sent (a missing folder too; an empty one sends nothing and is no error: a read with nothing new). A file that cannot be uploaded aborts the batch (`?action=ABORT`), so a partial batch is
never completed. `--wait` polls the status until it is final or the time is up (bounded).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, TextIO

from .client import AepClient, AepError

MAX_FILES = 1500
MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_BATCH_BYTES = 100 * 1024**3
FINAL = {"success", "failed", "aborted", "abandoned", "deleted", "inactive", "failed_final"}
POLL_SECONDS = 10.0


def batch_files(folder: Path) -> List[Path]:
    """The `*.jsonl` files of `folder` in name order, checked against the batch limits."""
    if not folder.is_dir():
        raise AepError(f"{folder} is not a folder: write the batch with `source-mixpanel-aep-xdm jsonl --out-dir {folder}` first")
    files = sorted(folder.glob("*.jsonl"))
    if len(files) > MAX_FILES:
        raise AepError(f"{folder} holds {len(files)} files; an AEP batch takes at most {MAX_FILES}: upload them in several batches")
    too_big = [path.name for path in files if path.stat().st_size > MAX_FILE_BYTES]
    if too_big:
        raise AepError(f"{', '.join(too_big)}: over AEP's 256 MB per file; write them again with `jsonl --max-file-mb 250`")
    if sum(path.stat().st_size for path in files) > MAX_BATCH_BYTES:
        raise AepError(f"{folder} holds over 100 GB; an AEP batch takes at most 100 GB: upload it in several batches")
    return files


def upload(client: AepClient, dataset: str, folder: Path, log: Optional[TextIO] = None) -> Optional[str]:
    """Creates the batch, uploads every file, completes it; the batch id. None for a folder without files: a read with
    nothing new (a scheduled run) sends no batch and is no error."""
    log = log or sys.stderr
    files = batch_files(folder)
    if not files:
        print(f"{folder} holds no .jsonl file (the read had no new record): no batch sent", file=log)
        return None
    answer = client.call("POST", "/foundation/import/batches", json_body={"datasetId": dataset, "inputFormat": {"format": "json"}},
                         what=f"creating a batch for dataset {dataset}")
    batch = answer.get("id") if isinstance(answer, dict) else None
    if not batch or not isinstance(batch, str):
        raise AepError(f"creating a batch for dataset {dataset}: AEP's answer has no batch id: {str(answer)[:300]}")
    print(f"created batch {batch} for dataset {dataset}", file=log)
    try:
        for path in files:
            client.call("PUT", f"/foundation/import/batches/{batch}/datasets/{dataset}/files/{path.name}",
                        data=_opener(path), headers={"Content-Type": "application/octet-stream"}, what=f"uploading {path.name} to batch {batch}")
            print(f"uploaded {path.name} ({path.stat().st_size:,} bytes)", file=log)
        client.call("POST", f"/foundation/import/batches/{batch}", params={"action": "COMPLETE"}, what=f"completing batch {batch}")
    except AepError as error:
        try:
            client.call("POST", f"/foundation/import/batches/{batch}", params={"action": "ABORT"}, what=f"aborting batch {batch}")
        except AepError as abort_error:
            raise AepError(f"{error}; then {abort_error}") from None
        raise AepError(f"{error}; batch {batch} was aborted, nothing of it is ingested: run upload again") from None
    print(f"completed batch {batch}: {len(files)} file(s); AEP is ingesting it", file=log)
    return batch


def _opener(path: Path) -> Callable[[], Any]:
    return lambda: open(path, "rb")


def status(client: AepClient, batch: str, wait_seconds: float = 0, poll_seconds: Optional[float] = None,
           sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> Dict[str, Any]:
    """The batch's catalog entry, polled every POLL_SECONDS until its status is final or `wait_seconds` have passed (0: read once)."""
    poll_seconds = POLL_SECONDS if poll_seconds is None else poll_seconds
    deadline = clock() + wait_seconds
    while True:
        answer = client.call("GET", f"/foundation/catalog/batches/{batch}", what=f"reading the status of batch {batch}") or {}
        entry = answer.get(batch) if isinstance(answer, dict) else None
        if not isinstance(entry, dict) or "status" not in entry:
            raise AepError(f"reading the status of batch {batch}: AEP's answer has no status: {str(answer)[:300]}")
        if entry["status"] in FINAL or clock() + poll_seconds > deadline:
            return entry
        sleep(poll_seconds)


def report(batch: str, entry: Dict[str, Any]) -> Dict[str, Any]:
    """What `upload`/`status` print: the batch, its status, AEP's counts and its error texts."""
    errors = [f"{item.get('code', '')} {item.get('description') or item.get('message') or ''}".strip()
              for item in entry.get("errors") or [] if isinstance(item, dict)]
    summary: Dict[str, Any] = {"batch": batch, "status": entry.get("status"), "metrics": entry.get("metrics") or {}}
    if errors:
        summary["errors"] = errors
    return summary
