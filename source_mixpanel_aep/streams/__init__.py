"""The streams of the catalog, in discover's order: the one list `source.streams()`, `protocol/state.py` and the tests read.

A new stream is one line here (and its module); `unit_tests/test_stream_registry.py` fails when a
stream class exists that neither list names, so a stream cannot be built and then forgotten.
"""

from .annotations import AnnotationsStream
from .cohorts import CohortMembersStream, CohortsStream
from .export import ExportStream
from .funnels import FunnelsListStream, FunnelsStream
from .group_profiles import GroupProfilesStream
from .profiles import ProfilesStream

STREAM_CLASSES = (ExportStream, ProfilesStream, CohortsStream, CohortMembersStream, AnnotationsStream, FunnelsStream, GroupProfilesStream)
INNER_STREAMS = (FunnelsListStream,)  # read inside another stream (its slices), never in the catalog
STREAM_NAMES = tuple(stream_class.name for stream_class in STREAM_CLASSES)

__all__ = ["INNER_STREAMS", "STREAM_CLASSES", "STREAM_NAMES", "ExportStream"]
