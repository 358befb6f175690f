"""The Query API streams send requests only to the configured host, over verified TLS, and never print a secret."""

from __future__ import annotations

import json
import re

import orjson
import pytest
import requests_mock
from airbyte_cdk.models import AirbyteMessageSerializer

from integration_tests.builders import CREDENTIALS, FakeSleeps, catalog_json, config, run_entrypoint, run_read, stream_records, write_files
from integration_tests.fake_mixpanel import FakeMixpanel
from integration_tests.test_secrets import secrets_of

ENGAGE_PAGE = {"page": 0, "page_size": 1000, "session_id": "s-1", "status": "ok", "total": 1,
               "results": [{"$distinct_id": "only-one", "$properties": {"$last_seen": "2024-01-01T00:00:00"}}]}


@pytest.mark.parametrize(
    "overrides, base",
    [
        ({}, "https://mixpanel.com"),
        ({"region": "EU"}, "https://eu.mixpanel.com"),
        ({"region": "IN"}, "https://in.mixpanel.com"),
        ({"region": "EU", "query_base_url": "https://query-proxy.example.com/mp/"}, "https://query-proxy.example.com/mp"),
        ({"base_url": "https://mixpanel-proxy.example.com"}, "https://mixpanel-proxy.example.com"),
    ],
    ids=["us", "eu", "in", "query-base-url", "base-url-serves-both"],
)
def test_given_a_region_or_override_when_query_streams_read_then_every_request_goes_to_that_host_over_verified_tls(monkeypatch, overrides, base):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # verification on, with the default CA store
        monkeypatch.delenv(name, raising=False)
    cfg = {"credentials": CREDENTIALS["project_secret"], **overrides}
    with requests_mock.Mocker() as mock:
        mock.post(re.compile(r".*/api/query/engage$|.*/api/query/engage\?.*"), json=ENGAGE_PAGE)
        mock.post(re.compile(r".*/api/query/cohorts/list.*"), json=[{"id": 3, "name": "c"}])
        output = run_read(cfg, streams=["profiles", "cohorts", "cohort_members"])
        sent = list(mock.request_history)
    assert [r["distinct_id"] for r in stream_records(output, "profiles")] == ["only-one"]
    assert [(r["cohort_id"], r["distinct_id"]) for r in stream_records(output, "cohort_members")] == [(3, "only-one")]
    assert len(sent) == 4  # profiles page 0, cohorts/list, cohorts/list again for the members' slices, cohort 3's page 0
    for request in sent:
        assert request.url.startswith(f"{base}/api/query/"), request.url
        assert request.method == "POST" and request.verify is True


@pytest.mark.parametrize("auth", ["service_account", "project_secret", "oauth_token"])
@pytest.mark.parametrize("path", ["retries", "rejected"])
def test_given_any_auth_form_when_query_streams_read_with_debug_logs_then_no_secret_is_printed(tmp_path, monkeypatch, capfd, auth, path):
    FakeSleeps().install(monkeypatch)
    with FakeMixpanel(profiles=15, page_size=10, cohorts=[{"id": 1, "members": ["a"]}], credentials_valid=path != "rejected") as fake:
        fake.add_fault("status", status=429, headers={"Retry-After": "0"})
        fake.add_fault("none")
        fake.add_fault("expire_session")
        files = write_files(tmp_path, config=config(fake.url, auth=auth), catalog=catalog_json(streams=["profiles", "cohorts", "cohort_members"]))
        output = run_entrypoint(["read", "--debug", "--config", files["config"], "--catalog", files["catalog"]])
    printed = capfd.readouterr()
    text = printed.out + printed.err + "\n".join(orjson.dumps(AirbyteMessageSerializer.dump(m)).decode() for m in output.get_message_iterator())
    assert [secret for secret in secrets_of(CREDENTIALS[auth]) if secret in text] == []
    assert "Making outbound API request" in text  # the debug log of each request, headers included, was on
    if path == "rejected":
        assert output.errors and not output.records
    else:
        assert not output.errors and len(stream_records(output, "profiles")) >= 15
        assert json.loads(json.dumps(stream_records(output, "cohort_members"))) == [{"cohort_id": 1, "distinct_id": "a"}]
