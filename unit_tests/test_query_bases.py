"""Two bases for the Query API streams (issue 22): QueryStream (what every query needs) and EngageStream (Engage's paging and parts).

A stream with one answer (annotations, funnels, cohorts/list) derives from QueryStream alone and
carries none of the session/page/part machinery; the Engage streams do.
"""

from __future__ import annotations

from source_mixpanel_aep.streams import STREAM_CLASSES
from source_mixpanel_aep.streams.annotations import AnnotationsStream
from source_mixpanel_aep.streams.cohorts import CohortMembersStream, CohortsStream
from source_mixpanel_aep.streams.engage import EngageErrorHandler, EngageStream
from source_mixpanel_aep.streams.funnels import FunnelsListStream, FunnelsStream
from source_mixpanel_aep.streams.group_profiles import GroupProfilesStream
from source_mixpanel_aep.streams.profiles import ProfilesStream
from source_mixpanel_aep.streams.query import QueryErrorHandler, QueryStream

ENGAGE_ONLY = ("engage_body", "results", "refused", "after_part", "seen_range", "sorted_up_to", "_note_seen")


def test_the_query_base_knows_nothing_of_engage_paging():
    assert not [name for name in ENGAGE_ONLY if hasattr(QueryStream, name)]
    assert all(hasattr(EngageStream, name) for name in ENGAGE_ONLY)
    assert not issubclass(QueryErrorHandler, EngageErrorHandler) and issubclass(EngageErrorHandler, QueryErrorHandler)


def test_the_streams_with_one_answer_derive_from_the_query_base_alone():
    for stream_class in (AnnotationsStream, FunnelsStream, FunnelsListStream, CohortsStream):
        assert issubclass(stream_class, QueryStream) and not issubclass(stream_class, EngageStream), stream_class.__name__


def test_the_engage_streams_page_by_session():
    for stream_class in (ProfilesStream, CohortMembersStream, GroupProfilesStream):
        assert issubclass(stream_class, EngageStream), stream_class.__name__
        assert issubclass(stream_class.error_handler_class, EngageErrorHandler), stream_class.__name__


def test_every_query_api_stream_of_the_catalog_is_on_one_of_the_two_bases():
    query_streams = [cls for cls in STREAM_CLASSES if issubclass(cls, QueryStream)]
    assert [cls.name for cls in query_streams] == ["profiles", "cohorts", "cohort_members", "annotations", "funnels", "group_profiles"]
