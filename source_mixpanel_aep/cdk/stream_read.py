"""The CDK's `Stream.read` slice loop, copied for a stream that checkpoints per slice (the `events` stream).

Copies `airbyte_cdk.sources.streams.core.Stream.read` (the loop over slices: the slice log line in
debug mode, each slice's records, the record limit of test reads) and `Stream._checkpoint_state`
(a STATE through the state manager's public methods), without the generic per-record work: the
CDK asks the checkpoint reader for state and checks the record limit after every record, which
cost as much as parsing and mapping the event. What is checkpointed when is the stream's own
(`checkpoint` below, called by it); this module only keeps the CDK's order of messages.

This is the only copy of that control flow; `cdk/upstream.py` (COPIED) holds a digest of each
upstream function, and the drift test fails, naming what to re-read, when a CDK upgrade changes them.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable, Dict, Iterable, Iterator, Mapping, TypeVar

from airbyte_cdk.models import AirbyteMessage, AirbyteRecordMessage, Type
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.utils.schema_helpers import InternalConfig
from airbyte_cdk.sources.utils.slice_logger import SliceLogger

RECORD = Type.RECORD  # bound once: on Python 3.11 `Type.RECORD` is a Python-level EnumType.__getattr__ call
Slice = TypeVar("Slice")
# The field order record_message relies on; checked once at import against the installed protocol classes.
_MESSAGE_FIELDS = ("type", "log", "spec", "connectionStatus", "catalog", "record")
_RECORD_FIELDS = ("stream", "data", "emitted_at")


def _positional_order_holds() -> bool:
    message = tuple(field.name for field in dataclasses.fields(AirbyteMessage))[: len(_MESSAGE_FIELDS)]
    record = tuple(field.name for field in dataclasses.fields(AirbyteRecordMessage))[: len(_RECORD_FIELDS)]
    return message == _MESSAGE_FIELDS and record == _RECORD_FIELDS


def _positional_record_message(stream: str, data: Dict[str, Any], emitted_at: int) -> AirbyteMessage:
    return AirbyteMessage(RECORD, None, None, None, None, AirbyteRecordMessage(stream, data, emitted_at))  # type: ignore[arg-type]


def _keyword_record_message(stream: str, data: Dict[str, Any], emitted_at: int) -> AirbyteMessage:
    return AirbyteMessage(type=RECORD, record=AirbyteRecordMessage(stream=stream, data=data, emitted_at=emitted_at))


POSITIONAL = _positional_order_holds()
# A RECORD message for one event. Positional arguments: the protocol dataclasses' generated __init__ takes them
# at half the cost of keywords, once per record. That depends on the classes' field order, which the pinned
# protocol package does not promise: checked above at import, with the keyword form as the fallback, and
# cdk/upstream.py's digests of both classes make the drift test fail on any change.
record_message: Callable[[str, Dict[str, Any], int], AirbyteMessage] = (
    _positional_record_message if POSITIONAL else _keyword_record_message
)


def read_slices(
    slices: Iterable[Slice],
    messages_of: Callable[[Slice], Iterator[AirbyteMessage]],
    as_slice: Callable[[Slice], Mapping[str, Any]],
    *,
    logger: logging.Logger,
    slice_logger: SliceLogger,
    internal_config: InternalConfig,
    before_slice: Callable[[], Iterator[AirbyteMessage]],
    records_read: Callable[[], int],
    at_limit: Callable[[], Iterator[AirbyteMessage]],
    at_end: Callable[[], Iterator[AirbyteMessage]],
) -> Iterator[AirbyteMessage]:
    """Stream.read's loop: per slice, `before_slice`'s messages (a STATE that was waiting), the slice log, its messages.

    A test read (`internal_config.limit`) stops a slice at the limit, as the CDK does, and ends the
    read with `at_limit`'s messages once `records_read()` (the whole read's count) reaches it;
    otherwise `at_end`'s follow the last slice (the final STATE, or the error the read ends with).
    The stream's `read` returns this generator itself: no generator of its own in between, so a
    RECORD passes through as many frames as before the copy moved here.
    """
    limited = bool(internal_config.limit)
    for item in slices:
        yield from before_slice()
        if slice_logger.should_log_slice_message(logger):
            yield slice_logger.create_slice_log_message(as_slice(item))
        if not limited:
            yield from messages_of(item)
        else:  # a test read (connector builder, acceptance tests) that wants only a few records
            taken = 0
            for message in messages_of(item):
                yield message
                taken += message.type is RECORD
                if internal_config.is_limit_reached(taken):
                    break
        if limited and internal_config.is_limit_reached(records_read()):
            yield from at_limit()
            return
    yield from at_end()


def checkpoint(name: str, namespace: Any, state: Mapping[str, Any], state_manager: ConnectorStateManager) -> AirbyteMessage:
    """Stream._checkpoint_state: the stream's state into the state manager, and the STATE message it makes of it."""
    state_manager.update_state_for_stream(name, namespace, state)
    return state_manager.create_state_message(name, namespace)
