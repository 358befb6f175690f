"""The CDK's sync loop, copied: AbstractSource.read and AbstractSource._read_stream, without their work per record.

Copied from airbyte_cdk.sources.abstract_source (registered in cdk/upstream.py: a CDK upgrade that
changes either fails unit_tests/test_cdk_drift.py, naming these functions to re-read). Kept from the
CDK, in the same order: the state manager, the page size of InternalConfig, the terminal
full-refresh marker (NO_CURSOR_STATE_KEY) read as no state, a stream's `state` set before its read,
STARTED / RUNNING at the first record / COMPLETE or INCOMPLETE statuses, record data made a RECORD
(stream_data_to_airbyte_message), queued messages after every message that is not a record,
"Read N records". Left out: the CDK loop's match on each item's type, its enum lookups and its
generator of queued messages per record, 6% of the connector's instructions per event.

What a failed stream means is the caller's (protocol/sync.py): `stops_sync` says whether no further
stream is worth reading, `failed_sync` builds the exception a failed sync ends with.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterator, List, Mapping, Optional, Tuple

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
from airbyte_cdk.sources.streams.core import NO_CURSOR_STATE_KEY
from airbyte_cdk.sources.streams.http import HttpStream
from airbyte_cdk.sources.utils.record_helper import stream_data_to_airbyte_message
from airbyte_cdk.sources.utils.schema_helpers import InternalConfig, split_config
from airbyte_cdk.sources.utils.slice_logger import DebugSliceLogger
from airbyte_cdk.utils.stream_status_utils import as_airbyte_message as status_message
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

RECORD = Type.RECORD  # looked at per message: on Python 3.11 `Type.X` runs EnumType.__getattr__
Failures = List[Tuple[str, AirbyteTracedException]]


def read_streams(
    source: AbstractSource,
    logger: logging.Logger,
    config: Mapping[str, Any],
    catalog: ConfiguredAirbyteCatalog,
    state: Optional[List[AirbyteStateMessage]],
    stops_sync: Callable[[AirbyteTracedException], bool],
    failed_sync: Callable[[Failures], Exception],
) -> Iterator[AirbyteMessage]:
    """AbstractSource.read: each configured stream in turn; a stream's failure is reported and the next stream read."""
    logger.info(f"Starting syncing {source.name}")
    config, internal_config = split_config(config)
    streams = {stream.name: stream for stream in source.streams(config)}
    state_manager = ConnectorStateManager(state=state)
    failures: Failures = []
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
            yield from read_stream(source, stream, configured, state_manager, internal_config, logger)
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
            if users and stops_sync(traced):
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


def read_stream(
    source: AbstractSource,
    stream: Stream,
    configured: ConfiguredAirbyteStream,
    state_manager: ConnectorStateManager,
    internal_config: InternalConfig,
    logger: logging.Logger,
) -> Iterator[AirbyteMessage]:
    """AbstractSource._read_stream: one stream's messages, its RUNNING status at the first record."""
    name = configured.stream.name
    if internal_config.page_size and isinstance(stream, HttpStream):
        stream.page_size = internal_config.page_size
    stream.log_stream_sync_configuration()
    stream_state = state_manager.get_stream_state(name, stream.namespace)
    if stream_state == {NO_CURSOR_STATE_KEY: True}:  # the platform's terminal full-refresh marker, as the CDK reads it
        stream_state = {}
    if "state" in dir(stream):  # as the CDK tells a stream with a state property
        stream.state = stream_state  # type: ignore[attr-defined]
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
    """What the source's message repository holds, emptied (the CDK's queued logs and states): AirbyteEntrypoint._emit_queued_messages."""
    repository = source.message_repository
    if repository is not None:
        yield from repository.consume_queue()
