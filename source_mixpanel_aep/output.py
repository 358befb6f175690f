"""Writing protocol messages to stdout, fast for RECORDs and prompt for everything else.

A RECORD is serialised here with orjson straight from its dict, to exactly the JSON the CDK's
serialiser would write (top-level null values of `data` left out, as the CDK does), and written
with its neighbours 100 at a time: one write per record is a system call each under
PYTHONUNBUFFERED, as in the Docker image. Any other message - a STATE above all - is written at
once, after the records before it, so the platform has it while the next window is read.

When stdout is a pipe (the Airbyte platform, `| destination`, a benchmark), its buffer is raised
from Linux's 64 KB to 1 MB: a 100-record write (~90 KB) no longer blocks half-way until the reader
has drained the pipe, and the two processes stop waking each other up for every write.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any, BinaryIO, Callable, List, Mapping, Optional

import orjson

RECORDS_PER_WRITE = 100
PIPE_BUFFER_BYTES = 1024 * 1024  # Linux's default ceiling for an unprivileged process (/proc/sys/fs/pipe-max-size)


def record_line(stream: str, data: Mapping[str, Any], emitted_at: int, namespace: Optional[str] = None) -> bytes:
    """The RECORD line the CDK would write for AirbyteRecordMessage(stream, data, emitted_at, namespace)."""
    if None in data.values():  # the mapping leaves null columns out already; other callers may not
        data = {key: value for key, value in data.items() if value is not None}
    body = {"stream": stream, "data": data, "emitted_at": emitted_at}
    if namespace is not None:
        body["namespace"] = namespace
    message = {"type": "RECORD", "record": body}
    try:
        return orjson.dumps(message)
    except TypeError:  # an integer beyond 64 bits: the standard library writes it exactly, as the CDK's fallback does
        return json.dumps(message).encode("utf-8")


class MessageWriter:
    def __init__(self, stream: Optional[BinaryIO] = None, flush_text: Callable[[], None] = lambda: sys.stdout.flush()):
        self._stream = stream or sys.stdout.buffer
        self._flush_text = flush_text  # log lines written through sys.stdout must go out before ours
        self._pending: List[bytes] = []
        widen_pipe(self._stream)

    def record(self, stream: str, data: Mapping[str, Any], emitted_at: int, namespace: Optional[str] = None) -> None:
        pending = self._pending
        pending.append(record_line(stream, data, emitted_at, namespace))
        if len(pending) >= RECORDS_PER_WRITE:
            self.flush()

    def message(self, line: str) -> None:
        self._pending.append(line.encode("utf-8", "surrogatepass"))
        self.flush()

    def flush(self) -> None:
        self._flush_text()
        if self._pending:
            self._pending.append(b"")
            self._stream.write(b"\n".join(self._pending))
            self._pending.clear()
        self._stream.flush()


def widen_pipe(stream: BinaryIO) -> None:
    """Ask for a PIPE_BUFFER_BYTES buffer if `stream` is a pipe; anything else, or a refusal, leaves it as it is."""
    try:
        import fcntl

        descriptor = stream.fileno()
        if not stat.S_ISFIFO(os.fstat(descriptor).st_mode):
            return
        ceiling = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        fcntl.fcntl(descriptor, fcntl.F_SETPIPE_SZ, min(PIPE_BUFFER_BYTES, ceiling))
    except (ImportError, AttributeError, OSError, ValueError):  # not Linux, no real descriptor, over the user's pipe quota
        return
