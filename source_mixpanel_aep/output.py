"""The one writer of stdout: protocol messages and log lines, in the order they happened.

The CDK's entrypoint yields each message as a JSON line; the CDK's logging handler writes log lines
as they are logged. Both come here (the handler's stream and `sys.stdout` point at this writer
while a command runs), so a WARN written after 38 records is after them on stdout too. RECORD lines
are written 100 at a time (one write per record is a system call each under PYTHONUNBUFFERED, as in
the Docker image); anything else - a STATE above all - goes out at once, with the records before it,
so the platform has it while the next window is read. Every line that is not a RECORD passes the
CDK's secret filter once more on its way out.

When stdout is a pipe (the Airbyte platform, `| destination`, a benchmark), its buffer is raised
from Linux's 64 KB to 1 MB: a 100-record write (~90 KB) no longer blocks half-way until the reader
has drained the pipe, and the two processes stop waking each other up for every write.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, List

from airbyte_cdk.logger import PRINT_BUFFER
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets

RECORDS_PER_WRITE = 100
RECORD_PREFIX = '{"type":"RECORD"'  # how the CDK's serialiser starts every RECORD line
PIPE_BUFFER_BYTES = 1024 * 1024  # Linux's default ceiling for an unprivileged process (/proc/sys/fs/pipe-max-size)


class ProtocolWriter:
    """A text stream (for log handlers and print) and a line sink (for the entrypoint's messages) over one binary stream."""

    encoding = "utf-8"

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self._pending: List[str] = []
        self._records = 0
        widen_pipe(stream)

    def line(self, text: str) -> None:
        """One serialised message from the entrypoint."""
        if text.startswith(RECORD_PREFIX):
            self._pending.append(text)
            self._pending.append("\n")
            self._records += 1
            if self._records >= RECORDS_PER_WRITE:
                self.flush()
        else:
            self._pending.append(filter_secrets(text))
            self._pending.append("\n")
            self.flush()

    def write(self, text: str) -> int:
        """Text from a log handler or print(): kept in order with the messages; the handler's flush() sends it."""
        self._pending.append(filter_secrets(text))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._stream.write("".join(self._pending).encode("utf-8", "surrogatepass"))
            self._pending.clear()
            self._records = 0
        self._stream.flush()

    def isatty(self) -> bool:
        return False

    @contextmanager
    def owning_stdout(self) -> Iterator["ProtocolWriter"]:
        """While inside: the CDK's log handlers and sys.stdout write here. Restored (and flushed) on the way out."""
        root = logging.getLogger()
        targets = (PRINT_BUFFER, sys.stdout, sys.__stdout__)
        handlers = [handler for handler in root.handlers if isinstance(handler, logging.StreamHandler) and handler.stream in targets]
        saved_streams = [handler.setStream(self) for handler in handlers]  # type: ignore[arg-type]  # a text stream
        saved_stdout, sys.stdout = sys.stdout, self  # type: ignore[assignment]
        try:
            yield self
        finally:
            self.flush()
            sys.stdout = saved_stdout
            for handler, stream in zip(handlers, saved_streams, strict=True):
                handler.setStream(stream)


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
