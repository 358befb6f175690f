"""Console-script entry point (`source-mixpanel-aep`); main.py and the Docker image use it too.

The CDK's entrypoint, with two changes (SourceEntrypoint), writing through output.ProtocolWriter
(logs and messages in order, records in batches), and ending any failure the way Airbyte expects:
one error TRACE with the failure type the error carries (the user's, an outage, or ours) and exit
code 1, never a bare Python traceback. Exit codes: 0 done, 1 failed (the last line says why), 2 no
verb or a wrong one (usage on stderr), 141 stdout closed by its reader. Tests call `launch`
in-process with a buffer for stdout: the same code, byte for byte.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import logging
import re
import sys
import tempfile
from collections import Counter
from typing import Any, BinaryIO, Iterable, Iterator, List, Mapping, Optional, Union

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.logger import is_platform_debug_log_enabled
from airbyte_cdk.models import AirbyteMessage, AirbyteStateStats, ConnectorSpecification, FailureType, Type
from airbyte_cdk.sources.utils.schema_helpers import split_config
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from .cdk.errors import traced
from .cdk import private as cdk_private
from .config import parse_config
from .protocol.logs import quiet_cdk_startup, quiet_request_failures
from .protocol.output import ProtocolWriter, ReaderGone, record_line
from .source import SourceMixpanelAep
from .protocol.sync import queued_messages

RECORD, STATE = Type.RECORD, Type.STATE  # looked at per message: on Python 3.11 `Type.X` runs EnumType.__getattr__
COMMAND = "source-mixpanel-aep"
VERSION = "1.0.0"  # kept equal to setup.py's, metadata.yaml's and the image label's by unit_tests/test_metadata.py
READER_GONE_EXIT = 141  # what a shell reports for a process ended by SIGPIPE (128 + 13): the reader of stdout went away


class SourceEntrypoint(AirbyteEntrypoint):
    """The CDK's entrypoint with our config check, and a `read` that writes RECORDs straight to bytes.

    - validate_connection (the CDK's hook for it): `parse_config`, so a mistake's message names the
      field; the CDK's own check quotes jsonschema ("'APAC' is not one of [...]").
    - run("read"): the same steps as the CDK's run and read - config file, catalog, state, secret
      filter, config check, the source's messages, a memory check and a record count per record,
      each STATE's sourceStats, queued messages - but a RECORD becomes its JSON line with orjson in
      one step (output.record_line, byte for byte the CDK's line, pinned by unit_tests/test_output.py).
      The CDK's route builds a dict copy of every record (serpyco), decodes the JSON to a str and a
      writer encodes it back: 30k of the 130k instructions per event.
    """

    @staticmethod
    def validate_connection(source_spec: ConnectorSpecification, config: Mapping[str, Any]) -> None:
        parse_config(split_config(config)[0])

    def run(self, parsed_args: argparse.Namespace) -> Iterable[Union[str, bytes]]:  # type: ignore[override]  # bytes: RECORD lines
        if parsed_args.command != "read":
            yield from super().run(parsed_args)
            return
        if getattr(parsed_args, "debug", False) or is_platform_debug_log_enabled():  # as the CDK's run does
            self.logger.setLevel(logging.DEBUG)
            logging.getLogger("airbyte").setLevel(logging.DEBUG)
            self.logger.debug("Debug logs enabled")
        else:
            self.logger.setLevel(logging.INFO)
        source_spec = self.source.spec(self.logger)
        counts: Counter[str] = Counter()  # records since each stream's last STATE: its sourceStats (our streams have no namespace)
        check_memory = cdk_private.memory_check(self)
        to_string = self.airbyte_message_to_string
        try:
            with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as temp_dir:
                config = self.source.configure(self.source.read_config(parsed_args.config), temp_dir)
                yield from self._queued()
                catalog = self.source.read_catalog(parsed_args.catalog)
                state = self.source.read_state(parsed_args.state)
                self.set_up_secret_filter(config, source_spec.connectionSpecification)
                if self.source.check_config_against_spec:
                    self.validate_connection(source_spec, config)
                for message in self.source.read(self.logger, config, catalog, state):
                    if message.type is RECORD:
                        record = message.record
                        counts[record.stream] += 1
                        check_memory()
                        yield record_line(record.stream, record.data, record.emitted_at, record.namespace)
                        continue
                    if message.type is STATE and message.state.stream is not None:
                        descriptor = message.state.stream.stream_descriptor
                        message.state.sourceStats = AirbyteStateStats(recordCount=float(counts.pop(descriptor.name, 0)))
                    yield to_string(message)
        finally:  # also on a failure: the state and logs queued so far reach the platform
            yield from self._queued()

    def _queued(self) -> Iterator[str]:
        for message in queued_messages(self.source):  # type: ignore[arg-type]  # our source is an AbstractSource
            yield self.airbyte_message_to_string(message)


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
            _close(lines)
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


def run(argv: Optional[List[str]] = None) -> None:
    """The process entry (console script, main.py, the image): one command, then the process ends.

    What the imports built lives until the end, so it is frozen out of the garbage collector
    (gc.freeze): otherwise the interpreter walks all of it once more on the way out, about 0.1 s of
    every command. The import-time garbage frozen with it (about 0.5 MB) is kept until exit.
    In-process callers use `launch`, which leaves their collector alone.
    """
    gc.freeze()
    sys.exit(launch(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    run()
