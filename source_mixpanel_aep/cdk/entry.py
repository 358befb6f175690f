"""The CDK's `read` command, copied: AirbyteEntrypoint.run's read branch and AirbyteEntrypoint.read, in one loop.

Copied from airbyte_cdk.entrypoint (registered in cdk/upstream.py: a CDK upgrade that changes either
fails unit_tests/test_cdk_drift.py, naming this function to re-read). The same steps as the CDK's,
in its order: log level, spec, a temporary folder that is also the request cache's folder
(ENV_REQUEST_CACHE_PATH, as the CDK sets it), config file and `configure`, queued messages,
catalog, state, secret filter, config check, the source's messages with a memory check and a
record count per record, each STATE's sourceStats, and the queued messages on the way out (also on
a failure: the state and logs queued so far reach the platform).

What differs, for speed: a RECORD becomes its JSON line in one step (`record_line`, our
protocol/output.record_line, byte for byte the CDK's line, pinned by unit_tests/test_output.py).
The CDK's route builds a dict copy of every record (serpyco), decodes the JSON to a str and a
writer encodes it back: 30k of the 130k instructions per event. The memory check is the CDK's own
monitor (cdk/private.memory_check), called per record.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from collections import Counter
from typing import Any, Callable, Iterator, Mapping, Optional, Union

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.logger import is_platform_debug_log_enabled
from airbyte_cdk.models import AirbyteStateStats, Type
from airbyte_cdk.utils.constants import ENV_REQUEST_CACHE_PATH

from . import private
from .read_loop import queued_messages

RECORD, STATE = Type.RECORD, Type.STATE  # looked at per message: on Python 3.11 `Type.X` runs EnumType.__getattr__
RecordLine = Callable[[str, Mapping[str, Any], int, Optional[str]], bytes]


def read_lines(entrypoint: AirbyteEntrypoint, parsed_args: argparse.Namespace, record_line: RecordLine) -> Iterator[Union[str, bytes]]:
    """The `read` command's output lines: RECORDs as bytes from `record_line`, every other message as the CDK's string."""
    if getattr(parsed_args, "debug", False) or is_platform_debug_log_enabled():  # as the CDK's run does
        entrypoint.logger.setLevel(logging.DEBUG)
        logging.getLogger("airbyte").setLevel(logging.DEBUG)
        entrypoint.logger.debug("Debug logs enabled")
    else:
        entrypoint.logger.setLevel(logging.INFO)
    source = entrypoint.source
    source_spec = source.spec(entrypoint.logger)
    counts: Counter[str] = Counter()  # records since each stream's last STATE: its sourceStats (our streams have no namespace)
    check_memory = private.memory_check(entrypoint)
    to_string = entrypoint.airbyte_message_to_string
    try:
        with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as temp_dir:
            os.environ[ENV_REQUEST_CACHE_PATH] = temp_dir  # as the CDK's run: the default folder of request_cache's *.sqlite files
            config = source.configure(source.read_config(parsed_args.config), temp_dir)
            yield from map(to_string, queued_messages(source))  # type: ignore[arg-type]  # our source is an AbstractSource
            catalog = source.read_catalog(parsed_args.catalog)
            state = source.read_state(parsed_args.state)
            entrypoint.set_up_secret_filter(config, source_spec.connectionSpecification)
            if source.check_config_against_spec:
                entrypoint.validate_connection(source_spec, config)
            for message in source.read(entrypoint.logger, config, catalog, state):
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
        yield from map(to_string, queued_messages(source))  # type: ignore[arg-type]
