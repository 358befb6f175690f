"""The drift registry: each upstream function (and two protocol classes) this connector copies or depends on, with a digest of its source.

When a CDK (or serpyco-rs) upgrade changes one of them, unit_tests/test_cdk_drift.py fails, naming
the upstream function, our code that copies or relies on it, and what to re-read. To do then:
read the upstream function's new source beside ours, carry over what changed (or decide it does not
matter here, and say why in our docstring), then put the new digest here (`python -m
source_mixpanel_aep.cdk.upstream` prints every current one).

To add an entry: one `Copied(...)` line in COPIED, with `digest=""` first; the test then fails
saying the digest to write. The digest is sha256 of `inspect.getsource`, dedented, with trailing
spaces stripped from every line: an upstream re-indent or whitespace change does not count.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import textwrap
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple


@dataclass(frozen=True)
class Copied:
    """One upstream function ("module:Qualified.name"), its digest, our code to re-read when it changes, and why we depend on it."""

    upstream: str  # "module:Qualified.name", or a whole (small) module's name when what we rely on is no function
    digest: str
    ours: Tuple[str, ...]  # "source_mixpanel_aep.module:name": each must exist (the test checks)
    why: str


_ENTRYPOINT = "airbyte_cdk.entrypoint:AirbyteEntrypoint"
_SOURCE = "airbyte_cdk.sources.abstract_source:AbstractSource"
_HTTP_CLIENT = "airbyte_cdk.sources.streams.http.http_client:HttpClient"
_ENTRY = "source_mixpanel_aep.cdk.entry:read_lines"
_READ_LOOP = "source_mixpanel_aep.cdk.read_loop"
_STREAM_READ = "source_mixpanel_aep.cdk.stream_read"
_HTTP_ERRORS = "source_mixpanel_aep.cdk.http_errors"
_LOG_LINES = "source_mixpanel_aep.cdk.log_lines"

COPIED: Tuple[Copied, ...] = (
    Copied(
        upstream=f"{_ENTRYPOINT}.run",
        digest="5f646948edd40d489c326f9151f95f0a52df1d71db4989b79c021101b8fbeaa0",
        ours=(_ENTRY,),
        why="its read branch is copied: temp folder, request cache path, config, catalog, state, queued messages",
    ),
    Copied(
        upstream=f"{_ENTRYPOINT}.read",
        digest="b3fd11bce5c33af64ac9b00c09085dc315c981183007b322c848c0ba5a2cb7f7",
        ours=(_ENTRY,),
        why="copied: secret filter, config check, the per-message memory check and record counts",
    ),
    Copied(
        upstream=f"{_ENTRYPOINT}.handle_record_counts",
        digest="2a863028c7de93b44b3349942d00b8fe2c4d3821fe904775fcf6dcaa254583a0",
        ours=(_ENTRY,),
        why="copied: each STATE's sourceStats.recordCount",
    ),
    Copied(
        upstream=f"{_ENTRYPOINT}._emit_queued_messages",
        digest="2102a7de075cda13afad6bbc119cf2bbf84400c7bb22b276a80b7f253b8d41b0",
        ours=(f"{_READ_LOOP}:queued_messages",),
        why="copied",
    ),
    Copied(
        upstream=f"{_ENTRYPOINT}.__init__",
        digest="7961372b4813df1b86d5564f7f037438ad0c016aabaf0f38b7ee0cf3de617a3b",
        ours=("source_mixpanel_aep.cdk.private:memory_check",),
        why="builds _memory_monitor, which we call per record",
    ),
    Copied(
        upstream=f"{_ENTRYPOINT}.airbyte_message_to_string",
        digest="61abaebf6d213fd46592004d2e0301aed69acdc7fb1ae52dc928201035274e61",
        ours=("source_mixpanel_aep.protocol.output:record_line",),
        why="record_line writes the bytes this writes for a RECORD (unit_tests/test_output.py pins them)",
    ),
    Copied(
        upstream=f"{_SOURCE}.read",
        digest="c6fd85c4714795dbe45fa352df8e6480a36cb97a8f3c4ea87022a481b7381a2b",
        ours=(f"{_READ_LOOP}:read_streams",),
        why="copied, without its per-record work",
    ),
    Copied(
        upstream=f"{_SOURCE}._read_stream",
        digest="c9e326f9d581e7b1d6c0c5c73834a777da2d5159f29e114aac59e40ccf33b434",
        ours=(f"{_READ_LOOP}:read_stream",),
        why="copied, without its per-record work",
    ),
    Copied(
        upstream="airbyte_cdk.sources.streams.core:Stream.read",
        digest="3f2e0ce109021fbad9b46d013088eb3cbae2a15df703b5ecf857ef9e570db98b",
        ours=(f"{_STREAM_READ}:read_slices", "source_mixpanel_aep.streams.export:ExportStream.read"),
        why="its slice loop is copied for the events stream: slice log line, record limit per slice and over the read, a STATE per slice and at the end",
    ),
    Copied(
        upstream="airbyte_cdk.sources.streams.core:Stream._checkpoint_state",
        digest="3f230a076b05923e5cfc67bd34ffb22c8acfa4f57bc09235483d10681b8785f4",
        ours=(f"{_STREAM_READ}:checkpoint",),
        why="copied: a STATE through state_manager.update_state_for_stream, then create_state_message",
    ),
    Copied(
        upstream=f"{_HTTP_CLIENT}._send_with_retry",
        digest="48e0d637979e9546fce99d104ff080a0f3019b198d45c97bf4fbf96aba9ba12c",
        ours=(
            f"{_HTTP_ERRORS}:retries_ran_out", f"{_HTTP_ERRORS}:last_attempt", f"{_HTTP_ERRORS}:says_only_gave_up",
            f"{_LOG_LINES}:is_http_client_gave_up",
        ),
        why="the exception it raises when retries run out (its __context__, its two messages) and its ERROR line",
    ),
    Copied(
        upstream=f"{_HTTP_CLIENT}._handle_error_resolution",
        digest="bd219439452df099c82d99d9826525950cb481276e4a626478bb60ef4ca84591",
        ours=(f"{_HTTP_ERRORS}:error_table_words", f"{_LOG_LINES}:is_http_client_gave_up"),
        why="the exception it raises on FAIL carries the error table's words as its message; its ERROR line",
    ),
    Copied(
        upstream="airbyte_cdk.sources.streams.http.rate_limiting:user_defined_backoff_handler",
        digest="31b70d71643a9d4e01e5b5b538e5eac8c28f346da51ad71e75ab5e07b5778953",
        ours=(f"{_LOG_LINES}:is_rate_limit_retry_line",),
        why="its 'Rate limit exceeded' line per retry is dropped",
    ),
    Copied(
        upstream="airbyte_cdk.utils.memory_monitor:MemoryMonitor.__init__",
        digest="280e8c53ae72f30c53f3d98697f85fc61327f1d92c070bd2df41076c9f898bec",
        ours=(f"{_LOG_LINES}:is_memory_monitor_startup",),
        why="its start-up line is dropped",
    ),
    Copied(
        upstream="serpyco_rs._utils:get_attributes_doc",
        digest="11e275cde6dc09b5787ed92c5c33d9d76898cd8e197daa26ed7f20d100e683be",
        ours=("source_mixpanel_aep.cdk.private:without_attribute_docs",),
        why="answered with 'no docstrings' while the CDK is imported",
    ),
    Copied(
        upstream="airbyte_cdk.models.airbyte_protocol:AirbyteMessage",
        digest="1745f2249697ca2ee596391766f02f08acc9a307633c5810245b48c30c58e6e9",
        ours=("source_mixpanel_aep.cdk.stream_read:record_message",),
        why="its field order: each RECORD of the events stream is built positionally (keywords cost twice as much per record)",
    ),
    Copied(
        upstream="airbyte_protocol_dataclasses.models.airbyte_protocol:AirbyteRecordMessage",
        digest="66c032e43fb2625292329ffee97ca139cf92f257894838d0551877275f90285c",
        ours=("source_mixpanel_aep.cdk.stream_read:record_message",),
        why="its field order (stream, data, emitted_at): built positionally per record, as above",
    ),
    Copied(
        upstream="airbyte_cdk.logger",
        digest="57c13bc8ee117ab0e4c842f316ff8d089c78bc4a7d7613241806df3a79fd2ab7",
        ours=("source_mixpanel_aep.protocol.output:ProtocolWriter.owning_stdout", "source_mixpanel_aep.cdk.entry:read_lines"),
        why="its LOGGING_CONFIG handler writes to PRINT_BUFFER, which the writer takes over; its debug switch",
    ),
)


def resolve(name: str) -> Any:
    """The object a "module:Qualified.name" names (a whole module without the ":...")."""
    module_name, _, qualname = name.partition(":")
    found: Any = importlib.import_module(module_name)
    for part in filter(None, qualname.split(".")):
        found = getattr(found, part)
    return found


def normalised_source(name: str) -> str:
    """The upstream function's source, dedented, trailing spaces stripped."""
    source = textwrap.dedent(inspect.getsource(resolve(name)))
    return "\n".join(line.rstrip() for line in source.splitlines()) + "\n"


def digest(name: str) -> str:
    return hashlib.sha256(normalised_source(name).encode("utf-8")).hexdigest()


def drift_message(entry: Copied, now: str) -> str:
    """What the drift test says when an upstream function changed."""
    return (
        f"{entry.upstream} changed upstream (digest {now}, registered {entry.digest or 'none'}). "
        f"We depend on it: {entry.why}. Re-read it beside {', '.join(entry.ours)}, carry over what changed, "
        "then update its digest in source_mixpanel_aep/cdk/upstream.py (COPIED)."
    )


def drifted(entries: Optional[Tuple[Copied, ...]] = None) -> List[str]:
    """One message per registered upstream function (COPIED, unless given) whose source is no longer the one we read."""
    checked = COPIED if entries is None else entries
    return [drift_message(entry, now) for entry in checked if (now := digest(entry.upstream)) != entry.digest]


if __name__ == "__main__":
    for entry in COPIED:
        print(f"{entry.upstream} {digest(entry.upstream)}")
