"""The streams' copy of CDK control flow (cdk/stream_read.py) still follows the CDK it was copied from.

A CDK upgrade that changes Stream.read or Stream._checkpoint_state fails here, naming what to
re-read; after re-reading, the new digest goes into cdk/upstream_stream.py.
"""

from __future__ import annotations

import pytest

from source_mixpanel_aep.cdk.upstream_stream import COPIED_BY_STREAMS, digest, upstream


@pytest.mark.parametrize("key", sorted(COPIED_BY_STREAMS))
def test_the_upstream_function_is_the_one_our_copy_follows(key):
    entry = COPIED_BY_STREAMS[key]
    assert set(entry) == {"sha256", "ours", "reread"}
    assert callable(upstream(entry["ours"]))  # our side exists by that name
    assert digest(upstream(key)) == entry["sha256"], f"{key} changed in the CDK: re-read it against {entry['ours']}. {entry['reread']}"


def test_a_changed_source_changes_the_digest():
    def one():
        return 1

    def two():
        return 2

    assert digest(one) != digest(two) and len(digest(one)) == 64
