"""The "Adding a stream" recipe (docs/development.md) names every file a stream consists of (issue 22).

The recipe is checked against the streams there are: for each Query API stream of the registry,
the files it consists of are found from the code (its module, the pure records modules it imports,
its schema, the registry, the fake's module serving its path and the fake modules importing that,
the tests naming it, spec.json when it names it), and each must match a path the recipe names
(`<name>`, `<family>` standing for any module name). The recipe's fixed paths must exist, and the
files that derive their stream lists from the registry must hold no stream name of their own.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, List, Set

import pytest

from integration_tests.builders import config
from integration_tests.doc_sections import REPO
from source_mixpanel_aep.source import SourceMixpanelAep
from source_mixpanel_aep.streams import STREAM_CLASSES, STREAM_NAMES
from source_mixpanel_aep.streams.query import QueryStream

PACKAGE = REPO / "source_mixpanel_aep"
FAKE = REPO / "integration_tests" / "fake_mixpanel"
PLACEHOLDER = re.compile(r"<[a-z]+>")
DERIVED = ("source_mixpanel_aep/source.py", "source_mixpanel_aep/protocol/state.py", "integration_tests/builders.py")


def recipe() -> str:
    text = (REPO / "docs" / "development.md").read_text(encoding="utf-8")
    return text.split("### Adding a stream\n", 1)[1].split("\n### ", 1)[0]


def recipe_paths() -> List[str]:
    """The file paths the recipe names in code spans (a `/` or a file suffix), placeholders kept."""
    spans = re.findall(r"`([^`\s]+)`", recipe())
    return sorted({span for span in spans if re.fullmatch(r"[\w<>./-]+\.(py|json|md)", span)})


def named_by_recipe(path: str, patterns: List[str]) -> bool:
    for pattern in patterns:
        regex = PLACEHOLDER.sub(r"[a-z0-9_]+", re.escape(pattern).replace(r"\<", "<").replace(r"\>", ">"))
        if re.search(rf"(^|/){regex}$", path):
            return True
    return False


def imported_modules(path: Path) -> Set[str]:
    """`from ..records.reports import x` in source_mixpanel_aep/streams/annotations.py -> {"source_mixpanel_aep.records.reports"}."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            found.add(f"{base}.{node.module}" if node.level else node.module or "")
    return found


def string_literals(path: Path) -> Set[str]:
    return {node.value for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def fake_endpoint_modules(url_path: str) -> Set[Path]:
    """The fake's modules whose path constant (or pattern) is this stream's request path."""
    found = set()
    for module in FAKE.glob("*.py"):
        source = module.read_text(encoding="utf-8")
        constants = re.findall(r'^[A-Z_]+ = "(/[^"]+)"', source, re.M) + re.findall(r'^[A-Z_]+ = re\.compile\(r"([^"]+)"\)', source, re.M)
        if any(constant == url_path or (constant.startswith("^") and re.match(constant, url_path)) for constant in constants):
            found.add(module)
    return found


def files_of(stream) -> Set[str]:
    """The repository files this stream consists of, as the code shows them."""
    module = PACKAGE.joinpath(*type(stream).__module__.split(".")[1:]).with_suffix(".py")
    files = {module, PACKAGE / "schemas" / f"{stream.name}.json", PACKAGE / "streams" / "__init__.py"}
    files |= {PACKAGE.joinpath(*name.split(".")[1:]).with_suffix(".py") for name in imported_modules(module) if name.startswith("source_mixpanel_aep.records.")}
    endpoints = fake_endpoint_modules("/" + stream.path())
    assert endpoints, f"no module of the fake serves /{stream.path()}"
    files |= endpoints
    endpoint_names = {f"integration_tests.fake_mixpanel.{path.stem}" for path in endpoints}
    files |= {path for path in FAKE.glob("*.py") if imported_modules(path) & endpoint_names}
    own_tests = {"test_stream_registry.py", "test_query_bases.py", "test_adding_a_stream.py"}  # about the registry itself
    for test in sorted((REPO / "integration_tests").glob("test_*.py")) + sorted((REPO / "unit_tests").glob("test_*.py")):
        if test.name not in own_tests and stream.name in string_literals(test):
            files.add(test)
    if re.search(rf"\b{stream.name}\b", (PACKAGE / "spec.json").read_text(encoding="utf-8")):
        files.add(PACKAGE / "spec.json")
    return {str(path.relative_to(REPO)) for path in files}


def query_streams() -> Dict[str, object]:
    built = SourceMixpanelAep().streams(config("http://127.0.0.1:9"))
    return {stream.name: stream for stream in built if isinstance(stream, QueryStream)}


@pytest.mark.parametrize("name", [cls.name for cls in STREAM_CLASSES if issubclass(cls, QueryStream)])
def test_every_file_of_a_query_api_stream_is_one_the_recipe_names(name):
    files = files_of(query_streams()[name])
    assert all((REPO / path).exists() for path in files)
    missing = sorted(path for path in files if not named_by_recipe(path, recipe_paths()))
    assert not missing, f"stream {name!r} consists of files the recipe in docs/development.md does not name: {missing}"


def test_given_a_file_the_recipe_does_not_name_then_the_check_says_so():
    patterns = recipe_paths()
    assert named_by_recipe("source_mixpanel_aep/streams/annotations.py", patterns)
    assert named_by_recipe("integration_tests/fake_mixpanel/reports.py", patterns)
    assert not named_by_recipe("source_mixpanel_aep/source.py", patterns)
    assert not named_by_recipe("source_mixpanel_aep/protocol/state.py", patterns)
    assert not named_by_recipe("integration_tests/builders.py", patterns)


def test_the_recipes_fixed_paths_exist():
    fixed = [path for path in recipe_paths() if not PLACEHOLDER.search(path)]
    tracked = [str(path.relative_to(REPO)) for path in REPO.rglob("*") if path.is_file() and ".venv" not in path.parts and ".git" not in path.parts]
    stale = [path for path in fixed if not any(name == path or name.endswith("/" + path) for name in tracked)]
    assert not stale, f"the recipe names files that do not exist (moved?): {stale}"


@pytest.mark.parametrize("path", DERIVED)
def test_the_files_that_derive_their_stream_list_name_no_stream_but_events(path):
    literals = string_literals(REPO / path)
    assert not (set(STREAM_NAMES) - {"events"}) & literals, f"{path} keeps a stream name by hand: derive it from streams.STREAM_CLASSES"
