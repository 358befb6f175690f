"""The CDK functions the streams' copy of CDK control flow follows (cdk/stream_read.py), each with a digest of its source.

Shape of the drift registry (cdk/upstream.py's COPIED, which folds this in): "module:Qualname" ->
    sha256: of `textwrap.dedent(inspect.getsource(obj))`, trailing whitespace stripped from every
            line, lines joined by "\\n", encoded UTF-8 (`digest` below), at the pinned CDK;
    ours:   the function of ours that copies it;
    reread: what to compare when the digest changes (a CDK upgrade changed the upstream function).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import textwrap
from typing import Any, Dict

COPIED_BY_STREAMS: Dict[str, Dict[str, str]] = {
    "airbyte_cdk.sources.streams.core:Stream.read": {
        "sha256": "ac34d20ccb9b2196291173e6b899a350489da7d547f8773034c51c116e00e933",
        "ours": "source_mixpanel_aep.cdk.stream_read:read_slices",
        "reread": (
            "The slice loop: the slice log line (slice_logger.should_log_slice_message), the record limit "
            "(internal_config.is_limit_reached, per slice and over the read), the STATE after each slice and at "
            "the end, configured_json_schema set from the configured stream. Follow any change in read_slices "
            "and ExportStream.read (streams/export.py)."
        ),
    },
    "airbyte_cdk.sources.streams.core:Stream._checkpoint_state": {
        "sha256": "76a0fbb1207b748d40fc38a74ff1f6fa3bc607b6e32601409c07cf125436e651",
        "ours": "source_mixpanel_aep.cdk.stream_read:checkpoint",
        "reread": "How a STATE is made: state_manager.update_state_for_stream, then create_state_message. Follow it in checkpoint.",
    },
}


def upstream(key: str) -> Any:
    """The object a registry key names: "package.module:Class.attribute"."""
    module, _, qualname = key.partition(":")
    obj: Any = importlib.import_module(module)
    for name in qualname.split("."):
        obj = getattr(obj, name)
    return obj


def digest(obj: Any) -> str:
    source = textwrap.dedent(inspect.getsource(obj))
    return hashlib.sha256("\n".join(line.rstrip() for line in source.splitlines()).encode("utf-8")).hexdigest()
