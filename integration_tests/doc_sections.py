"""Where each `<!-- section: NAME -->` block of the documentation lives, and its text.

README.md keeps what the connector is, the quick start, the config table and the record table;
every other section is a page of docs/ (issue 22). The tests that run or check documented commands
read their section through `section(name)`, so a section moves to another page by moving its markers
and changing its line in SECTIONS; `unit_tests/test_docs.py` fails if a marker is anywhere else.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List

REPO = Path(__file__).resolve().parents[1]

SECTIONS: Dict[str, str] = {
    "quickstart": "README.md",
    "config": "README.md",
    "mapping": "README.md",
    "local": "docs/running.md",
    "airbyte": "docs/running.md",
    "aep": "docs/aep.md",
    "reading": "docs/read-plan.md",
    "scheduling": "docs/read-plan.md",
    "people": "docs/query-streams.md",
    "reports": "docs/query-streams.md",
    "guarantees": "docs/guarantees.md",
    "performance": "docs/performance.md",
    "troubleshooting": "docs/troubleshooting.md",
    "development": "docs/development.md",
}


def pages() -> List[Path]:
    """README.md, then every page of docs/ by name."""
    return [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))


def section(name: str) -> str:
    """The text between the section's markers, from the page SECTIONS names."""
    page = SECTIONS[name]
    match = re.search(rf"<!-- section: {name} -->(.*?)<!-- /section: {name} -->", (REPO / page).read_text(encoding="utf-8"), re.S)
    assert match, f"{page} has no <!-- section: {name} --> block"
    return match.group(1)
