"""Wiring only: spec from spec.json, check through one tiny export request; `events`, `profiles`, `cohorts`, `cohort_members`."""

from __future__ import annotations

import logging
from typing import Any, List, Mapping, Optional, Tuple

from airbyte_cdk.models import AirbyteConnectionStatus, AirbyteStateMessage, ConnectorSpecification, Status
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from .config import SPEC, parse_config
from .state import read_state_file
from .streams import ExportStream
from .streams.cohorts import CohortMembersStream, CohortsStream
from .streams.messages import RecordSink
from .streams.profiles import ProfilesStream
from .streams.query import QueryBudget

CHECK_RETRIES = 1  # check answers in seconds: one retry, not the read's minutes of backoff


class SourceMixpanelAep(AbstractSource):
    check_config_against_spec = True  # through run.SourceEntrypoint.validate_connection: parse_config

    def __init__(self) -> None:
        super().__init__()
        self.record_sink: Optional[RecordSink] = None  # set by run.SourceEntrypoint for a command-line read

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
        try:
            ExportStream(parse_config(config), max_retries=CHECK_RETRIES).probe()
        except AirbyteTracedException as error:
            return False, error.message
        return True, None

    def streams(self, config: Mapping[str, Any]) -> List[Stream]:
        parsed = parse_config(config)
        budget = QueryBudget()  # one project, one Query API budget for the three query streams
        return [
            ExportStream(parsed, record_sink=self.record_sink),
            ProfilesStream(parsed, budget=budget),
            CohortsStream(parsed, budget=budget),
            CohortMembersStream(parsed, budget=budget),
        ]
