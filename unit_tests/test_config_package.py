"""config/ as a package (issue 22): spec.json still found at the package's top, the re-exports exactly what is imported, small modules.

`from ..config import MixpanelConfig` and `from source_mixpanel_aep.config import parse_config` are how the rest
of the package, the tests and the bench read config; `config/__init__.py` re-exports those names and no others, so
a name a module stops importing leaves the list too (and the list never hides which module a name lives in).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import source_mixpanel_aep
from source_mixpanel_aep import config
from source_mixpanel_aep.config.files import SPEC

ROOT = Path(source_mixpanel_aep.__file__).parent
REPO = ROOT.parent
MAX_LINES = 300


def test_spec_is_the_packages_own_spec_json():
    """spec.json stays beside source.py (setup.py's package_data): config/files.py reads it from the parent package."""
    assert SPEC == json.loads((ROOT / "spec.json").read_text(encoding="utf-8"))
    assert not (ROOT / "config" / "spec.json").exists()


def _names_imported_from_config(path: Path) -> set:
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            if ".".join(base + [node.module or ""]) == "source_mixpanel_aep.config":
                names |= {alias.name for alias in node.names}
    return names


def test_the_package_re_exports_exactly_the_names_imported_from_it():
    paths = [path for folder in ("source_mixpanel_aep", "unit_tests", "integration_tests", "bench") for path in (REPO / folder).rglob("*.py")
             if ROOT / "config" not in path.parents]  # config/'s own modules import each other, not the package
    imported = set().union(*(_names_imported_from_config(path) for path in paths))
    assert imported == set(config.__all__)
    assert all(hasattr(config, name) for name in config.__all__)


def test_each_config_module_stays_small():
    sizes = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in (ROOT / "config").glob("*.py")}
    assert sizes and all(size <= MAX_LINES for size in sizes.values()), sizes
