"""The names config.py checks a setting against, shared with the records built from them.

A leaf: it imports nothing of the package, so config.py can read it and stay a leaf itself
(unit_tests/test_layers.py), while the XDM code (xdm.py, xdm_payloads.py) reads the very same tables
and the two cannot disagree. Plain data only: no mapping, no XDM code.
"""

from __future__ import annotations

from typing import Mapping, Optional

XDM_TYPES = ("string", "integer", "number", "boolean")  # an xdm_fields type; xdm.CONVERTERS has one converter each
IDENTITY_KEYS = ("distinct_id", "device_id", "user_id")  # the Mixpanel ids that can be identities
DEFAULT_NAMESPACES: Mapping[str, Optional[str]] = {
    "distinct_id": "MixpanelDistinctId",
    "device_id": "MixpanelDeviceId",
    "user_id": "MixpanelUserId",
}
# The raw properties the flat record promotes to columns of their own (mapping.PROMOTED's keys, in its
# order: a unit test keeps the two equal), and with `time` the properties xdm_fields may not name.
PROMOTED_PROPERTIES = ("distinct_id", "$insert_id", "$mp_api_endpoint", "$import", "$mp_api_timestamp_ms",
                       "mp_processing_time_ms", "item_id", "item_name", "item_price")
TAKEN_PROPERTIES = frozenset(PROMOTED_PROPERTIES) | {"time"}
