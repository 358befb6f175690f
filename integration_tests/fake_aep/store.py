"""What the fake AEP keeps and checks: namespaces, field groups, schemas, descriptors, datasets, batches.

Each rule here is one AEP applies (Adobe's Schema Registry, Catalog, Identity and Batch Ingestion
API docs), so a loader that would fail against a real sandbox fails here too:
  * a field group or schema title is unique in the sandbox (a second POST is 409); a field group
    only grows (PATCH `add` of a field it does not have);
  * a schema's `allOf` references must exist (a `{{FIELD_GROUP_ID}}` placeholder or `null` is 400);
  * a descriptor's schema and namespace must exist;
  * a dataset's schema must exist; a batch's dataset must exist; files go only into a `loading` batch;
  * COMPLETE ingests every file: a line that is not a JSON object with `_id` (and, for an
    ExperienceEvent schema, `timestamp`) fails the batch (no partial ingestion), else every record
    lands in the dataset (`rows`). Of those, Real-Time Customer Profile takes only records of a
    Profile-enabled dataset (the `unifiedProfile` tag) on a `union` schema that carry the primary
    identity (the descriptor's field, e.g. `_acme.distinct_id`, with a value Identity Service takes:
    not "", "null", "anonymous", "invalid", at most 1,024 characters): `profile_rows`.
    The others are in the data lake only (Adobe: a record without its primary identity is not
    ingested into Profile).
"""

from __future__ import annotations

import itertools
import json
from typing import Any, Dict, List, Optional, Tuple

STANDARD_NAMESPACES = ("ECID", "Email", "Phone", "Email_LC_SHA256", "Phone_SHA256", "Phone_E.164", "AAID", "GAID", "IDFA", "AdCloud", "TNTID")
EXPERIENCE_EVENT = "https://ns.adobe.com/xdm/context/experienceevent"


class AepRefusal(Exception):
    def __init__(self, status: int, title: str, detail: str):
        super().__init__(f"{status} {title}: {detail}")
        self.status, self.body = status, {"type": f"https://ns.adobe.com/aep/errors/{status}", "title": title, "status": status, "detail": detail}


def conflict(detail: str) -> AepRefusal:
    return AepRefusal(409, "Conflict", detail)


def bad_request(detail: str) -> AepRefusal:
    return AepRefusal(400, "Bad Request", detail)


def not_found(detail: str) -> AepRefusal:
    return AepRefusal(404, "Not Found", detail)


class Store:
    def __init__(self, tenant: str = "acme"):
        self.tenant = tenant
        self._ids = itertools.count(1)
        self.namespaces: Dict[str, Dict[str, Any]] = {code: {"code": code, "name": code, "custom": False} for code in STANDARD_NAMESPACES}
        self.field_groups: Dict[str, Dict[str, Any]] = {}
        self.schemas: Dict[str, Dict[str, Any]] = {}
        self.descriptors: Dict[str, Dict[str, Any]] = {}
        self.datasets: Dict[str, Dict[str, Any]] = {}
        self.batches: Dict[str, Dict[str, Any]] = {}
        self.processing_polls = 0  # status reads that still say "processing" after COMPLETE

    def _next(self) -> str:
        return f"{next(self._ids):024x}"

    # --- identity ------------------------------------------------------------------------------------------
    def create_namespace(self, body: Dict[str, Any]) -> Dict[str, Any]:
        code = body.get("code")
        if not code or not body.get("name") or body.get("idType") not in ("CROSS_DEVICE", "DEVICE", "EMAIL", "PHONE", "NON_PEOPLE", "COOKIE"):
            raise bad_request("a namespace needs name, code and a known idType")
        if code in self.namespaces:
            raise conflict(f"Namespace code {code} already exists")
        self.namespaces[code] = {**body, "custom": True, "id": next(self._ids)}
        return self.namespaces[code]

    # --- schema registry ------------------------------------------------------------------------------------
    def create_field_group(self, body: Dict[str, Any]) -> Dict[str, Any]:
        self._unique_title(self.field_groups, body, "field group")
        if not body.get("meta:intendedToExtend"):
            raise bad_request("meta:intendedToExtend is required")
        ident = f"https://ns.adobe.com/{self.tenant}/mixins/{self._next()}"
        self.field_groups[ident] = {**body, "$id": ident, "version": "1.0"}
        return self.field_groups[ident]

    def field_group(self, ident: str) -> Dict[str, Any]:
        if ident not in self.field_groups:
            raise not_found(f"Field group {ident} not found")
        return self.field_groups[ident]

    def patch_field_group(self, ident: str, operations: List[Dict[str, Any]]) -> Dict[str, Any]:
        """Only `add` of a field that is not there: a field group used by a schema may grow, never change or shrink."""
        group = self.field_group(ident)
        for operation in operations:
            *parents, name = str(operation.get("path", "")).strip("/").split("/")
            node: Any = group
            for key in parents:
                node = node.get(key) if isinstance(node, dict) else None
            if operation.get("op") != "add" or not isinstance(node, dict) or name in node:
                raise bad_request(f"a field group only grows: cannot {operation.get('op')} {operation.get('path')}")
            node[name] = operation.get("value")
        return group

    def create_schema(self, body: Dict[str, Any]) -> Dict[str, Any]:
        self._unique_title(self.schemas, body, "schema")
        refs = [item.get("$ref") for item in body.get("allOf") or []]
        for ref in refs:
            if not (isinstance(ref, str) and (ref in self.field_groups or ref.startswith("https://ns.adobe.com/xdm/"))):
                raise bad_request(f"Referenced schema {ref} not found")
        ident = f"https://ns.adobe.com/{self.tenant}/schemas/{self._next()}"
        self.schemas[ident] = {**body, "$id": ident, "version": "1.0", "meta:immutableTags": [],
                               "meta:class": refs[0] if refs else None}
        return self.schemas[ident]

    def schema(self, ident: str) -> Dict[str, Any]:
        if ident not in self.schemas:
            raise not_found(f"Schema {ident} not found")
        return self.schemas[ident]

    def patch_schema(self, ident: str, operations: List[Dict[str, Any]]) -> Dict[str, Any]:
        schema = self.schema(ident)
        for operation in operations:
            if operation.get("op") != "add" or operation.get("path") != "/meta:immutableTags" or operation.get("value") != ["union"]:
                raise bad_request(f"unsupported patch {operation}")
            schema["meta:immutableTags"] = ["union"]
        return schema

    def create_descriptor(self, body: Dict[str, Any]) -> Dict[str, Any]:
        if body.get("@type") != "xdm:descriptorIdentity":
            raise bad_request("only identity descriptors are modelled")
        self.schema(str(body.get("xdm:sourceSchema")))
        if body.get("xdm:namespace") not in self.namespaces:
            raise bad_request(f"Namespace {body.get('xdm:namespace')} does not exist")
        for existing in self.descriptors.values():
            if (existing["xdm:sourceSchema"], existing["xdm:sourceProperty"]) == (body["xdm:sourceSchema"], body["xdm:sourceProperty"]):
                raise conflict(f"an identity descriptor on {body['xdm:sourceProperty']} exists already")
        ident = self._next()
        self.descriptors[ident] = {**body, "@id": ident}
        return self.descriptors[ident]

    @staticmethod
    def _unique_title(items: Dict[str, Dict[str, Any]], body: Dict[str, Any], what: str) -> None:
        if not body.get("title"):
            raise bad_request(f"a {what} needs a title")
        if any(item["title"] == body["title"] for item in items.values()):
            raise conflict(f"A {what} with the title '{body['title']}' already exists in this sandbox")

    # --- catalog ----------------------------------------------------------------------------------------------
    def create_dataset(self, body: Dict[str, Any]) -> List[str]:
        self.schema(str((body.get("schemaRef") or {}).get("id")))
        ident = self._next()
        self.datasets[ident] = {"name": body.get("name"), "schemaRef": body["schemaRef"], "tags": dict(body.get("tags") or {}),
                                "rows": [], "profile_rows": []}
        return [f"@/dataSets/{ident}"]

    def dataset(self, ident: str) -> Dict[str, Any]:
        if ident not in self.datasets:
            raise not_found(f"Dataset {ident} not found")
        return self.datasets[ident]

    def patch_dataset(self, ident: str, operations: List[Dict[str, Any]]) -> List[str]:
        dataset = self.dataset(ident)
        for operation in operations:
            path = str(operation.get("path", ""))
            if operation.get("op") != "add" or not path.startswith("/tags/"):
                raise bad_request(f"unsupported patch {operation}")
            dataset["tags"][path[len("/tags/"):]] = operation.get("value")
        return [f"@/dataSets/{ident}"]

    def profile_enabled(self, dataset: Dict[str, Any]) -> bool:
        return "enabled:true" in (dataset["tags"].get("unifiedProfile") or [])

    # --- batches ------------------------------------------------------------------------------------------------
    def create_batch(self, body: Dict[str, Any]) -> Dict[str, Any]:
        self.dataset(str(body.get("datasetId")))
        if (body.get("inputFormat") or {}).get("format") != "json":
            raise bad_request("inputFormat.format: this fake takes json only")
        ident = self._next()
        self.batches[ident] = {"id": ident, "datasetId": body["datasetId"], "status": "loading", "files": {}, "errors": [], "polls": 0}
        return {"id": ident, "status": "loading"}

    def batch(self, ident: str) -> Dict[str, Any]:
        if ident not in self.batches:
            raise not_found(f"Batch {ident} not found")
        return self.batches[ident]

    def put_file(self, ident: str, dataset: str, name: str, body: bytes) -> None:
        batch = self.batch(ident)
        if batch["datasetId"] != dataset:
            raise bad_request(f"batch {ident} is for dataset {batch['datasetId']}, not {dataset}")
        if batch["status"] != "loading":
            raise bad_request(f"batch {ident} is {batch['status']}: no more files")
        batch["files"][name] = body

    def action(self, ident: str, action: Optional[str]) -> None:
        batch = self.batch(ident)
        if batch["status"] != "loading":
            raise bad_request(f"batch {ident} is {batch['status']}")
        if action == "ABORT":
            batch["status"] = "aborted"
            return
        if action != "COMPLETE":
            raise bad_request(f"unknown action {action}")
        if not batch["files"]:
            raise bad_request(f"batch {ident} has no file")
        self._ingest(batch)

    def _ingest(self, batch: Dict[str, Any]) -> None:
        dataset = self.datasets[batch["datasetId"]]
        schema = self.schemas[dataset["schemaRef"]["id"]]
        records, errors = [], []
        for name, body in sorted(batch["files"].items()):
            for number, line in enumerate(body.decode("utf-8", "replace").splitlines(), 1):
                problem, record = _check_line(line, schema)
                if problem:
                    errors.append({"code": "INGEST-1212-400", "description": f"{name} line {number}: {problem}"})
                else:
                    records.append(record)
        batch["metrics"] = {"inputFileCount": len(batch["files"]), "inputRecordCount": len(records) + len(errors),
                            "outputRecordCount": 0 if errors else len(records), "failedRecordCount": len(errors)}
        batch["errors"], batch["final"] = errors[:10], "failed" if errors else "success"
        batch["status"] = "processing"
        if not errors:
            dataset["rows"].extend(records)
            identity = self._primary_identity(schema)
            if identity and self.profile_enabled(dataset) and "union" in schema["meta:immutableTags"]:
                dataset["profile_rows"].extend(record for record in records if _identity_service_takes(_value_at(record, identity)))

    def _primary_identity(self, schema: Dict[str, Any]) -> Optional[Tuple[str, ...]]:
        for descriptor in self.descriptors.values():
            if descriptor["xdm:sourceSchema"] == schema["$id"] and descriptor.get("xdm:isPrimary"):
                return tuple(descriptor["xdm:sourceProperty"].strip("/").split("/"))
        return None

    def status_of(self, ident: str) -> Dict[str, Any]:
        batch = self.batch(ident)
        if batch["status"] == "processing":
            batch["polls"] += 1
            if batch["polls"] > self.processing_polls:
                batch["status"] = batch["final"]
        entry = {"status": batch["status"], "relatedObjects": [{"type": "dataSet", "id": batch["datasetId"]}]}
        if "metrics" in batch and batch["status"] != "processing":
            entry["metrics"] = batch["metrics"]
            entry["errors"] = batch["errors"]
        return {ident: entry}


def _check_line(line: str, schema: Dict[str, Any]) -> Tuple[Optional[str], Any]:
    try:
        record = json.loads(line)
    except ValueError:
        return "not JSON", None
    if not isinstance(record, dict) or not record.get("_id"):
        return "a record needs _id", None
    if schema.get("meta:class") == EXPERIENCE_EVENT and not record.get("timestamp"):
        return "an ExperienceEvent needs timestamp", None
    return None, record


def _identity_service_takes(value: Any) -> bool:
    """Identity Service's guardrails, written out here (not borrowed from the connector): blocked values and over-long ids are refused."""
    return isinstance(value, str) and value.strip().lower() not in ("", "null", "anonymous", "invalid") and len(value) <= 1024


def _value_at(record: Dict[str, Any], path: Tuple[str, ...]) -> Any:
    node: Any = record
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node
