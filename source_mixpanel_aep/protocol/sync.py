"""The sync loop behind `read`: each configured stream in turn, with the protocol's stream statuses.

The loop itself is the CDK's AbstractSource.read, copied in cdk/read_loop.py without the CDK loop's
work per record (see there). Same protocol output: STARTED, RUNNING at a stream's first record,
COMPLETE, or INCOMPLETE with the stream's error trace; queued messages after every message that is
not a record; "Read N records" per stream. This module holds what a failure means here.

What differs on purpose: a failed sync ends with the streams' own messages and the most serious of
their failure types (failed_sync), where the CDK raises "During the sync, the following streams
did not sync successfully: ..." as a config_error, which would tell Airbyte the user's config is
wrong even for an outage.

A user's mistake (a config_error: rejected credentials, a stream's state that is not understood)
is said once: one ERROR line in words, and the sync's last TRACE, without a stack trace
(protocol/entry.final_message); the stream gets no error TRACE of its own. An outage (transient_error) is one
ERROR line in words too, with the stream's TRACE; only an error of ours (system_error) logs its
Python stack trace. Rejected credentials (401, 403, a missing project_id) stop the sync there
(stops_sync): every stream uses the same credentials and project, so each would fail the same way.
Any other config_error fails its stream only, and the next stream is read.
"""

from __future__ import annotations

import logging
from typing import Any, Iterator, List, Mapping, Optional

from airbyte_cdk.models import AirbyteMessage, AirbyteStateMessage, ConfiguredAirbyteCatalog, FailureType
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..cdk import read_loop
from ..cdk.errors import traced
from ..cdk.read_loop import Failures, queued_messages
from ..streams.error_table import rejects_credentials

__all__ = ["failed_sync", "queued_messages", "read_streams", "stops_sync"]
# The most serious kind wins when several streams failed: ours to fix, then an outage, then the user's.
_SEVERITY = {FailureType.system_error: 3, FailureType.transient_error: 2, FailureType.config_error: 1}


def read_streams(
    source: AbstractSource,
    logger: logging.Logger,
    config: Mapping[str, Any],
    catalog: ConfiguredAirbyteCatalog,
    state: Optional[List[AirbyteStateMessage]],
) -> Iterator[AirbyteMessage]:
    """The CDK's loop (cdk/read_loop.read_streams) with this connector's meaning of a failure."""
    return read_loop.read_streams(source, logger, config, catalog, state, stops_sync, failed_sync)


def stops_sync(error: AirbyteTracedException) -> bool:
    """A user's mistake that every later stream would repeat: Mixpanel refused the credentials or the project."""
    return rejects_credentials(error)


def failed_sync(failures: Failures) -> AirbyteTracedException:
    """A failed sync's last word: the streams' own messages and the most serious of their failure types."""
    kind = max((failure.failure_type or FailureType.system_error for _, failure in failures), key=lambda kind: _SEVERITY.get(kind, 3))
    names = ", ".join(name for name, _ in failures)
    said = " | ".join(failure.message or "" for _, failure in failures)
    internal = " | ".join(failure.internal_message or failure.message or "" for _, failure in failures)
    return traced(kind, f"The sync failed ({names}): {said}", internal)
