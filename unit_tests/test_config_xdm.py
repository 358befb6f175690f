"""parse_config for XDM output: output_format, xdm_tenant_id, identity_namespaces, xdm_fields."""

import datetime as dt

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_mixpanel_aep.config import parse_config
from source_mixpanel_aep.records.xdm import DEFAULT_NAMESPACES, xdm_settings

NOW = dt.datetime(2024, 6, 15, 3, 0, tzinfo=dt.timezone.utc)
BASE = {"credentials": {"auth_type": "project_secret", "api_secret": "not-a-real-secret"}}


def parse(**overrides):
    return parse_config({**BASE, **overrides}, now=lambda: NOW)


def test_given_no_output_format_then_flat_and_no_xdm_settings():
    parsed = parse()
    assert (parsed.output_format, parsed.xdm) == ("flat", None)


@pytest.mark.parametrize("tenant", ["extconndev", "_extconndev", " _extconndev "])
def test_given_xdm_then_the_tenant_is_kept_without_its_underscore_and_namespaces_default(tenant):
    parsed = parse(output_format="xdm", xdm_tenant_id=tenant)
    settings = xdm_settings(parsed.xdm)
    assert settings.tenant == "extconndev" and settings.tenant_key == "_extconndev"
    assert dict(settings.namespaces) == dict(DEFAULT_NAMESPACES)
    assert settings.fields == ()


def test_given_some_namespaces_then_the_others_keep_their_default_and_null_leaves_one_out():
    parsed = parse(output_format="xdm", xdm_tenant_id="acme", identity_namespaces={"distinct_id": "Email", "device_id": None})
    assert dict(parsed.xdm.namespaces) == {"distinct_id": "Email", "device_id": None, "user_id": "MixpanelUserId"}


def test_given_xdm_fields_then_they_are_promoted_with_derived_names():
    parsed = parse(output_format="xdm", xdm_tenant_id="acme", xdm_fields={"$browser": "string", "seats": "integer"})
    assert dict(parsed.xdm.fields) == {"$browser": "string", "seats": "integer"}  # config keeps them as given
    assert [(f.source, f.name, f.xdm_type) for f in xdm_settings(parsed.xdm).fields] == [("$browser", "browser", "string"), ("seats", "seats", "integer")]


@pytest.mark.parametrize(
    "overrides, field",
    [
        pytest.param({"output_format": "parquet"}, "output_format", id="unknown format"),
        pytest.param({"output_format": None}, "output_format", id="null format"),
        pytest.param({"output_format": "xdm"}, "xdm_tenant_id", id="xdm without tenant"),
        pytest.param({"output_format": "xdm", "xdm_tenant_id": ""}, "xdm_tenant_id", id="empty tenant"),
        pytest.param({"output_format": "xdm", "xdm_tenant_id": "_"}, "xdm_tenant_id", id="only the underscore"),
        pytest.param({"output_format": "xdm", "xdm_tenant_id": "my tenant"}, "xdm_tenant_id", id="a space"),
        pytest.param({"output_format": "xdm", "xdm_tenant_id": 42}, "xdm_tenant_id", id="a number"),
        pytest.param({"xdm_tenant_id": "a.b"}, "xdm_tenant_id", id="checked with flat output too"),
        pytest.param({"identity_namespaces": ["Email"]}, "identity_namespaces", id="namespaces not an object"),
        pytest.param({"identity_namespaces": {"email": "Email"}}, "identity_namespaces.email", id="an unknown id"),
        pytest.param({"identity_namespaces": {"user_id": ""}}, "identity_namespaces.user_id", id="an empty code"),
        pytest.param({"identity_namespaces": {"user_id": 7}}, "identity_namespaces.user_id", id="a number code"),
        pytest.param({"identity_namespaces": {"user_id": "has space"}}, "identity_namespaces.user_id", id="a code with a space"),
        pytest.param({"xdm_fields": ["$browser"]}, "xdm_fields", id="fields not an object"),
        pytest.param({"xdm_fields": {"$browser": "text"}}, "xdm_fields.$browser", id="an unknown type"),
        pytest.param({"xdm_fields": {"$browser": None}}, "xdm_fields.$browser", id="a null type"),
        pytest.param({"xdm_fields": {"": "string"}}, "xdm_fields", id="an empty property name"),
        pytest.param({"xdm_fields": {"distinct_id": "string"}}, "xdm_fields.distinct_id", id="a property that is already a field"),
        pytest.param({"xdm_fields": {"time": "integer"}}, "xdm_fields.time", id="time is already a field"),
        pytest.param({"xdm_fields": {"$insert_id": "string"}}, "xdm_fields.$insert_id", id="$insert_id is already a field"),
    ],
)
def test_given_a_bad_xdm_setting_then_a_config_error_names_the_field(overrides, field):
    with pytest.raises(AirbyteTracedException) as raised:
        parse(**overrides)
    assert raised.value.failure_type == FailureType.config_error
    assert raised.value.message.startswith(f"Config field '{field}':"), raised.value.message
