"""Console-script entry point (`source-mixpanel-aep`); main.py and the Docker image use it too.

The CDK's `launch`, with two differences a user sees:
- the config is checked by our `parse_config` (spec.json's schema plus the rules a schema can't
  say) in every verb, so a mistake's message names the field; the CDK's own check only quotes
  jsonschema ("'XX' is not one of [...]") and, for `check`, runs before the source is asked;
- a config_error ends with one TRACE that says what to fix, not a Python traceback in a FATAL log.
"""

import sys
from typing import Any, List, Mapping, Optional

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import ConnectorSpecification, FailureType
from airbyte_cdk.sources.utils.schema_helpers import split_config
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from .config import parse_config
from .source import SourceMixpanelAep


RECORDS_PER_WRITE = 100


class SourceEntrypoint(AirbyteEntrypoint):
    @staticmethod
    def validate_connection(source_spec: ConnectorSpecification, config: Mapping[str, Any]) -> None:
        parse_config(split_config(config)[0])


def run(argv: Optional[List[str]] = None) -> None:
    entrypoint = SourceEntrypoint(SourceMixpanelAep())
    pending: List[str] = []  # RECORD lines not yet written
    try:
        for message in entrypoint.run(entrypoint.parse_args(sys.argv[1:] if argv is None else argv)):
            pending.append(message)
            # Records go out in batches: one write per record is a system call each when stdout is
            # unbuffered (PYTHONUNBUFFERED, as in the image). Anything else - a STATE above all -
            # goes out at once, with the records before it, so the platform has it while the next window runs.
            if len(pending) >= RECORDS_PER_WRITE or not message.startswith('{"type":"RECORD"'):
                _write(pending)
    except AirbyteTracedException as error:
        if error.failure_type != FailureType.config_error:
            raise
        AirbyteTracedException(message=error.message, internal_message=error.internal_message, failure_type=error.failure_type).emit_message()
        sys.exit(1)
    finally:
        _write(pending)


def _write(lines: List[str]) -> None:
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
        lines.clear()
    sys.stdout.flush()


if __name__ == "__main__":
    run()
