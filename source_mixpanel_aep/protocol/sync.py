"""The sync loop behind `read`: each configured stream in turn, with the protocol's stream statuses.

The CDK's AbstractSource.read, for what this source needs, through public CDK pieces (the state
manager, the stream's own `read`, the status and trace messages), without the CDK loop's work per
record: a match on the item's type, an enum lookup and a generator for queued messages, for every
record. That came to 6% of the connector's instructions per event. Same protocol output:
STARTED, RUNNING at a stream's first record, COMPLETE, or INCOMPLETE with the stream's error
trace; queued messages after every message that is not a record; "Read N records" per stream.

What differs on purpose: a failed sync ends with the streams' own messages and the most serious of
their failure types (failed_sync), where the CDK raises "During the sync, the following streams
did not sync successfully: ..." as a config_error, which would tell Airbyte the user's config is
wrong even for an outage.

A user's mistake (a config_error: rejected credentials, a stream's state that is not understood)
is said once: one ERROR line in words, and the sync's last TRACE, without a stack trace
(run.final_message); the stream gets no error TRACE of its own. An outage (transient_error) is one
ERROR line in words too, with the stream's TRACE; only an error of ours (system_error) logs its
Python stack trace. Rejected credentials (401, 403, a missing project_id) stop the sync there:
every stream uses the same credentials and project, so each would fail the same way. Any other
config_error fails its stream only, and the next stream is read.
"""

from __future__ import annotations

import logging
from typing import Any, Iterator, List, Mapping, Optional, Tuple

from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteStateMessage,
    AirbyteStreamStatus,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteStream,
    FailureType,
    StreamDescriptor,
    Type,
)
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.sources.streams.http import HttpStream
from airbyte_cdk.sources.utils.record_helper import stream_data_to_airbyte_message
from airbyte_cdk.sources.utils.schema_helpers import InternalConfig, split_config
from airbyte_cdk.sources.utils.slice_logger import DebugSliceLogger
from airbyte_cdk.utils.stream_status_utils import as_airbyte_message as status_message
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..cdk.errors import traced
from ..streams.error_table import rejects_credentials

RECORD = Type.RECORD  # looked at per message: on Python 3.11 `Type.X` runs EnumType.__getattr__
# The most serious kind wins when several streams failed: ours to fix, then an outage, then the user's.
_SEVERITY = {FailureType.system_error: 3, FailureType.transient_error: 2, FailureType.config_error: 1}


def read_streams(
    source: AbstractSource,
    logger: logging.Logger,
    config: Mapping[str, Any],
    catalog: ConfiguredAirbyteCatalog,
    state: Optional[List[AirbyteStateMessage]],
) -> Iterator[AirbyteMessage]:
    logger.info(f"Starting syncing {source.name}")
    config, internal_config = split_config(config)
    streams = {stream.name: stream for stream in source.streams(config)}
    state_manager = ConnectorStateManager(state=state)
    failures: List[Tuple[str, AirbyteTracedException]] = []
    for position, configured in enumerate(catalog.streams):
        name = configured.stream.name
        stream = streams.get(name)
        if stream is None:  # as the CDK does by default: said, and not read
            logger.warning(f"The catalog asks for stream '{name}', which this source does not have (it has: {', '.join(sorted(streams))}).")
            yield status_message(configured.stream, AirbyteStreamStatus.INCOMPLETE)
            continue
        logger.info(f"Marking stream {name} as STARTED")
        yield status_message(configured.stream, AirbyteStreamStatus.STARTED)
        try:
            yield from _read_stream(source, stream, configured, state_manager, internal_config, logger)
        except Exception as error:  # noqa: BLE001 - a stream's failure is reported, and the next stream is read
            yield from queued_messages(source)
            descriptor = StreamDescriptor(name=name)
            traced = error if isinstance(error, AirbyteTracedException) else AirbyteTracedException.from_exception(
                error, stream_descriptor=descriptor, message=stream.get_error_display_message(error)
            )
            users = traced.failure_type == FailureType.config_error
            if traced.failure_type in (FailureType.config_error, FailureType.transient_error):  # the message says what happened and what to do
                logger.error(f"Stream {name} failed: {traced.message}")
            else:  # ours: the stack trace is for maintainers
                logger.exception(f"Encountered an exception while reading stream {name}")
            logger.info(f"Marking stream {name} as STOPPED")
            yield status_message(configured.stream, AirbyteStreamStatus.INCOMPLETE)
            if not users:
                yield traced.as_sanitized_airbyte_message(stream_descriptor=descriptor)
            failures.append((name, traced))
            if users and rejects_credentials(traced):
                left = [other.stream.name for other in catalog.streams[position + 1:]]
                if left:  # the same credentials and project serve every stream: each would fail the same way
                    logger.info(f"Not reading {', '.join(left)}: the credentials were rejected, and every stream uses them.")
                break
            continue
        logger.info(f"Marking stream {name} as STOPPED")
        yield status_message(configured.stream, AirbyteStreamStatus.COMPLETE)
    yield from queued_messages(source)
    if failures:
        raise failed_sync(failures)
    logger.info(f"Finished syncing {source.name}")


def _read_stream(
    source: AbstractSource,
    stream: Stream,
    configured: ConfiguredAirbyteStream,
    state_manager: ConnectorStateManager,
    internal_config: InternalConfig,
    logger: logging.Logger,
) -> Iterator[AirbyteMessage]:
    name = configured.stream.name
    if internal_config.page_size and isinstance(stream, HttpStream):
        stream.page_size = internal_config.page_size
    stream.log_stream_sync_configuration()
    stream_state = state_manager.get_stream_state(name, stream.namespace)
    if stream_state == {"__ab_no_cursor_state_message": True}:  # the platform's terminal full-refresh marker, as the CDK reads it
        stream_state = {}
    if "state" in dir(stream):
        stream.state = stream_state  # type: ignore[attr-defined]  # a stream with a state property
        logger.info(f"Setting state of {source.name} stream to {stream_state}")
    items = stream.read(configured, logger, DebugSliceLogger(), stream_state, state_manager, internal_config)
    schema: Optional[Mapping[str, Any]] = None  # the declared schema, for streams that yield record data: loaded once
    records = 0
    for item in items:
        if type(item) is AirbyteMessage:
            message = item
        else:  # record data (the Query API streams): made a RECORD as the CDK does
            if schema is None:
                schema = stream.get_json_schema()
            message = stream_data_to_airbyte_message(name, item, stream.transformer, schema)
        if message.type is RECORD:
            if not records:
                logger.info(f"Marking stream {name} as RUNNING")
                yield status_message(configured.stream, AirbyteStreamStatus.RUNNING)
            records += 1
            yield message
        else:
            yield message
            yield from queued_messages(source)
    logger.info(f"Read {records} records from {name} stream")


def queued_messages(source: AbstractSource) -> Iterator[AirbyteMessage]:
    """What the source's message repository holds, emptied (the CDK's queued logs and states)."""
    repository = source.message_repository
    if repository is not None:
        yield from repository.consume_queue()


def failed_sync(failures: List[Tuple[str, AirbyteTracedException]]) -> AirbyteTracedException:
    """A failed sync's last word: the streams' own messages and the most serious of their failure types."""
    kind = max((failure.failure_type or FailureType.system_error for _, failure in failures), key=lambda kind: _SEVERITY.get(kind, 3))
    names = ", ".join(name for name, _ in failures)
    said = " | ".join(failure.message or "" for _, failure in failures)
    internal = " | ".join(failure.internal_message or failure.message or "" for _, failure in failures)
    return traced(kind, f"The sync failed ({names}): {said}", internal)
