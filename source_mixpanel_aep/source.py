"""Wiring only: spec from spec.json, check through one tiny export request; the streams of `streams.STREAM_CLASSES`.

The config is checked by `parse_config` (spec.json's schema plus what a schema can't say) in every
verb, through protocol/entry.SourceEntrypoint.validate_connection, so a mistake's message names the field.
"""

from __future__ import annotations

import logging
from typing import Any, Iterator, List, Mapping, MutableMapping, Optional, Tuple

from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteStateMessage,
    AirbyteStateType,
    ConfiguredAirbyteCatalog,
    ConnectorSpecification,
    Status,
)
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from .clock import SYSTEM_CLOCK, Clock
from .config import SPEC, parse_config, read_config_file
from .config_warnings import config_warnings
from .protocol.catalog_file import read_catalog_file
from .protocol.state import read_state_file, state_file_error
from .protocol.sync import read_streams
from .streams import STREAM_CLASSES, ExportStream
from .streams.query import QueryBudget, QueryStream
from .streams.settings import CHECK_SETTINGS


class SourceMixpanelAep(AbstractSource):
    check_config_against_spec = True  # through protocol/entry.SourceEntrypoint.validate_connection: parse_config

    def __init__(self, clock: Clock = SYSTEM_CLOCK):
        super().__init__()
        self.clock = clock  # every stream and pacing budget reads the time from it (clock.py): a test passes a fake one

    @staticmethod
    def read_config(config_path: str) -> MutableMapping[str, Any]:
        """The --config file; a config_error (not the CDK's "Something went wrong") if it is not a JSON object."""
        return read_config_file(config_path)

    @classmethod
    def read_state(cls, state_path: str) -> List[AirbyteStateMessage]:
        """The --state file in any shape a user may bring (see state.py); a config_error if it is not understood."""
        messages = read_state_file(state_path, logging.getLogger("airbyte")) if state_path else []
        for message in messages:  # the serializer lets {"type": "STREAM"} through without its stream: the CDK's state manager fails on it
            if message.type == AirbyteStateType.STREAM and (message.stream is None or message.stream.stream_descriptor is None):
                raise state_file_error("has a STREAM state message without its stream (stream_descriptor and stream_state)")
        return messages

    @classmethod
    def read_catalog(cls, catalog_path: str) -> ConfiguredAirbyteCatalog:
        """The --catalog file; a config_error saying what is wrong with it (the CDK's answer is a system_error with a stack trace)."""
        return read_catalog_file(catalog_path)

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return ConnectorSpecification(**SPEC)

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        """A connection that works SUCCEEDs even with unknown config keys or unused XDM settings: they are WARNed and repeated in the status message."""
        warnings = _warn_unknown_keys(logger, config)
        ok, message = self.check_connection(logger, config)
        if ok and warnings:
            message = "Connected, but: " + " ".join(warnings)
        return AirbyteConnectionStatus(status=Status.SUCCEEDED if ok else Status.FAILED, message=message)

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> Tuple[bool, Optional[str]]:
        """One export request for a single event, within CHECK_BUDGET_SECONDS; what went wrong is the FAILED status's message."""
        try:
            ExportStream(parse_config(config, now=self.clock.now), settings=CHECK_SETTINGS, clock=self.clock).probe()
        except AirbyteTracedException as error:
            return False, error.message
        return True, None

    def read(
        self, logger: logging.Logger, config: Mapping[str, Any], catalog: ConfiguredAirbyteCatalog, state: Optional[List[AirbyteStateMessage]] = None
    ) -> Iterator[AirbyteMessage]:
        """The sync loop (sync.read_streams): the CDK's, without its per-record work, ending a failed sync honestly."""
        return read_streams(self, logger, config, catalog, state)

    def streams(self, config: Mapping[str, Any]) -> List[Stream]:
        """Called once by discover and once by read: each warns about unknown config keys there."""
        _warn_unknown_keys(logging.getLogger("airbyte"), config)
        clock = self.clock
        parsed = parse_config(config, now=clock.now)
        budget = QueryBudget(clock=clock.monotonic, sleep=clock.sleep)  # one project, one Query API budget for all the query streams
        return [
            stream_class(parsed, budget=budget, clock=clock) if issubclass(stream_class, QueryStream) else stream_class(parsed, clock=clock)
            for stream_class in STREAM_CLASSES  # streams/__init__.py: the catalog's streams, in discover's order
        ]


def _warn_unknown_keys(logger: logging.Logger, config: Mapping[str, Any]) -> List[str]:
    """Unknown keys, XDM settings without output_format xdm, a retiring project secret (config.config_warnings): WARNed."""
    warnings = config_warnings(config)
    for warning in warnings:
        logger.warning(warning)
    return warnings
