"""The documentation holds together: README.md and docs/*.md (issue 22).

- every relative link points to a file that exists, and its `#anchor` (if any) to a heading of that
  page, slugged as GitHub does (lower case, punctuation but `-` and `_` dropped, spaces to `-`,
  `-1`, `-2` for repeats);
- every `<!-- section: NAME -->` marker is once on the page `integration_tests/doc_sections.py`
  names for it, closed there, so the tests that read a section read the text the reader sees;
- the README stays a page a newcomer reads in ten minutes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, List, Set, Tuple

import pytest

from integration_tests.doc_sections import REPO, SECTIONS, pages, section

FENCE = re.compile(r"^ *```.*?^ *```", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^()\s]+)\)")
HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.M)
MARKER = re.compile(r"<!-- (/?)section: (\w+) -->")
README_MAX_LINES = 300


def prose(text: str) -> str:
    """The text without code: fenced blocks and code spans hold brackets that are not links."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> Set[str]:
    seen: dict = {}
    found = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def relative_links() -> Iterator[Tuple[str, str]]:
    for page in pages():
        for target in LINK.findall(prose(page.read_text(encoding="utf-8"))):
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: are not ours to check
                yield str(page.relative_to(REPO)), target


@pytest.mark.parametrize("page, target", list(relative_links()), ids=[f"{page}->{target}" for page, target in relative_links()])
def test_every_relative_link_in_the_docs_leads_to_a_file_and_heading_that_exist(page, target):
    path, _, anchor = target.partition("#")
    resolved = (REPO / page).parent / path if path else REPO / page
    assert resolved.exists(), f"{page}: [{target}] points to {resolved.relative_to(REPO.parent)}, which does not exist"
    if anchor and resolved.suffix == ".md":
        assert anchor in anchors(resolved), f"{page}: [{target}]: {path or page} has no heading #{anchor}; it has {sorted(anchors(resolved))}"


def test_the_link_checker_finds_links_and_anchors():
    links = list(relative_links())
    assert ("README.md", "docs/aep.md#0-aep-prerequisites") in links  # the page and anchor aep_client's error message sends users to
    assert ("docs/running.md", "read-plan.md#scheduling") in links
    assert not [target for _, target in links if target.startswith("${")]  # code is left out
    assert slug("The record: Mixpanel raw event → AEP's Mixpanel mapping") == "the-record-mixpanel-raw-event--aeps-mixpanel-mapping"
    assert slug("Use it: Airbyte, `docker run`, PyAirbyte") == "use-it-airbyte-docker-run-pyairbyte"


def markers() -> List[Tuple[str, str, str]]:
    return [(str(page.relative_to(REPO)), closing, name) for page in pages() for closing, name in MARKER.findall(prose(page.read_text(encoding="utf-8")))]


def test_every_section_marker_is_once_on_the_page_the_section_map_names_and_is_closed_there():
    found = markers()
    opened = sorted((name, page) for page, closing, name in found if not closing)
    closed = sorted((name, page) for page, closing, name in found if closing)
    assert opened == closed, "a <!-- section: NAME --> without its <!-- /section: NAME --> on the same page (or the other way round)"
    assert opened == sorted(SECTIONS.items()), (
        "the markers and integration_tests/doc_sections.SECTIONS disagree (moved a section? change its line there): " + repr(opened))
    for name in SECTIONS:
        assert section(name).strip(), name


def test_the_readme_is_a_page_a_newcomer_reads_in_ten_minutes():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move a section to docs/ (and its line in doc_sections)"
    quickstart = section("quickstart")
    assert "make demo" in quickstart and "make test" in quickstart
    assert lines.index("<!-- section: quickstart -->") < 15, "the two set-up commands come first"
    linked = {target.partition("#")[0] for page, target in relative_links() if page == "README.md"}
    unlinked = [str(page.relative_to(REPO)) for page in pages()[1:] if str(page.relative_to(REPO)) not in linked]
    assert not unlinked, f"README.md does not link {unlinked}"
