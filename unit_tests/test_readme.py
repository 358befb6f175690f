"""Documented steps a newcomer copies as they are: config examples that are JSON, a PyAirbyte snippet whose secrets are set.

The sections are read where they live now (README.md, docs/*.md): `integration_tests/doc_sections.py`.
"""

import json
import re

import pytest

from integration_tests.doc_sections import section


def example_cells():
    for line in section("config").splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            yield cells[0].strip("`"), cells[3]


@pytest.mark.parametrize("field, example", list(example_cells()), ids=[field for field, _ in example_cells()])
def test_each_config_example_is_json_as_it_goes_into_config_json(field, example):
    assert example.startswith("`") and example.endswith("`"), f"{field}: the example is not in backticks"
    try:
        json.loads(example.strip("`").replace("\\|", "|"))
    except ValueError:
        pytest.fail(f"{field}: the example {example} is not JSON; write it as it goes into config.json")


def test_every_secret_the_pyairbyte_snippet_reads_is_exported_in_its_setup():
    text = section("airbyte")
    python = "\n".join(re.findall(r"```python\n(.*?)```", text, re.S))
    shell = "\n".join(re.findall(r"```bash\n(.*?)```", text, re.S))
    names = re.findall(r"""ab\.get_secret\(\s*["']([A-Z0-9_]+)["']""", python)
    assert names, "the PyAirbyte snippet reads no secret: update this test"
    for name in names:
        assert re.search(rf"^export {name}=", shell, re.M), f"ab.get_secret({name!r}) but the setup never exports {name}"
