"""One list of streams (streams/__init__.py): the catalog, the --state file's known streams and the tests' catalogs read it.

A stream class that the registry misses would be built, tested in isolation, and never offered by
discover; these tests fail on it, and on a list kept by hand again somewhere the registry feeds.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

from airbyte_cdk.sources.streams import Stream

from source_mixpanel_aep import streams as streams_package
from source_mixpanel_aep.protocol import state
from source_mixpanel_aep.streams import INNER_STREAMS, STREAM_CLASSES, STREAM_NAMES

SCHEMAS = Path(streams_package.__file__).resolve().parent.parent / "schemas"


def named_stream_classes():
    """Every Stream subclass of the streams package that gives itself a `name` (the bases do not: they are not streams)."""
    found = {}
    for module_info in pkgutil.iter_modules(streams_package.__path__):
        module = importlib.import_module(f"{streams_package.__name__}.{module_info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Stream) and cls.__module__ == module.__name__ and isinstance(cls.__dict__.get("name"), str):
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return found


def test_every_stream_class_is_in_the_registry_or_named_as_an_inner_stream():
    missed = sorted(name for name, cls in named_stream_classes().items() if cls not in STREAM_CLASSES + INNER_STREAMS)
    assert not missed, f"add these to streams/__init__.py (STREAM_CLASSES, or INNER_STREAMS if no catalog offers them): {missed}"


def test_given_a_stream_class_outside_the_registry_then_the_walk_finds_it(monkeypatch):
    """The check above can fail: a class added to a stream module is found."""
    from source_mixpanel_aep.streams import annotations

    extra = type("ReleasesStream", (annotations.AnnotationsStream,), {"name": "releases", "__module__": annotations.__name__})
    monkeypatch.setattr(annotations, "ReleasesStream", extra, raising=False)
    assert named_stream_classes()[f"{annotations.__name__}.ReleasesStream"] is extra
    assert extra not in STREAM_CLASSES + INNER_STREAMS


def test_the_registry_holds_the_catalog_in_discover_order_with_a_schema_each():
    assert STREAM_NAMES[0] == "events"  # the rest of discover's order is pinned by integration_tests/test_protocol.py
    assert len(set(STREAM_NAMES)) == len(STREAM_NAMES)
    assert not set(STREAM_NAMES) & {cls.name for cls in INNER_STREAMS}
    assert sorted(path.stem for path in SCHEMAS.glob("*.json")) == sorted(STREAM_NAMES)


def test_the_state_file_knows_the_registry_streams():
    assert state.KNOWN_STREAMS == STREAM_NAMES


def test_the_source_builds_the_registry_streams_in_order():
    from integration_tests.builders import config
    from source_mixpanel_aep.source import SourceMixpanelAep

    built = SourceMixpanelAep().streams(config("http://127.0.0.1:9"))  # a config without warnings: nothing logged
    assert [type(stream) for stream in built] == list(STREAM_CLASSES)
    query_budgets = {id(stream._http_client._api_budget) for stream in built if hasattr(stream, "_http_client") and stream.name != "events"}
    assert len(query_budgets) == 1  # one Query API budget for the sync


def test_the_tests_catalogs_declare_the_registry_streams():
    from integration_tests.builders import STREAMS

    assert tuple(STREAMS) == STREAM_NAMES


def query_stream_names():
    from source_mixpanel_aep.streams.query import QueryStream

    return {cls.name for cls in STREAM_CLASSES if issubclass(cls, QueryStream)}


def _named_list(text: str) -> set:
    """'a, b, c and d' -> {'a', 'b', 'c', 'd'} (backticks dropped)."""
    return {name.strip().strip("`") for part in text.split(",") for name in part.split(" and ") if name.strip()}


def test_the_query_base_url_texts_name_every_query_api_stream():
    """spec.json's and the README's query_base_url say which streams it serves: the registry's Query API streams, no more."""
    import json
    import re

    root = SCHEMAS.parent
    description = json.loads((root / "spec.json").read_text())["connectionSpecification"]["properties"]["query_base_url"]["description"]
    in_spec = re.search(r"Where the (.+?) streams are read", description)
    row = next(line for line in (root.parent / "README.md").read_text().splitlines() if line.startswith("| `query_base_url`"))
    in_readme = re.search(r"Where (.+?) are read", row)
    assert in_spec and in_readme, "the query_base_url texts no longer say 'Where the ... streams are read' / 'Where ... are read'"
    assert _named_list(in_spec.group(1)) == query_stream_names(), "spec.json's query_base_url description"
    assert _named_list(in_readme.group(1)) == query_stream_names(), "README.md's query_base_url row"


def test_a_list_missing_a_stream_is_seen():
    assert _named_list("`profiles`, `cohorts` and `funnels`") == {"profiles", "cohorts", "funnels"}
    assert _named_list("profiles and cohorts") != query_stream_names()
