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


def test_every_stream_of_the_catalog_but_events_is_a_query_api_stream():
    assert [cls.name for cls in STREAM_CLASSES if not issubclass(cls, QueryStream)] == ["events"]


def test_the_query_api_messages_name_the_registry_query_streams():
    """The 402 and the OAuth refusal list the streams to unselect: read from the registry, not kept by hand."""
    from integration_tests.builders import config
    from source_mixpanel_aep.config import parse_config

    handler = AnnotationsStream(parse_config(config("http://127.0.0.1:9", auth="oauth_token"))).get_error_handler()
    listed = "(" + ", ".join(cls.name for cls in STREAM_CLASSES if issubclass(cls, QueryStream)) + ")"
    assert "cohort_members, annotations, funnels" in listed  # in the registry's order, as the text was by hand
    assert handler.user_message(402, "no plan") == (
        f"Mixpanel says the plan does not include the Query API (402: no plan). Upgrade the plan or leave the Query API streams {listed} unselected."
    )
    assert handler.user_message(401, "bad token").endswith(f"use a service account to read the Query API streams {listed}.")
