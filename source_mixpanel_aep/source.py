"""Wiring only: spec from spec.json, check through one tiny export request, one `events` stream."""

from __future__ import annotations

import json
import logging
from importlib import resources
from typing import Any, List, Mapping, Optional, Tuple

from airbyte_cdk.models import AirbyteConnectionStatus, ConnectorSpecification, Status
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from .config import parse_config
from .streams import ExportStream

CHECK_RETRIES = 1  # check answers in seconds: one retry, not the read's minutes of backoff


class SourceMixpanelAep(AbstractSource):
    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        spec = json.loads(resources.files(__package__).joinpath("spec.json").read_text(encoding="utf-8"))
        return ConnectorSpecification.from_dict(spec) if hasattr(ConnectorSpecification, "from_dict") else ConnectorSpecification(**spec)

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
        return [ExportStream(parse_config(config))]
