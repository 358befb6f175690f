"""Only `source_mixpanel_aep/cdk/` touches the CDK's internals (issue 22: one seam for every departure).

Outside cdk/, no module may import a private CDK name or module (`_x`), read a private attribute of
an object that is not its own (`obj._x`; `self._x`/`cls._x` are the module's own), or spell one of the
CDK's private string keys (`__ab_...`) instead of the CDK's constant. Each rule is shown to fail on a
made-up module too.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import List

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "source_mixpanel_aep"
UPSTREAM = ("airbyte_cdk", "airbyte_protocol", "airbyte_protocol_dataclasses", "serpyco_rs")
OWN = {"self", "cls"}


def breaches(source: str, where: str) -> List[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in UPSTREAM:
            private = [alias.name for alias in node.names if alias.name.startswith("_")]
            if any(part.startswith("_") for part in node.module.split(".")) or private:
                found.append(f"{where}:{node.lineno} imports {node.module}:{','.join(private) or '*'} (a CDK internal)")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in UPSTREAM and any(part.startswith("_") for part in alias.name.split(".")):
                    found.append(f"{where}:{node.lineno} imports {alias.name} (a CDK internal)")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in OWN):
                found.append(f"{where}:{node.lineno} reads .{node.attr} of another object")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("__ab_"):
            found.append(f"{where}:{node.lineno} spells the CDK key {node.value!r} (use the CDK's constant)")
    return found


def modules_outside_the_seam() -> List[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "cdk" not in path.relative_to(PACKAGE).parts[:1])


def test_given_the_package_then_only_cdk_touches_cdk_internals():
    found = [line for path in modules_outside_the_seam() for line in breaches(path.read_text(), str(path.relative_to(PACKAGE)))]
    assert not found, "move these into source_mixpanel_aep/cdk/ (and register them in cdk/upstream.py):\n" + "\n".join(found)


def test_the_scan_sees_modules_of_every_layer():
    seen = {path.relative_to(PACKAGE).parts[0] for path in modules_outside_the_seam()}
    assert {"protocol", "streams", "records", "aep", "source.py", "run.py"} <= seen


@pytest.mark.parametrize(
    "source, expected",
    [
        pytest.param("from airbyte_cdk.entrypoint import _private\n", "a CDK internal", id="private name"),
        pytest.param("from airbyte_cdk.sources._internal import x\n", "a CDK internal", id="private module"),
        pytest.param("import airbyte_cdk._vendor.x\n", "a CDK internal", id="private module import"),
        pytest.param("def f(client):\n    return client._session\n", "reads ._session of another object", id="another object's attribute"),
        pytest.param("KEY = '__ab_no_cursor_state_message'\n", "use the CDK's constant", id="private key literal"),
    ],
)
def test_given_a_module_that_reaches_in_then_the_rule_names_it(source, expected):
    found = breaches(source, "made_up.py")
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("class A:\n    def f(self):\n        return self._x\n", id="own attribute"),
        pytest.param("from airbyte_cdk.models import AirbyteMessage\n", id="public name"),
        pytest.param("x = obj.__class__\n", id="dunder"),
    ],
)
def test_given_a_module_that_stays_outside_then_nothing_is_found(source):
    assert breaches(source, "made_up.py") == []
