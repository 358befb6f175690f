"""The places that repeat the connector's identity agree: metadata.yaml, setup.py, the Dockerfile's
labels, the spec, config.REGION_HOSTS, and the README's config reference.

`python -m unit_tests.test_metadata` prints the README config table generated from spec.json,
to paste between `<!-- section: config -->` markers when the spec changes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Tuple
from urllib.parse import urlsplit

import pytest
import yaml

from integration_tests import doc_sections
from source_mixpanel_aep import SourceMixpanelAep
from source_mixpanel_aep.config import REGION_HOSTS, REGION_QUERY_HOSTS

ROOT = Path(__file__).resolve().parent.parent
METADATA = yaml.safe_load((ROOT / "metadata.yaml").read_text(encoding="utf-8"))
DATA = METADATA["data"]
SPEC = SourceMixpanelAep().spec(logging.getLogger("test"))  # what `spec` prints
PROPERTIES = SPEC.connectionSpecification["properties"]
CONFIG_SECTION = re.compile(r"<!-- section: config -->(.*?)<!-- /section: config -->", re.S)


def setup_version() -> str:
    match = re.search(r'^VERSION\s*=\s*"([^"]+)"', (ROOT / "setup.py").read_text(encoding="utf-8"), re.M)
    assert match, "setup.py has no VERSION = \"...\""
    return match.group(1)


def dockerfile_label(name: str) -> str:
    match = re.search(rf"\b{re.escape(name)}=(\S+)", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    assert match, f"the Dockerfile has no {name} label"
    return match.group(1)


# --- metadata.yaml ------------------------------------------------------------------------------


def test_metadata_has_the_fields_airbytes_registry_requires():
    assert METADATA["metadataSpecVersion"] == "1.0"
    for field in ("name", "definitionId", "connectorType", "connectorSubtype", "dockerRepository", "dockerImageTag",
                  "documentationUrl", "githubIssueLabel", "license", "releaseStage", "supportLevel", "tags", "allowedHosts"):
        assert DATA.get(field), field
    assert str(uuid.UUID(DATA["definitionId"])) == DATA["definitionId"]
    assert (DATA["connectorType"], DATA["connectorSubtype"]) == ("source", "api")
    assert (DATA["releaseStage"], DATA["supportLevel"], DATA["license"]) == ("alpha", "community", "MIT")
    assert set(DATA["tags"]) == {"language:python", "cdk:python"}


def test_version_is_the_same_in_metadata_setup_py_and_the_image_label():
    assert str(DATA["dockerImageTag"]) == setup_version() == dockerfile_label("io.airbyte.version")


def test_docker_repository_is_the_image_name_label():
    assert DATA["dockerRepository"] == dockerfile_label("io.airbyte.name") == "airbyte/source-mixpanel-aep"


def test_documentation_url_is_the_one_spec_shows():
    assert SPEC.documentationUrl
    assert DATA["documentationUrl"] == SPEC.documentationUrl


def test_allowed_hosts_are_the_three_regions_export_and_query_hosts():
    hosts = DATA["allowedHosts"]["hosts"]
    assert sorted(hosts) == sorted(urlsplit(url).hostname for url in [*REGION_HOSTS.values(), *REGION_QUERY_HOSTS.values()])
    assert set(hosts) == {"data.mixpanel.com", "data-eu.mixpanel.com", "data-in.mixpanel.com", "mixpanel.com", "eu.mixpanel.com", "in.mixpanel.com"}


# --- the README's config reference --------------------------------------------------------------


def _literal(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _type(field: Mapping[str, Any]) -> str:
    if "oneOf" in field:
        return f"object (one of {len(field['oneOf'])})"
    kind = field.get("type", "")
    if kind == "array":
        return f"array of {field.get('items', {}).get('type', 'any')}"
    if "enum" in field:
        return f"{kind}: {', '.join(_literal(value) for value in field['enum'])}"
    if "const" in field:
        return f"{kind}: {field['const']}"
    return kind


def spec_fields() -> Iterator[Tuple[str, Dict[str, Any]]]:
    """(name, field) for each top-level field, with credentials' sub-fields after it, in spec order.

    A credentials sub-field that appears in several auth options (auth_type) is listed once, with
    its consts joined, and with a default only if every option has the same one (none has).
    """
    for name, field in sorted(PROPERTIES.items(), key=lambda item: item[1].get("order", 99)):
        yield name, field
        if "oneOf" not in field:
            continue
        merged: Dict[str, Dict[str, Any]] = {}
        for option in field["oneOf"]:
            for sub_name, sub_field in sorted(option["properties"].items(), key=lambda item: item[1].get("order", 99)):
                seen = merged.setdefault(sub_name, {**sub_field, "_options": [], "_consts": []})
                seen["_options"].append(option["title"])
                if "const" in sub_field:
                    seen["_consts"].append(sub_field["const"])
                if seen.get("default") != sub_field.get("default"):
                    seen.pop("default", None)
        for sub_name, sub_field in merged.items():
            if sub_field["_consts"]:
                sub_field["const"] = ", ".join(sub_field["_consts"])
            yield f"{name}.{sub_name}", sub_field


def default_cell(field: Mapping[str, Any]) -> str:
    return f"`{_literal(field['default'])}`" if "default" in field else ""


def render_table() -> str:
    """The config reference table, generated from the spec (descriptions may then be edited by hand)."""
    lines = ["| Field | Type | Default | Example | Description |", "|---|---|---|---|---|"]
    for name, field in spec_fields():
        example = field.get("examples", [None])[0]
        options = field.get("_options", [])
        note = f" ({', '.join(options)})" if options and len(options) == 1 else ""
        description = field.get("description", "").replace("|", "\\|") + note
        default = default_cell(field) or "—"
        lines.append(
            f"| `{name}` | {_type(field)} | {default} | "
            f"{'`' + json.dumps(example, ensure_ascii=False).replace('|', chr(92) + '|') + '`' if example is not None else ''} | {description} |"
        )
    return "\n".join(lines)


def readme_rows() -> List[List[str]]:
    match = CONFIG_SECTION.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert match, "README.md has no <!-- section: config --> block"
    rows = []
    for line in match.group(1).splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        rows.append(cells)
    return rows


def test_readme_config_table_lists_exactly_the_spec_fields_in_order():
    listed = [row[0].strip("`") for row in readme_rows()]
    expected = [name for name, _ in spec_fields()]
    assert listed == expected, "README config table out of date; regenerate with: python -m unit_tests.test_metadata\n" + render_table()


@pytest.mark.parametrize("name, field", list(spec_fields()), ids=[name for name, _ in spec_fields()])
def test_readme_config_table_gives_each_fields_type_and_default(name, field):
    rows = {row[0].strip("`"): row for row in readme_rows()}
    assert name in rows, f"{name} is missing from the README config table"
    _, kind, default = rows[name][:3]
    assert kind == _type(field), f"{name}: type"
    if "default" in field:
        assert default == default_cell(field), f"{name}: the spec's default is {field['default']!r}"
    else:
        assert not default.startswith("`"), f"{name}: the README gives a default the spec does not have"


if __name__ == "__main__":
    print(render_table())


def test_the_cdk_ci_and_the_image_install_is_the_one_pinned_in_constraints_and_within_setup_pys_range():
    from importlib.metadata import version

    from packaging.specifiers import SpecifierSet

    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines() if line and not line.startswith("#"))
    pinned = pins["airbyte-cdk"]
    assert version("airbyte-cdk") == pinned, "the venv's CDK is not the pinned one: `make` installs with -c constraints.txt"
    assert version("serpyco-rs") == pins["serpyco-rs"], "the venv's serpyco-rs is not the pinned one (cdk_private.without_attribute_docs)"
    setup_range = re.search(r'"airbyte-cdk([^"]+)"', (ROOT / "setup.py").read_text()).group(1)
    assert pinned in SpecifierSet(setup_range)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "constraints.txt" in dockerfile.split("COPY setup.py", 1)[1].splitlines()[0] and "-c constraints.txt" in dockerfile
    assert "!constraints.txt" in (ROOT / ".dockerignore").read_text().splitlines()


# --- the version everywhere it is said (issue 21) ---------------------------------------------------


def test_version_is_a_major_one_and_the_command_and_readme_image_tag_say_it():
    from source_mixpanel_aep.run import VERSION

    version = setup_version()
    assert int(version.split(".")[0]) >= 1  # `_id` and the state shape changed after 0.1.0: a breaking release
    assert VERSION == version  # what `source-mixpanel-aep --version` prints
    docs = "\n".join(page.read_text(encoding="utf-8") for page in doc_sections.pages())  # README.md and docs/*.md
    assert set(re.findall(r"source-mixpanel-aep:(\d+\.\d+\.\d+)", docs)) == {version}
    assert f"| Docker image tag | `{version}` |" in doc_sections.section("airbyte")
    assert re.search(rf"^## {re.escape(version)}\b", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), re.M)


def test_discovered_id_description_says_what_id_is():
    schema = json.loads((ROOT / "source_mixpanel_aep" / "schemas" / "events.json").read_text(encoding="utf-8"))  # what discover declares for flat output
    description = schema["properties"]["_id"]["description"]
    assert "digest" in description and "distinct_id" in description and "$insert_id" in description
    assert "$insert_id, or a hash" not in description


def test_a_major_version_declares_its_breaking_change_in_the_shape_airbytes_registry_reads():
    version = setup_version()
    change = DATA["releases"]["breakingChanges"][version]  # the registry warns users of a major upgrade from this entry
    assert set(change) <= {"upgradeDeadline", "message", "migrationDocumentationUrl", "scopedImpact"}
    assert change["message"].strip() and "_id" in change["message"]
    dt.date.fromisoformat(change["upgradeDeadline"])
    assert urlsplit(change["migrationDocumentationUrl"]).scheme == "https"
    streams = {path.stem for path in (ROOT / "source_mixpanel_aep" / "schemas").glob("*.json")}  # one schema per stream
    for scope in change["scopedImpact"]:
        assert scope["scopeType"] == "stream" and set(scope["impactedScopes"]) <= streams
