"""cdk/http_errors against the CDK's real HttpClient: the shapes of the exceptions it raises, which the connector reads."""

import logging

import pytest
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http import HttpClient
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_mixpanel_aep.cdk.http_errors import error_table_words, last_attempt, retries_ran_out, says_only_gave_up
from source_mixpanel_aep.streams.backoff import backoff_strategy
from source_mixpanel_aep.streams.error_table import CREDENTIALS_REJECTED, ExportErrorHandler, rejects_credentials
from source_mixpanel_aep.streams.failure_words import last_failure
from source_mixpanel_aep.streams.settings import HttpSettings

NO_RETRY = HttpSettings(0, 5.0, 8.0, 1.0, 10.0, True)  # the HttpClient gives up at the first failure: nothing sleeps


def answered(monkeypatch, status, body):
    def send(session, request, **kwargs):
        response = requests.Response()
        response.status_code, response._content, response.url, response.request = status, body, request.url, request
        return response

    monkeypatch.setattr(requests.Session, "send", send)


def failure(monkeypatch, status, body) -> AirbyteTracedException:
    answered(monkeypatch, status, body)
    client = HttpClient(
        name="events", logger=logging.getLogger("test"), error_handler=ExportErrorHandler(42, NO_RETRY), backoff_strategy=backoff_strategy(NO_RETRY)
    )
    with pytest.raises(AirbyteTracedException) as raised:
        client.send_request("GET", "https://data.mixpanel.test/api/2.0/export", request_kwargs={})
    return raised.value


def test_given_the_error_table_says_fail_then_the_exception_carries_its_words(monkeypatch):
    error = failure(monkeypatch, 401, b'{"error": "Invalid username or secret"}')
    assert error_table_words(error).startswith(CREDENTIALS_REJECTED) and error.failure_type == FailureType.config_error
    assert rejects_credentials(error)
    assert not retries_ran_out(error)


def test_given_the_retries_ran_out_then_the_last_answer_is_the_exceptions_context(monkeypatch):
    error = failure(monkeypatch, 503, b"upstream busy")
    assert retries_ran_out(error)
    assert last_attempt(error).response.status_code == 503
    assert last_failure(error) == "HTTP 503: upstream busy"
    assert says_only_gave_up(error.message or "")
    assert not rejects_credentials(error)
