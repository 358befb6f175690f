"""Console-script entry point (`source-mixpanel-aep`); main.py and the Docker image use it too.

The CDK's `launch`, with three differences a user sees:
- the config is checked by our `parse_config` (spec.json's schema plus the rules a schema can't
  say) in every verb, so a mistake's message names the field; the CDK's own check only quotes
  jsonschema ("'XX' is not one of [...]") and, for `check`, runs before the source is asked;
- a config_error ends with one TRACE that says what to fix, not a Python traceback in a FATAL log;
- RECORDs are written by output.MessageWriter (same JSON, a fraction of the cost; see there),
  and the stream hands them over directly instead of as AirbyteMessages (see ExportStream.read).
"""

import sys
import time
from collections import Counter
from typing import Any, Callable, DefaultDict, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import AirbyteMessage, ConnectorSpecification, FailureType, Type
from airbyte_cdk.sources.connector_state_manager import HashableStreamDescriptor
from airbyte_cdk.sources.utils.schema_helpers import split_config
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from .config import parse_config
from .output import MessageWriter
from .source import SourceMixpanelAep

RECORD, STATE = Type.RECORD, Type.STATE  # looked at per message: on Python 3.11 `Type.X` runs EnumType.__getattr__


class SourceEntrypoint(AirbyteEntrypoint):
    """AirbyteEntrypoint with our config check, and an optional direct path for RECORDs.

    With `record_sink(stream, data, emitted_at, namespace)`, each RECORD of a `read` goes to it
    instead of through the CDK's generic serialiser, and the source's streams hand records to this
    entrypoint directly (`take_records`), counted for each STATE's sourceStats and memory-checked as
    the CDK does per message. Everything else goes through the CDK.
    """

    def __init__(self, source: SourceMixpanelAep, record_sink: Optional[Callable[[str, Dict[str, Any], int, Optional[str]], None]] = None):
        super().__init__(source)
        self._record_sink = record_sink
        # Records counted since the last STATE, per (stream, namespace): the CDK's count, kept in a plain
        # Counter and handed to its per-descriptor table only when a STATE asks for it. Per run, so a
        # run that stopped mid-window leaves nothing behind for the next one in the same process.
        self._uncounted: "Counter[Tuple[str, Optional[str]]]" = Counter()
        monitor = getattr(self, "_memory_monitor", None)  # the CDK's fail-fast memory check, in CDK versions that have it
        self._check_memory: Callable[[], None] = getattr(monitor, "check_memory_usage", lambda: None)
        if record_sink is not None:
            source.record_sink = self.take_records

    def take_records(self, stream: str, records: Iterator[Dict[str, Any]]) -> None:
        """Records a stream hands over without AirbyteMessages: stamped, memory-checked and counted as the CDK does, then written."""
        write, check_memory, clock = self._record_sink, self._check_memory, time.time_ns
        count = 0
        try:
            for data in records:
                check_memory()
                write(stream, data, clock() // 1_000_000, None)  # type: ignore[misc]  # set whenever streams have this sink
                count += 1
        finally:
            self._uncounted[(stream, None)] += count

    @staticmethod
    def validate_connection(source_spec: ConnectorSpecification, config: Mapping[str, Any]) -> None:
        parse_config(split_config(config)[0])

    def read(self, source_spec: ConnectorSpecification, config: Any, catalog: Any, state: List[Any]) -> Iterable[AirbyteMessage]:
        sink = self._record_sink
        for message in super().read(source_spec, config, catalog, state):
            if sink is not None and message.type is RECORD:
                record = message.record
                sink(record.stream, record.data, record.emitted_at, record.namespace)
            else:
                yield message

    def handle_record_counts(  # type: ignore[override]  # the CDK calls it through self
        self, message: AirbyteMessage, stream_message_count: DefaultDict[HashableStreamDescriptor, float]
    ) -> AirbyteMessage:
        """The CDK's record count for each STATE's sourceStats, without building and hashing a descriptor per record."""
        uncounted = self._uncounted
        if message.type is RECORD:
            uncounted[(message.record.stream, message.record.namespace)] += 1
            return message
        if message.type is STATE and uncounted:
            for (name, namespace), count in uncounted.items():
                stream_message_count[HashableStreamDescriptor(name=name, namespace=namespace)] += count
            uncounted.clear()
        return AirbyteEntrypoint.handle_record_counts(message, stream_message_count)


def run(argv: Optional[List[str]] = None) -> None:
    writer = MessageWriter()
    entrypoint = SourceEntrypoint(SourceMixpanelAep(), record_sink=writer.record)
    try:
        for message in entrypoint.run(entrypoint.parse_args(sys.argv[1:] if argv is None else argv)):
            writer.message(message)
    except AirbyteTracedException as error:
        if error.failure_type != FailureType.config_error:
            raise
        writer.flush()
        AirbyteTracedException(message=error.message, internal_message=error.internal_message, failure_type=error.failure_type).emit_message()
        sys.exit(1)
    finally:
        writer.flush()


if __name__ == "__main__":
    run()
