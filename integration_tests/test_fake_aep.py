"""The fake AEP itself: it listens on loopback only, records requests, and refuses what AEP refuses, so the loader's tests mean something."""

from __future__ import annotations

import pytest
import requests

from integration_tests.fake_aep import FakeAep

EVENT_CLASS = "https://ns.adobe.com/xdm/context/experienceevent"


@pytest.fixture
def aep():
    with FakeAep() as server:
        yield server


def call(aep, method, path, body=None, **headers):
    auth = {"Authorization": f"Bearer {aep.env()['AEP_ACCESS_TOKEN']}", "x-api-key": aep.env()["AEP_API_KEY"],
            "x-gw-ims-org-id": aep.env()["AEP_ORG_ID"], "x-sandbox-name": "s"}
    return requests.request(method, aep.url + path, json=body, headers={**auth, **headers}, timeout=10)


def group(title="G"):
    return {"title": title, "type": "object", "meta:intendedToExtend": [EVENT_CLASS],
            "definitions": {"d": {"properties": {"_acme": {"type": "object", "properties": {"a": {"type": "string"}}}}}}}


def test_it_listens_on_loopback_only_and_records_every_request(aep):
    assert aep.url.startswith("http://127.0.0.1:") and aep.url.endswith("/data")
    call(aep, "GET", "/core/idnamespace/identities")
    assert aep.calls() == ["GET /core/idnamespace/identities"] and aep.requests[0].status == 200


@pytest.mark.parametrize(
    "header, value, status, text",
    [
        pytest.param("Authorization", "Bearer wrong", 401, "Oauth token is not valid", id="wrong token"),
        pytest.param("x-api-key", "wrong", 403, "Api Key is invalid", id="wrong api key"),
        pytest.param("x-gw-ims-org-id", "other@AdobeOrg", 403, "not part of the IMS org", id="wrong org"),
        pytest.param("x-sandbox-name", "", 400, "x-sandbox-name", id="no sandbox"),
    ],
)
def test_it_refuses_wrong_credentials_as_adobes_gateway_does(aep, header, value, status, text):
    answer = call(aep, "GET", "/core/idnamespace/identities", **{header: value})
    assert answer.status_code == status and text in answer.text


@pytest.mark.parametrize("ref", ["{{FIELD_GROUP_ID}}", "null", None], ids=["the placeholder", "null", "no ref"])
def test_a_schema_that_refers_to_no_field_group_is_400(aep, ref):
    answer = call(aep, "POST", "/foundation/schemaregistry/tenant/schemas", {"title": "S", "allOf": [{"$ref": EVENT_CLASS}, {"$ref": ref}]})
    assert answer.status_code == 400 and f"Referenced schema {ref} not found" in answer.json()["detail"]


def test_a_second_field_group_of_the_same_title_is_409_and_a_field_group_only_grows(aep):
    created = call(aep, "POST", "/foundation/schemaregistry/tenant/fieldgroups", group()).json()
    assert call(aep, "POST", "/foundation/schemaregistry/tenant/fieldgroups", group()).status_code == 409
    path = "/foundation/schemaregistry/tenant/fieldgroups/" + requests.utils.quote(created["$id"], safe="")
    field = "/definitions/d/properties/_acme/properties/"
    assert call(aep, "PATCH", path, [{"op": "add", "path": field + "b", "value": {"type": "string"}}]).status_code == 200
    assert call(aep, "PATCH", path, [{"op": "add", "path": field + "a", "value": {"type": "integer"}}]).status_code == 400
    assert call(aep, "PATCH", path, [{"op": "remove", "path": field + "b"}]).status_code == 400


def test_a_queued_fault_answers_first_then_the_request_is_served(aep):
    aep.add_fault(503, method="GET", path="identities", body={"title": "Service Unavailable", "detail": "try later"})
    first, second = call(aep, "GET", "/core/idnamespace/identities"), call(aep, "GET", "/core/idnamespace/identities")
    assert (first.status_code, first.json()["detail"], second.status_code) == (503, "try later", 200)
    assert [request.fault for request in aep.requests] == [True, False]
    aep.add_fault(method="GET", drop=True)
    with pytest.raises(requests.ConnectionError):
        call(aep, "GET", "/core/idnamespace/identities")
