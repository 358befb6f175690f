"""`source-mixpanel-aep-xdm setup`: create in AEP what XDM output needs, reusing whatever exists already.

In order, from the same payloads `schema` prints (`xdm_payloads`, `xdm_profile_payloads`):

    GET/POST  /core/idnamespace/identities                           the custom identity namespaces (by code)
    GET/POST  /foundation/schemaregistry/tenant/fieldgroups          the field group (by title); one found gets the
              fields it lacks (GET/PATCH .../fieldgroups/<id>: xdm_fields added since)
    GET/POST  /foundation/schemaregistry/tenant/schemas              the schema, with the field group's $id (by title)
    GET/POST  /foundation/schemaregistry/tenant/descriptors          the primary identity descriptor (by schema and field)
    GET/PATCH /foundation/schemaregistry/tenant/schemas/<id>         the `union` tag: the schema is enabled for Profile
    GET/POST  /foundation/catalog/dataSets (PATCH /dataSets/<id>)    the dataset, with the tags that enable it for
              Profile and Identity Service: {"unifiedProfile": ["enabled:true"], "unifiedIdentity": ["enabled:true"]}

for events, then for profiles. Running it again creates nothing: each thing is looked up first (a
dataset of that name on another schema is an error, not reused), and a dataset found without the
Profile tags gets them. The answer is the ids, as JSON on stdout, for `upload --ids`:

    {"sandbox": "prod", "events": {"field_group": "https://ns.adobe.com/<tenant>/mixins/...", "schema": "...",
     "dataset": "5f..."}, "profiles": {...}}
"""

from __future__ import annotations

import sys
import urllib.parse
from typing import Any, Dict, Iterable, List, Optional, TextIO

from ..records.xdm import XdmSettings
from ..records.xdm_payloads import FIELD_GROUP_ID, all_payloads, identity_namespaces
from ..records.xdm_profile_payloads import PROFILE_FIELD_GROUP_ID, profile_payloads
from .client import AepClient, AepError

REGISTRY = "/foundation/schemaregistry/tenant"
LIST_ACCEPT = "application/vnd.adobe.xed-id+json"
SCHEMA_ACCEPT = "application/vnd.adobe.xed+json; version=1"
DESCRIPTOR_ACCEPT = "application/vnd.adobe.xdm+json"
FULL_CONTENT_TYPE = "application/vnd.adobe.xed-full+json;version=1"
PROFILE_TAGS = {"unifiedProfile": ["enabled:true"], "unifiedIdentity": ["enabled:true"]}
MAX_PAGES = 100  # a registry listing is paged; a sandbox with more than this many pages is not one setup can search
STREAMS = ("events", "profiles")
DATASET_NAMES = {"events": "Mixpanel events", "profiles": "Mixpanel profiles"}


class Setup:
    def __init__(self, client: AepClient, settings: XdmSettings, log: Optional[TextIO] = None):
        self.client, self.settings, self.log = client, settings, log or sys.stderr

    def say(self, verb: str, what: str, ident: str) -> None:
        print(f"{verb} {what}: {ident}", file=self.log)

    def run(self, streams: Iterable[str] = STREAMS) -> Dict[str, Any]:
        ids: Dict[str, Any] = {"sandbox": self.client.settings.sandbox, "identity_namespaces": self.namespaces()}
        for stream in streams:
            ids[stream] = self.stream(stream)
        return ids

    # --- identity namespaces ---------------------------------------------------------------------------
    def namespaces(self) -> List[str]:
        wanted = identity_namespaces(self.settings)
        if not wanted:
            return []
        existing = self.client.call("GET", "/core/idnamespace/identities", what="listing the identity namespaces")
        codes = {item.get("code") for item in existing or [] if isinstance(item, dict)}
        for payload in wanted:
            if payload["code"] in codes:
                self.say("reused", "identity namespace", payload["code"])
                continue
            answer = self.client.call("POST", "/core/idnamespace/identities", json_body=payload, what=f"creating identity namespace {payload['code']}")
            self.say("created", "identity namespace", _required(answer, "code", f"creating identity namespace {payload['code']}"))
        return [payload["code"] for payload in wanted]

    # --- one stream: field group, schema, descriptor, union tag, dataset --------------------------------------
    def stream(self, stream: str) -> Dict[str, Any]:
        if stream == "events":
            parts = all_payloads(self.settings)
            group, schema, descriptor, group_ref = parts["field_group"], parts["schema"], parts["identity_descriptor"], FIELD_GROUP_ID
        else:
            parts = profile_payloads(self.settings)
            group, schema, descriptor = parts["profile_field_group"], parts["profile_schema"], parts["profile_identity_descriptor"]
            group_ref = PROFILE_FIELD_GROUP_ID
        group_id = self.find_or_create(f"{REGISTRY}/fieldgroups", "field group", group)
        self.extend(group_id, group)
        schema = {**schema, "allOf": [{"$ref": group_id} if ref.get("$ref") == group_ref else ref for ref in schema["allOf"]]}
        schema_id = self.find_or_create(f"{REGISTRY}/schemas", "schema", schema)
        ids: Dict[str, Any] = {"field_group": group_id, "schema": schema_id}
        if descriptor is not None:
            ids["identity_descriptor"] = self.descriptor({**descriptor, "xdm:sourceSchema": schema_id})
        self.union_tag(schema_id)
        ids["dataset"] = self.dataset(DATASET_NAMES[stream], schema_id)
        return ids

    def find_or_create(self, path: str, what: str, payload: Dict[str, Any]) -> str:
        title = payload["title"]
        for item in self.listing(path, what):
            if item.get("title") == title and item.get("$id"):
                self.say("reused", what, f"{title} = {item['$id']}")
                return item["$id"]
        answer = self.client.call("POST", path, json_body=payload, what=f"creating {what} {title!r}")
        ident = _required(answer, "$id", f"creating {what} {title!r}")
        self.say("created", what, f"{title} = {ident}")
        return ident

    def extend(self, group_id: str, payload: Dict[str, Any]) -> None:
        """A field group found by title gets the fields it lacks (xdm_fields added since): XDM field groups may only grow."""
        [(definition, body)] = payload["definitions"].items()
        tenant = self.settings.tenant_key
        path = f"{REGISTRY}/fieldgroups/{urllib.parse.quote(group_id, safe='')}"
        found = self.client.call("GET", path, headers={"Accept": SCHEMA_ACCEPT}, what=f"reading field group {payload['title']!r}") or {}
        existing = (((found.get("definitions") or {}).get(definition) or {}).get("properties") or {}).get(tenant)
        if not isinstance(existing, dict):
            raise AepError(f"field group {payload['title']!r} ({group_id}) has no {tenant} object under definitions/{definition}: "
                           "it was not made by this connector; rename or delete it in AEP")
        wanted = body["properties"][tenant]["properties"]
        missing = [name for name in wanted if name not in (existing.get("properties") or {})]
        if not missing:
            return
        self.client.call("PATCH", path, json_body=[{"op": "add", "path": f"/definitions/{definition}/properties/{tenant}/properties/{name}",
                                                    "value": wanted[name]} for name in missing],
                         what=f"adding {', '.join(missing)} to field group {payload['title']!r}")
        self.say("extended", "field group", f"{payload['title']} += {', '.join(missing)}")

    def listing(self, path: str, what: str) -> List[Dict[str, Any]]:
        items: List[Dict[str, Any]] = []
        params: Dict[str, str] = {}
        for _ in range(MAX_PAGES):
            answer = self.client.call("GET", path, params=params, headers={"Accept": LIST_ACCEPT}, what=f"listing the {what}s") or {}
            items.extend(item for item in answer.get("results") or [] if isinstance(item, dict))
            following = (answer.get("_page") or {}).get("next")
            if not following:
                return items
            params = {"start": str(following)}
        raise AepError(f"listing the {what}s: more than {MAX_PAGES} pages; create it by hand (see `schema`) or use a sandbox with fewer")

    def descriptor(self, payload: Dict[str, Any]) -> str:
        what = f"the identity descriptor of {payload['xdm:sourceProperty']}"
        answer = self.client.call("GET", f"{REGISTRY}/descriptors", headers={"Accept": DESCRIPTOR_ACCEPT}, what="listing the descriptors")
        for item in _descriptors(answer):
            if (item.get("@type") == payload["@type"] and item.get("xdm:sourceSchema") == payload["xdm:sourceSchema"]
                    and item.get("xdm:sourceProperty") == payload["xdm:sourceProperty"]):
                if item.get("xdm:namespace") != payload["xdm:namespace"]:
                    raise AepError(f"{what} exists with namespace {item.get('xdm:namespace')!r}, the config says {payload['xdm:namespace']!r}: "
                                   "delete the descriptor in AEP or change identity_namespaces.distinct_id")
                self.say("reused", "identity descriptor", str(item.get("@id")))
                return str(item.get("@id"))
        created = self.client.call("POST", f"{REGISTRY}/descriptors", json_body=payload, what=f"creating {what}")
        ident = _required(created, "@id", f"creating {what}")
        self.say("created", "identity descriptor", ident)
        return ident

    def union_tag(self, schema_id: str) -> None:
        path = f"{REGISTRY}/schemas/{urllib.parse.quote(schema_id, safe='')}"
        schema = self.client.call("GET", path, headers={"Accept": SCHEMA_ACCEPT}, what="reading the schema's tags") or {}
        if "union" in (schema.get("meta:immutableTags") or []):
            self.say("already set", "union tag (schema enabled for Profile)", schema_id)
            return
        self.client.call("PATCH", path, json_body=[{"op": "add", "path": "/meta:immutableTags", "value": ["union"]}],
                         what="enabling the schema for Profile (union tag)")
        self.say("created", "union tag (schema enabled for Profile)", schema_id)

    def dataset(self, name: str, schema_id: str) -> str:
        what = f"dataset {name!r}"
        found = self.client.call("GET", "/foundation/catalog/dataSets", params={"name": name, "properties": "name,schemaRef,tags"},
                                 what="listing the datasets") or {}
        for ident, dataset in found.items() if isinstance(found, dict) else ():
            if not isinstance(dataset, dict) or dataset.get("name") != name:
                continue
            if (dataset.get("schemaRef") or {}).get("id") != schema_id:
                raise AepError(f"{what} exists on another schema ({(dataset.get('schemaRef') or {}).get('id')}); rename or delete it in AEP")
            tags = dataset.get("tags") or {}
            missing = [tag for tag, value in PROFILE_TAGS.items() if value[0] not in (tags.get(tag) or [])]
            if missing:
                self.client.call("PATCH", f"/foundation/catalog/dataSets/{ident}", headers={"Content-Type": "application/json-patch+json"},
                                 json_body=[{"op": "add", "path": f"/tags/{tag}", "value": PROFILE_TAGS[tag]} for tag in missing],
                                 what=f"enabling {what} for Profile and Identity Service")
                self.say("enabled", "dataset for Profile and Identity Service", f"{name} = {ident}")
            else:
                self.say("reused", "dataset (Profile-enabled)", f"{name} = {ident}")
            return ident
        body = {"name": name, "schemaRef": {"id": schema_id, "contentType": FULL_CONTENT_TYPE}, "tags": PROFILE_TAGS}
        answer = self.client.call("POST", "/foundation/catalog/dataSets", json_body=body, what=f"creating {what}")
        if not (isinstance(answer, list) and answer and isinstance(answer[0], str) and answer[0].startswith("@/dataSets/")):
            raise AepError(f"creating {what}: AEP's answer has no dataset id: {str(answer)[:300]}")
        ident = answer[0].rsplit("/", 1)[-1]
        self.say("created", "dataset (Profile-enabled)", f"{name} = {ident}")
        return ident


def _descriptors(answer: Any) -> Iterable[Dict[str, Any]]:
    """The descriptors of a listing: a list, or (Adobe's grouped answer) lists under each @type."""
    if isinstance(answer, list):
        groups: List[Any] = [answer]
    elif isinstance(answer, dict):
        groups = [value for value in answer.values() if isinstance(value, list)]
    else:
        groups = []
    return (item for group in groups for item in group if isinstance(item, dict))


def _required(answer: Any, key: str, what: str) -> str:
    value = answer.get(key) if isinstance(answer, dict) else None
    if not value or not isinstance(value, str):
        raise AepError(f"{what}: AEP's answer has no {key!r}: {str(answer)[:300]}")
    return value

