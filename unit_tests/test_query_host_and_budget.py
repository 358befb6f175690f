"""The Query API's host (region, query_base_url, base_url) and its pacing budget."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_mixpanel_aep.config import parse_config
from source_mixpanel_aep.streams.query import QUERIES_PER_HOUR, QueryBudget

SECRET = {"auth_type": "project_secret", "api_secret": "fake-project-secret-0000"}


@pytest.mark.parametrize(
    "settings, expected",
    [
        ({}, "https://mixpanel.com"),
        ({"region": "US"}, "https://mixpanel.com"),
        ({"region": "EU"}, "https://eu.mixpanel.com"),
        ({"region": "IN"}, "https://in.mixpanel.com"),
        ({"region": "EU", "query_base_url": "https://proxy.example.com/mp/"}, "https://proxy.example.com/mp"),
        ({"base_url": "http://127.0.0.1:8080"}, "http://127.0.0.1:8080"),  # never a host the config does not name
        ({"base_url": "http://127.0.0.1:8080", "query_base_url": "http://localhost:9090"}, "http://localhost:9090"),
        ({"region": "IN", "query_base_url": "http://[::1]:81"}, "http://[::1]:81"),
    ],
)
def test_query_host(settings, expected):
    assert parse_config({"credentials": SECRET, **settings}).query_base_url == expected


@pytest.mark.parametrize("region, export_host", [("US", "https://data.mixpanel.com"), ("EU", "https://data-eu.mixpanel.com"), ("IN", "https://data-in.mixpanel.com")])
def test_the_export_host_is_unchanged_by_the_query_host(region, export_host):
    assert parse_config({"credentials": SECRET, "region": region}).base_url == export_host


@pytest.mark.parametrize(
    "value, problem",
    [
        ("http://query.example.com", "plain http"),
        ("ftp://query.example.com", "not an http(s) URL"),
        ("https://user:pw@query.example.com", "user name or password"),
        ("https://query.example.com/?a=1", "query string"),
        ("", "is empty"),
    ],
)
def test_a_bad_query_base_url_is_a_config_error_naming_it(value, problem):
    with pytest.raises(AirbyteTracedException) as raised:
        parse_config({"credentials": SECRET, "query_base_url": value})
    assert raised.value.failure_type == FailureType.config_error
    assert "'query_base_url'" in raised.value.message and problem in raised.value.message
    assert "pw" not in raised.value.message


def test_a_query_base_url_that_is_not_a_string_is_a_config_error_naming_it():
    with pytest.raises(AirbyteTracedException) as raised:
        parse_config({"credentials": SECRET, "query_base_url": 8080})
    assert "query_base_url" in raised.value.message


def request(body: str = "") -> SimpleNamespace:
    return SimpleNamespace(body=body)


def test_pages_of_a_session_are_never_paced_and_new_queries_only_after_60_in_an_hour(clock):
    budget = QueryBudget(clock=clock.monotonic, sleep=clock.sleep)
    for _ in range(QUERIES_PER_HOUR):
        budget.acquire_call(request(""))  # a new query (page 0, cohorts/list)
        for page in range(1, 30):
            budget.acquire_call(request(f"session_id=1700000001-X&page={page}"))
        clock.advance(1.0)
    assert clock.sleeps == []  # 60 queries of 30 pages each: 1,800 requests, no wait
    budget.acquire_call(request("filter_by_cohort=%7B%22id%22%3A+7%7D"))
    assert clock.sleeps == [pytest.approx(3600.0 - QUERIES_PER_HOUR)]  # the 61st query waits for the first to leave the hour


def test_bytes_bodies_are_read_too(clock):
    budget = QueryBudget(clock=clock.monotonic, sleep=clock.sleep)
    for _ in range(QUERIES_PER_HOUR + 5):
        budget.acquire_call(request(b"session_id=abc&page=3"))
    assert clock.sleeps == []
