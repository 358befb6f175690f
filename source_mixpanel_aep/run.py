"""Console-script entry point (`source-mixpanel-aep`); main.py and the Docker image use it too.

The CDK's entrypoint (with our config check, see SourceEntrypoint), writing through output.ProtocolWriter (logs and messages in order,
records in batches), and ending any failure the way Airbyte expects: one error TRACE with the
failure type the error carries (the user's, an outage, or ours) and exit code 1, never a bare
Python traceback. Tests call `launch` in-process with a buffer for stdout: the same code.
"""

from __future__ import annotations

import sys
from typing import Any, BinaryIO, List, Mapping, Optional

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import ConnectorSpecification
from airbyte_cdk.sources.utils.schema_helpers import split_config
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from .config import parse_config
from .output import ProtocolWriter
from .source import SourceMixpanelAep


class SourceEntrypoint(AirbyteEntrypoint):
    """The CDK's entrypoint with our config check in its one hook for it, so a mistake's message names the field.

    The CDK's own check quotes jsonschema ("Config validation error: 'APAC' is not one of [...]") and,
    for `check`, runs before the source is asked. Nothing else is changed.
    """

    @staticmethod
    def validate_connection(source_spec: ConnectorSpecification, config: Mapping[str, Any]) -> None:
        parse_config(split_config(config)[0])


def launch(args: List[str], stdout: Optional[BinaryIO] = None) -> int:
    """Run one command (spec, check, discover, read) and return its exit code."""
    writer = ProtocolWriter(stdout if stdout is not None else sys.stdout.buffer)
    with writer.owning_stdout():
        entrypoint = SourceEntrypoint(SourceMixpanelAep())
        try:
            for line in entrypoint.run(entrypoint.parse_args(args)):
                writer.line(line)
        except Exception as error:  # noqa: BLE001 - every failure ends as one TRACE, never a traceback on stdout
            traced = error if isinstance(error, AirbyteTracedException) else AirbyteTracedException.from_exception(error)
            writer.line(AirbyteEntrypoint.airbyte_message_to_string(traced.as_sanitized_airbyte_message()))
            return 1
    return 0


def run(argv: Optional[List[str]] = None) -> None:
    sys.exit(launch(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    run()
