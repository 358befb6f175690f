"""The fake Mixpanel's modules form layers: no import cycle, and no module uses another's ``_private`` names.

Every import counts, also those under ``TYPE_CHECKING`` or inside a function: a cycle there still
means two modules that cannot be read (or changed) one without the other. A private name is one
that starts with a single ``_``; "another's" means imported from a sibling module, read off one
(``module._name``), or read off any object other than ``self``/``cls`` when this module defines no
such name itself (``handler._send_json`` in a module that has no ``_send_json``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "integration_tests.fake_mixpanel"
FAKE_DIR = Path(__file__).resolve().parent / "fake_mixpanel"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _sibling(node: ast.ImportFrom, module: str | None = None) -> str | None:
    """The package module an ImportFrom names (``from .x import``/``from integration_tests.fake_mixpanel.x import``)."""
    target = node.module if module is None else module
    if node.level == 1:
        return target or "__init__"
    if node.level == 0 and target is not None and (target == PACKAGE or target.startswith(PACKAGE + ".")):
        return target[len(PACKAGE) + 1:] or "__init__"
    return None


def imports_of(tree: ast.Module) -> dict[str, list[str]]:
    """sibling module -> the names imported from it (``from . import x`` imports module x)."""
    found: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            sibling = _sibling(node)
            if sibling == "__init__" and node.module is None:  # from . import events
                for alias in node.names:
                    found.setdefault(alias.name, [])
            elif sibling is not None:
                found.setdefault(sibling, []).extend(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE + "."):
                    found.setdefault(alias.name[len(PACKAGE) + 1:], [])
    return found


def _defined_here(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def private_uses(tree: ast.Module) -> list[str]:
    """Every use of another module's private name in this module, as readable text."""
    uses = [f"from .{sibling} import {name}" for sibling, names in imports_of(tree).items() for name in names if _private(name)]
    own = _defined_here(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in own:
            owner = node.value.id if isinstance(node.value, ast.Name) else ast.unparse(node.value)
            if owner not in ("self", "cls"):
                uses.append(f"{owner}.{node.attr} (line {node.lineno})")
    return uses


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for imported in sorted(graph.get(module, ())):
            if state.get(imported) == "open":
                return path[path.index(imported):] + [imported]
            if imported not in state:
                cycle = visit(imported)
                if cycle:
                    return cycle
        state[module] = "done"
        path.pop()
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            if cycle:
                return cycle
    return None


def package_trees(directory: Path) -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text(encoding="utf-8"), filename=str(path)) for path in sorted(directory.glob("*.py"))}


def import_graph(trees: dict[str, ast.Module]) -> dict[str, set[str]]:
    # __main__ is the command line: nothing imports it, and it may import anything.
    return {module: set(imports_of(tree)) - {module} for module, tree in trees.items()}


def test_given_the_fake_mixpanel_package_then_its_modules_import_one_another_without_a_cycle():
    graph = import_graph(package_trees(FAKE_DIR))
    assert len(graph) >= 10, f"expected the fake's modules in {FAKE_DIR}, found {sorted(graph)}"
    assert find_cycle(graph) is None, f"import cycle in the fake Mixpanel: {' -> '.join(find_cycle(graph))}"


def test_given_the_fake_mixpanel_package_then_no_module_uses_another_modules_private_names():
    found = {module: uses for module, tree in package_trees(FAKE_DIR).items() if (uses := private_uses(tree))}
    assert found == {}, f"modules of the fake Mixpanel using another module's private names: {found}"


def test_given_the_fake_mixpanel_package_then_the_shared_helpers_import_no_endpoint():
    graph = import_graph(package_trees(FAKE_DIR))
    assert graph["common"] == set() and graph["people"] == set(), {name: graph[name] for name in ("common", "people")}


# The checks themselves, on planted modules: each must be able to fail.
PLANTED = {
    "a cycle through TYPE_CHECKING": ({"a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n",
                                       "b.py": "from .a import helper\n"}, "cycle"),
    "a cycle through a function-level import": ({"a.py": "def f():\n    from .b import g\n",
                                                 "b.py": "from integration_tests.fake_mixpanel.a import f\n"}, "cycle"),
    "a private name imported": ({"a.py": "def _helper():\n    pass\n", "b.py": "from .a import _helper\n"}, "private"),
    "a private method called on another module's object": (
        {"a.py": "class H:\n    def _send(self):\n        pass\n", "b.py": "def serve(handler):\n    handler._send()\n"}, "private"),
    "layers and own privates only": ({"a.py": "_X = 1\nclass A:\n    def _m(self):\n        return self._n\n",
                                      "b.py": "from .a import A\ndef f(other: A):\n    return other.__class__\n"}, None),
}


@pytest.mark.parametrize("files, expected", PLANTED.values(), ids=PLANTED.keys())
def test_given_planted_modules_when_checked_then_only_the_planted_fault_is_found(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    trees = package_trees(tmp_path)
    cycle = find_cycle(import_graph(trees))
    private = {module: uses for module, tree in trees.items() if (uses := private_uses(tree))}
    assert (cycle is not None, bool(private)) == (expected == "cycle", expected == "private"), (cycle, private)
