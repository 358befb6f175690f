"""Wiring only: spec from spec.json, check through one tiny export request, one `events` stream.

The config is checked by `parse_config` (spec.json's schema plus what a schema can't say) in every
verb, through run.SourceEntrypoint.validate_connection, so a mistake's message names the field.
"""

from __future__ import annotations

import logging
from typing import Any, Iterator, List, Mapping, Optional, Tuple

from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteErrorTraceMessage,
    AirbyteMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    ConnectorSpecification,
    FailureType,
    Status,
    TraceType,
    Type,
)
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from .config import SPEC, parse_config
from .state import read_state_file
from .streams import ExportStream
from .streams.http import CHECK_SETTINGS

TRACE = Type.TRACE  # looked at per message: bound once (on Python 3.11 `Type.X` is a Python-level call)
# The most serious kind wins when several streams failed: ours to fix, then an outage, then the user's.
_SEVERITY = {FailureType.system_error: 3, FailureType.transient_error: 2, FailureType.config_error: 1}


class SourceMixpanelAep(AbstractSource):
    check_config_against_spec = True  # through run.SourceEntrypoint.validate_connection: parse_config

    @classmethod
    def read_state(cls, state_path: str) -> List[AirbyteStateMessage]:
        """The --state file in any shape a user may bring (see state.py); a config_error if it is not understood."""
        return read_state_file(state_path, logging.getLogger("airbyte")) if state_path else []

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return ConnectorSpecification(**SPEC)

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        ok, message = self.check_connection(logger, config)
        return AirbyteConnectionStatus(status=Status.SUCCEEDED if ok else Status.FAILED, message=message)

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> Tuple[bool, Optional[str]]:
        """One export request for a single event, within CHECK_BUDGET_SECONDS; what went wrong is the FAILED status's message."""
        try:
            ExportStream(parse_config(config), settings=CHECK_SETTINGS).probe()
        except AirbyteTracedException as error:
            return False, error.message
        return True, None

    def streams(self, config: Mapping[str, Any]) -> List[Stream]:
        return [ExportStream(parse_config(config))]

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> Iterator[AirbyteMessage]:
        """The CDK's read, ending a failed sync with the streams' own error, not a generic config_error.

        When a stream fails, the CDK emits that stream's error trace and then ends the sync by raising
        "During the sync, the following streams did not sync successfully: ..." as a config_error,
        which tells Airbyte the user's config is wrong even for an outage. The sync still ends with an
        error (non-zero exit), but its last trace carries the streams' messages and the most serious
        of their failure types.
        """
        failures: List[AirbyteErrorTraceMessage] = []
        try:
            for message in super().read(logger, config, catalog, state):
                if message.type is TRACE and message.trace.type == TraceType.ERROR:
                    failures.append(message.trace.error)
                yield message
        except AirbyteTracedException as summary:
            if not failures:
                raise
            kind = max((failure.failure_type or FailureType.system_error for failure in failures), key=lambda kind: _SEVERITY.get(kind, 3))
            names = ", ".join(sorted({failure.stream_descriptor.name for failure in failures if failure.stream_descriptor}))
            said = " | ".join(failure.message for failure in failures)
            message = f"The sync failed ({names or 'a stream'}): {said}"
            raise AirbyteTracedException(message=message, internal_message=summary.message, failure_type=kind) from None
