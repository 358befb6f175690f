"""The CDK's HttpClient for the export API, put together: auth, error table, backoff and pacing."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from airbyte_cdk.sources.streams.call_rate import AbstractAPIBudget
from airbyte_cdk.sources.streams.http import HttpClient

from ..config import MixpanelConfig
from .auth import authenticator
from .backoff import ExportBackoffStrategy
from .error_table import ExportErrorHandler
from .settings import HttpSettings


def export_client(config: MixpanelConfig, settings: HttpSettings, logger: logging.Logger, budget: AbstractAPIBudget, backoff: ExportBackoffStrategy) -> HttpClient:
    """The CDK's HttpClient with our auth, error table, backoff and pacing: every export request goes through one."""
    return HttpClient(
        name="events",
        logger=logger,
        error_handler=ExportErrorHandler(config.project_id, settings, host=urlsplit(config.base_url).hostname),
        api_budget=budget,  # type: ignore[arg-type]  # the HttpClient only calls acquire_call/update_from_response
        authenticator=authenticator(config.credentials),
        backoff_strategy=backoff,
    )
