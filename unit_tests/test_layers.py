"""The package's layers, read from its imports (ast, nothing imported): a test fails when an import runs the wrong way.

The folders name the layers (docs: issue 22): `records/` is pure (event -> record, no HTTP, no protocol),
`config/` is a leaf every layer may read, `streams/` fetch and plan, `aep/` talk to Adobe, `protocol/`
speaks Airbyte's protocol, and `run.py` is the entry point on top. Each rule below has a name; a failure
lists every import that breaks it as `module:line imports target`.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import pytest

import source_mixpanel_aep

PACKAGE = "source_mixpanel_aep"
ROOT = Path(source_mixpanel_aep.__file__).parent
NETWORK_AND_PROTOCOL = ("requests", "urllib3", "airbyte_cdk", "http.client", "socket")
LAYERS = ("records", "streams", "protocol", "aep", "cdk", "config", "run", "source")
CDK_ERROR_TYPES = ("airbyte_cdk.models", "airbyte_cdk.utils.traced_exception", "airbyte_cdk.sources.utils.schema_helpers")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> List[Tuple[int, str]]:
    """(line, absolute module name) for every import in the file, at any depth (a function-level import counts too)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if node.module is None:  # `from . import mapping`: each name may be a module of its own
                found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
            else:
                found.append((node.lineno, target))
    return found


GRAPH: Dict[str, List[Tuple[int, str]]] = {_module_name(path): _imports(path) for path in sorted(ROOT.rglob("*.py"))}


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _own(name: str) -> bool:
    return _within(name, PACKAGE)


def _is_leaf(name: str) -> bool:
    """A package module that imports no other package module (a table of names, a clock, an error type)."""
    return name in GRAPH and not any(_own(target) for _, target in GRAPH[name])


def _layer(part: str) -> str:
    return f"{PACKAGE}.{part}"


Rule = Callable[[str, str], bool]  # (importing module, imported module) -> broken?

RULES: Dict[str, Tuple[Callable[[str], bool], Rule]] = {
    "records/ is pure: imports nothing of the package outside records/": (
        lambda module: _within(module, _layer("records")),
        lambda module, target: _own(target) and not _within(target, _layer("records")),
    ),
    "records/ is pure: no HTTP or protocol code": (
        lambda module: _within(module, _layer("records")),
        lambda module, target: any(_within(target, banned) for banned in NETWORK_AND_PROTOCOL),
    ),
    "config/ is a leaf: its modules import each other and only leaf modules of the rest of the package": (
        lambda module: _within(module, _layer("config")),
        lambda module, target: _own(target) and not _within(target, _layer("config")) and not _is_leaf(target),
    ),
    "config/ is a leaf: of the CDK, only its error and config types": (
        lambda module: _within(module, _layer("config")),
        lambda module, target: _within(target, "airbyte_cdk") and target not in CDK_ERROR_TYPES,
    ),
    "config/ is a leaf: no HTTP": (
        lambda module: _within(module, _layer("config")),
        lambda module, target: any(_within(target, banned) for banned in ("requests", "urllib3", "http.client", "socket")),
    ),
    "streams/ never import protocol/, aep/, run or source": (
        lambda module: _within(module, _layer("streams")),
        lambda module, target: any(_within(target, _layer(part)) for part in ("protocol", "aep", "run", "source")),
    ),
    "protocol/ never imports run": (
        lambda module: _within(module, _layer("protocol")),
        lambda module, target: _within(target, _layer("run")),
    ),
    "aep/ never imports streams/ or protocol/": (
        lambda module: _within(module, _layer("aep")),
        lambda module, target: any(_within(target, _layer(part)) for part in ("streams", "protocol")),
    ),
    "protocol/output.py knows lines, not record types: it imports nothing of records/": (
        lambda module: module == _layer("protocol.output"),
        lambda module, target: _within(target, _layer("records")),
    ),
    "nothing imports run": (
        lambda module: module != _layer("run"),
        lambda module, target: _within(target, _layer("run")),
    ),
}


def breaches(graph: Dict[str, List[Tuple[int, str]]], rule: str) -> List[str]:
    applies, broken = RULES[rule]
    return [f"{module}:{line} imports {target}" for module, imports in graph.items() if applies(module)
            for line, target in imports if broken(module, target)]


@pytest.mark.parametrize("rule", RULES)
def test_the_package_keeps_its_layers(rule):
    broken = breaches(GRAPH, rule)
    assert not broken, f"{rule}:\n  " + "\n  ".join(broken)


def test_the_graph_sees_every_layer_and_resolves_relative_imports():
    """The rules are only as good as the graph: every layer is there, and `from ..config import x` reads as config."""
    for layer in LAYERS:
        assert _layer(layer) in GRAPH, layer
    assert (_layer("records.mapping")) in {target for _, target in GRAPH[_layer("records.record_format")]}
    assert any(target == _layer("config") for _, target in GRAPH[_layer("streams.query")])


CONFIG_LEAF = "config/ is a leaf: its modules import each other and only leaf modules of the rest of the package"


@pytest.mark.parametrize(
    "module, target, rule",
    [
        pytest.param("records.people", "streams.settings", "records/ is pure: imports nothing of the package outside records/", id="records->streams"),
        pytest.param("records.xdm", "airbyte_cdk.models", "records/ is pure: no HTTP or protocol code", id="records->cdk"),
        pytest.param("config", "records.xdm", CONFIG_LEAF, id="config->xdm"),
        pytest.param("config.fields", "streams.settings", CONFIG_LEAF, id="config-module->streams"),
        pytest.param("config.parse", "requests", "config/ is a leaf: no HTTP", id="config-module->requests"),
        pytest.param("streams.export", "protocol.logs", "streams/ never import protocol/, aep/, run or source", id="streams->protocol"),
        pytest.param("protocol.output", "run", "protocol/ never imports run", id="protocol->run"),
        pytest.param("aep.setup", "streams.query", "aep/ never imports streams/ or protocol/", id="aep->streams"),
        pytest.param("protocol.output", "records.record_format", "protocol/output.py knows lines, not record types: it imports nothing of records/", id="output->records"),
        pytest.param("source", "run", "nothing imports run", id="source->run"),
    ],
)
def test_each_rule_names_an_import_that_breaks_it(module, target, rule):
    """Each rule can fail: one made-up import breaking it is reported, with its module, line and target."""
    graph = {f"{PACKAGE}.{module}": [(7, f"{PACKAGE}.{target}" if target.partition(".")[0] in LAYERS else target)]}
    assert breaches(graph, rule) == [f"{PACKAGE}.{module}:7 imports {graph[f'{PACKAGE}.{module}'][0][1]}"]


def test_config_modules_may_import_each_other_and_leaves():
    """The leaf rule is no wider than it says: config/ reading config/, cdk/errors.py and records/vocabulary.py is fine."""
    graph = {_layer("config.parse"): [(3, _layer("config.fields")), (4, _layer("cdk.errors")), (5, _layer("records.vocabulary"))]}
    assert breaches(graph, CONFIG_LEAF) == []
    assert {_layer(f"config.{name}") for name in ("model", "files", "fields", "xdm_fields", "parse")} <= set(GRAPH)  # the rule sees every module


def _private_names_imported(module: str, text: str) -> List[str]:
    """`from .mapping import _as_string`: a private helper shared across modules, which should be public in one home."""
    return [f"{module}:{node.lineno} imports {alias.name} from {'.' * node.level}{node.module or ''}"
            for node in ast.walk(ast.parse(text)) if isinstance(node, ast.ImportFrom) and (node.level or _own(node.module or ""))
            for alias in node.names if alias.name.startswith("_")]


@pytest.mark.parametrize("layer", ["records", "protocol", "aep", "config", "streams", "cdk"])
def test_no_private_name_is_imported_across_modules(layer):
    """A helper two modules share is public in one home (the converters: records/values.py; the window planner: streams/plan.py)."""
    paths = sorted((ROOT / layer).rglob("*.py"))
    broken = [line for path in paths for line in _private_names_imported(_module_name(path), path.read_text(encoding="utf-8"))]
    assert not broken, "\n  ".join(["a private name imported across modules:"] + broken)


def test_a_private_import_is_seen():
    assert _private_names_imported("records.people", "from .mapping import _as_string as as_text\nfrom .mapping import to_record\n") == [
        "records.people:1 imports _as_string from .mapping"]
