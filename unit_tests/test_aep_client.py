"""The loader's AEP client (source_mixpanel_aep.aep.client): Adobe's error text from each of its error shapes, the settings from the environment."""

from __future__ import annotations

import pytest
import requests

from source_mixpanel_aep.aep.client import DEFAULT_BASE_URL, AepError, AepSettings, adobe_error_text

ENV = {"AEP_ACCESS_TOKEN": "t", "AEP_API_KEY": "k", "AEP_ORG_ID": "o@AdobeOrg", "AEP_SANDBOX": "prod"}


def response(status, body, content_type="application/json"):
    answer = requests.Response()
    answer.status_code, answer._content = status, body.encode()
    answer.headers["Content-Type"] = content_type
    return answer


@pytest.mark.parametrize(
    "body, text",
    [
        pytest.param('{"type": "x", "title": "Invalid reference", "status": 400, "detail": "Referenced schema null not found"}',
                     "Invalid reference: Referenced schema null not found", id="the Schema Registry's problem shape"),
        pytest.param('{"error_code": "401013", "message": "Oauth token is not valid"}', "401013: Oauth token is not valid", id="the gateway's shape"),
        pytest.param('{"title": "Bad Request", "report": {"detailed-message": "title is required"}}',
                     'Bad Request: {"detailed-message":"title is required"}', id="a report"),
        pytest.param('{"title": "Conflict", "detail": "Conflict"}', "Conflict", id="the same text once"),
        pytest.param('["@/dataSets/1"]', '["@/dataSets/1"]', id="JSON of another shape: as it is"),
        pytest.param("<html>Bad gateway</html>", "<html>Bad gateway</html>", id="not JSON: the body"),
        pytest.param("", "no error text", id="no body"),
    ],
)
def test_adobe_error_text(body, text):
    assert adobe_error_text(response(400, body)) == text


def test_given_every_variable_then_the_settings_use_the_default_base_url_unless_told_otherwise():
    assert AepSettings.from_env(ENV) == AepSettings(DEFAULT_BASE_URL, "t", "k", "o@AdobeOrg", "prod")
    assert AepSettings.from_env({**ENV, "AEP_BASE_URL": "http://127.0.0.1:1/data/"}, sandbox="dev").base_url == "http://127.0.0.1:1/data"
    assert AepSettings.from_env(ENV, sandbox="dev").sandbox == "dev"


def test_given_missing_variables_then_one_error_names_them_all_and_shows_no_value():
    with pytest.raises(AepError) as raised:
        AepSettings.from_env({"AEP_ACCESS_TOKEN": "secret-token", "AEP_SANDBOX": " "})
    assert "Set AEP_API_KEY, AEP_ORG_ID, AEP_SANDBOX in the environment" in str(raised.value)
    assert "secret-token" not in str(raised.value)
