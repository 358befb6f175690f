"""The command behind the console script: the CDK's entrypoint with our config check and RECORD lines, ending any failure as Airbyte expects.

It writes through output.ProtocolWriter (logs and messages in order, records in batches), and ends
any failure with one error TRACE with the failure type the error carries (the user's, an outage,
or ours) and exit code 1, never a bare Python traceback. Exit codes: 0 done, 1 failed (the last
line says why), 2 no verb or a wrong one (usage on stderr), 141 stdout closed by its reader. Tests
call `launch` in-process with a buffer for stdout: the same code, byte for byte. run.py only starts it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import re
import sys
from typing import Any, BinaryIO, Iterable, Iterator, List, Mapping, Optional, Union

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import AirbyteMessage, ConnectorSpecification, FailureType
from airbyte_cdk.sources.utils.schema_helpers import split_config
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..cdk.entry import read_lines
from ..cdk.errors import traced
from ..config import parse_config
from ..source import SourceMixpanelAep
from .logs import quiet_cdk_startup, quiet_request_failures
from .output import ProtocolWriter, ReaderGone, record_line

COMMAND = "source-mixpanel-aep"
VERSION = "1.0.0"  # kept equal to setup.py's, metadata.yaml's and the image label's by unit_tests/test_metadata.py
READER_GONE_EXIT = 141  # what a shell reports for a process ended by SIGPIPE (128 + 13): the reader of stdout went away


class SourceEntrypoint(AirbyteEntrypoint):
    """The CDK's entrypoint with our config check, and a `read` that writes RECORDs straight to bytes.

    - validate_connection (the CDK's hook for it): `parse_config`, so a mistake's message names the
      field; the CDK's own check quotes jsonschema ("'APAC' is not one of [...]").
    - run("read"): the CDK's run and read, copied in cdk/entry.read_lines, but a RECORD becomes its
      JSON line with orjson in one step (output.record_line). The other verbs are the CDK's own.
    """

    @staticmethod
    def validate_connection(source_spec: ConnectorSpecification, config: Mapping[str, Any]) -> None:
        parse_config(split_config(config)[0])

    def run(self, parsed_args: argparse.Namespace) -> Iterable[Union[str, bytes]]:  # type: ignore[override]  # bytes: RECORD lines
        if parsed_args.command != "read":
            return super().run(parsed_args)
        return read_lines(self, parsed_args, record_line)  # the generator itself: no extra step per line


def final_trace(error: Exception) -> AirbyteTracedException:
    """The error TRACE a failed command ends with: a user's mistake without a Python stack trace (it is not theirs to read)."""
    if not isinstance(error, AirbyteTracedException):
        return AirbyteTracedException.from_exception(error)  # a bug of ours: system_error, with the stack trace for maintainers
    if error.failure_type == FailureType.config_error:
        return traced(error.failure_type, error.message, error.internal_message)
    return error


def final_message(error: Exception) -> AirbyteMessage:
    """final_trace as the message written; a config_error's has no `stack_trace` at all (the CDK would put the exception's line there)."""
    message = final_trace(error).as_sanitized_airbyte_message()
    if message.trace is not None and message.trace.error is not None and message.trace.error.failure_type == FailureType.config_error:
        message.trace.error.stack_trace = None
    return message


def launch(args: List[str], stdout: Optional[BinaryIO] = None) -> int:
    """Run one command (spec, check, discover, read) and return its exit code.

    `--version` prints the version; no verb prints the usage on stderr (exit 2, as argparse does for
    a wrong one). A reader that closes stdout (`read ... | head -1`) ends the command quietly with
    READER_GONE_EXIT: nothing more can be delivered, and nothing is said about it on stderr.
    """
    writer = ProtocolWriter(stdout if stdout is not None else sys.stdout.buffer)
    if args[:1] in (["--version"], ["-V"]):
        writer.write(f"{COMMAND} {VERSION}\n")
        writer.flush()
        return READER_GONE_EXIT if writer.reader_gone else 0
    quiet_cdk_startup()
    with writer.owning_stdout():
        entrypoint = SourceEntrypoint(SourceMixpanelAep())
        quiet_request_failures(logging.getLogger().handlers)
        if not args:
            print(usage(entrypoint), file=sys.stderr)
            return 2
        lines = entrypoint.run(entrypoint.parse_args(args))
        try:
            for line in lines:
                writer.line(line)
        except ReaderGone:
            _close(lines)  # type: ignore[arg-type]  # a generator
            return READER_GONE_EXIT
        except Exception as error:  # noqa: BLE001 - every failure ends as one TRACE, never a traceback on stdout
            try:
                writer.line(AirbyteEntrypoint.airbyte_message_to_string(final_message(error)))
            except ReaderGone:
                return READER_GONE_EXIT
            return 1
    return READER_GONE_EXIT if writer.reader_gone else 0  # the last lines, flushed on the way out, may be the ones the reader missed


def usage(entrypoint: AirbyteEntrypoint) -> str:
    """The CDK's own --help text (its verbs and their arguments), and how to ask for the version."""
    text = io.StringIO()
    with contextlib.redirect_stdout(text), contextlib.suppress(SystemExit):
        entrypoint.parse_args(["--help"])
    helped = re.sub(r"^usage: \S+", f"usage: {COMMAND}", text.getvalue().rstrip())  # argparse names the program after sys.argv[0]
    return f"{COMMAND}: a verb is needed (spec, check, discover or read).\n{helped}\n  --version   print {COMMAND}'s version and exit"


def _close(lines: Iterator[Any]) -> None:
    """End the command's generator (its temporary folder goes): the messages it still had for stdout have nowhere to go."""
    try:
        lines.close()
    except RuntimeError:  # it yielded its queued messages on the way out ("generator ignored GeneratorExit")
        pass
