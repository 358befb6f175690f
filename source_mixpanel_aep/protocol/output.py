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

import json
import logging
import os
import stat
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Dict, Iterator, List, Mapping, Optional, Union

import orjson
from airbyte_cdk.logger import PRINT_BUFFER
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets

RECORDS_PER_WRITE = 100
RECORD_PREFIX = '{"type":"RECORD"'  # how the CDK's serialiser starts every RECORD line
PIPE_BUFFER_BYTES = 1024 * 1024  # Linux's default ceiling for an unprivileged process (/proc/sys/fs/pipe-max-size)


_RECORD_STARTS: Dict[str, bytes] = {}  # stream name -> the RECORD line's bytes before the data


def record_line(stream: str, data: Mapping[str, Any], emitted_at: int, namespace: Optional[str] = None) -> bytes:
    """The RECORD line the CDK would write for AirbyteRecordMessage(stream, data, emitted_at, namespace), in one orjson call.

    A record that carries its JSON already is spliced in as it is: the same bytes orjson writes for it
    inside the message. Such a record is a dict subclass with a `json` attribute holding its compact JSON
    bytes (the records side hands one over: records/record_format.SerializedRecord, an XDM record measured
    for AEP's size guardrail); this module knows only that shape, not the type. A plain dict, the flat
    record, pays one type check, as before.
    """
    if type(data) is not dict and namespace is None:
        carried = getattr(data, "json", None)
        if type(carried) is bytes:
            start = _RECORD_STARTS.get(stream)
            if start is None:  # once per stream name
                start = _RECORD_STARTS[stream] = b'{"type":"RECORD","record":{"stream":%b,"data":' % orjson.dumps(stream)
            return b'%b%b,"emitted_at":%d}}' % (start, carried, emitted_at)
    if None in data.values():  # the mapping leaves null columns out already; the CDK's serialiser drops them
        data = {key: value for key, value in data.items() if value is not None}
    body = {"stream": stream, "data": data, "emitted_at": emitted_at}
    if namespace is not None:
        body["namespace"] = namespace
    message = {"type": "RECORD", "record": body}
    try:
        return orjson.dumps(message)
    except TypeError:  # an integer beyond 64 bits: the standard library writes it exactly, as the CDK's fallback does
        return json.dumps(message).encode("utf-8")


class ReaderGone(Exception):
    """Whoever read stdout closed it (`read ... | head -1`, a destination that stopped): nothing more can be said there."""


class ProtocolWriter:
    """A text stream (for log handlers and print) and a line sink (for the entrypoint's messages) over one binary stream.

    When the reader closes the pipe, the first failed write is the last: what is pending is dropped,
    the stream's descriptor is pointed at /dev/null (Python's "Note on SIGPIPE": the interpreter's own
    flush at exit then fails no more), log handlers' writes become silent (no "--- Logging error ---"
    block), and the next `line` raises ReaderGone for the command to end with (run.launch).
    """

    encoding = "utf-8"

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self._pending: List[bytes] = []
        self._partial = ""  # text written without its newline yet (print writes the end separately)
        self.reader_gone = False
        widen_pipe(stream)

    def line(self, line: Union[bytes, str]) -> None:
        """One serialised message from the entrypoint: a RECORD as bytes (batched), anything else as text (sent now)."""
        if self.reader_gone:
            raise ReaderGone()
        if type(line) is bytes:
            pending = self._pending
            pending.append(line)
            if len(pending) >= RECORDS_PER_WRITE:
                self.flush()
        elif line.startswith(RECORD_PREFIX):  # a RECORD the CDK serialised (the entrypoint's other verbs never make one)
            self._pending.append(line.encode("utf-8", "surrogatepass"))
        else:
            self._pending.append(filter_secrets(line).encode("utf-8", "surrogatepass"))
            self.flush()
        if self.reader_gone:
            raise ReaderGone()

    def write(self, text: str) -> int:
        """Text from a log handler or print(): whole lines kept in order with the messages; the handler's flush() sends them."""
        self._partial += text
        if "\n" in self._partial:
            *lines, self._partial = self._partial.split("\n")
            self._pending.extend(filter_secrets(line).encode("utf-8", "surrogatepass") for line in lines)
        return len(text)

    def flush(self) -> None:
        if self.reader_gone:
            self._pending.clear()
            return
        try:
            if self._pending:
                self._pending.append(b"")
                self._stream.write(b"\n".join(self._pending))
                self._pending.clear()
            self._stream.flush()
        except BrokenPipeError:
            self._pending.clear()
            self.reader_gone = True
            _write_to_devnull(self._stream)

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
            if self._partial:
                self.write("\n")
            self.flush()
            sys.stdout = saved_stdout
            for handler, stream in zip(handlers, saved_streams, strict=True):
                handler.setStream(stream)


def _write_to_devnull(stream: BinaryIO) -> None:
    """The closed pipe's descriptor becomes /dev/null, so that no later flush of it (the interpreter's at exit) fails again."""
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a real descriptor (a test's buffer)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, descriptor)
    finally:
        os.close(devnull)


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
