"""Prints the connector's protocol messages as the CDK's serialisers write them, and what they read back.

Run (`python -m unit_tests.protocol_bytes hooked|plain`) by unit_tests/test_cdk_private.py in two interpreters: `hooked` imports the connector
first (so the CDK is imported inside cdk_private.without_attribute_docs), `plain` imports the CDK on
its own first. The two outputs must be the same bytes (the serialisers' own JSON schema included),
but for the last line: how many times serpyco-rs looked attribute docstrings up while the CDK was
imported (none under the hook).
"""

import json
import logging
import sys

if sys.argv[1] == "hooked":
    import source_mixpanel_aep  # noqa: F401  (first: the CDK is imported under the hook)
else:
    import airbyte_cdk  # noqa: F401  (first: the CDK's serialisers are built as serpyco-rs builds them)

from serpyco_rs._utils import get_attributes_doc  # noqa: E402  (serpyco-rs's own, cached: its misses are the lookups made)

LOOKUPS_WHILE_IMPORTING = get_attributes_doc.cache_info().misses

from airbyte_cdk.models import (  # noqa: E402
    AirbyteMessageSerializer,
    AirbyteStateMessageSerializer,
    ConfiguredAirbyteCatalogSerializer,
    ConnectorSpecificationSerializer,
    SyncMode,
)
from airbyte_cdk.models.airbyte_protocol_serializers import AirbyteCatalogSerializer  # noqa: E402
from airbyte_cdk.test.catalog_builder import CatalogBuilder  # noqa: E402

from integration_tests.fake_mixpanel import connector_config  # noqa: E402
from source_mixpanel_aep.run import launch  # noqa: E402
from source_mixpanel_aep.source import SourceMixpanelAep  # noqa: E402

CONFIG = connector_config("http://127.0.0.1:9", start_date="2024-05-01", end_date="2024-05-01")


def main() -> None:
    source, logger = SourceMixpanelAep(), logging.getLogger("airbyte")
    lines = [ConnectorSpecificationSerializer.dump(source.spec(logger)), AirbyteCatalogSerializer.dump(source.discover(logger, CONFIG))]
    catalog = CatalogBuilder().with_stream("events", SyncMode.incremental).build()
    lines.append(ConfiguredAirbyteCatalogSerializer.dump(ConfiguredAirbyteCatalogSerializer.load(ConfiguredAirbyteCatalogSerializer.dump(catalog))))
    state = {"type": "STREAM", "stream": {"stream_descriptor": {"name": "events"}, "stream_state": {"cursor": "2024-05-01T00:00:00Z", "swept": {"2024-04-30": None}}}}
    lines.append(AirbyteStateMessageSerializer.dump(AirbyteStateMessageSerializer.load(state)))
    for raw in (  # what a read writes: records, logs, a state with its stats, traces (error, estimate, stream status)
        {"type": "RECORD", "record": {"stream": "events", "data": {"_id": "a", "n": 1, "nested": {"x": [1, None]}}, "emitted_at": 1}},
        {"type": "LOG", "log": {"level": "WARN", "message": "m"}},
        {"type": "STATE", "state": {**state, "sourceStats": {"recordCount": 2.0}}},
        {"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": 1.0, "error": {"message": "m", "failure_type": "config_error"}}},
        {"type": "TRACE", "trace": {"type": "ESTIMATE", "emitted_at": 1.0, "estimate": {"name": "events", "type": "STREAM", "row_estimate": 3}}},
        {"type": "TRACE", "trace": {"type": "STREAM_STATUS", "emitted_at": 1.0,
                                    "stream_status": {"stream_descriptor": {"name": "events"}, "status": "COMPLETE"}}},
    ):
        lines.append(AirbyteMessageSerializer.dump(AirbyteMessageSerializer.load(raw)))
    for line in lines:
        print(json.dumps(line, sort_keys=True))
    print(json.dumps(AirbyteMessageSerializer.get_json_schema(), sort_keys=True))
    sys.stdout.flush()
    code = launch(["spec"])  # the spec command's own bytes too
    print(f"attribute docstring lookups while the CDK was imported: {LOOKUPS_WHILE_IMPORTING}")
    sys.exit(code)


if __name__ == "__main__":
    main()
