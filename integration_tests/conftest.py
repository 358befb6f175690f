from types import SimpleNamespace

import pytest

from integration_tests.acceptance import (
    ACCEPTANCE_ANNOTATIONS,
    ACCEPTANCE_COHORTS,
    ACCEPTANCE_DAYS,
    ACCEPTANCE_FUNNELS,
    ACCEPTANCE_GROUPS,
    ACCEPTANCE_PROFILES,
    EVENTS_PER_DAY,
    make_runtime_root,
)
from integration_tests.builders import FakeSleeps
from integration_tests.fake_mixpanel import FakeMixpanel

# The CDK's standard tests (integration_tests/test_airbyte_standards.py): scenario parametrisation
# from acceptance-test-config.yml, and their command-line options.
pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]


def pytest_configure(config):
    # Marks used by the CDK's standard test classes; registered for --strict-markers.
    config.addinivalue_line("markers", "image_tests: the CDK's Docker image tests (skipped here: `make image-test` tests the image with podman)")
    config.addinivalue_line("markers", "requires_creds: a CDK standard-test scenario whose config is under secrets/")


@pytest.fixture
def fake():
    """A fake Mixpanel on a free loopback port, with no events until a test adds some."""
    with FakeMixpanel() as server:
        yield server


@pytest.fixture
def sleeps(monkeypatch):
    """Waits recorded, not slept (builders.FakeSleeps): backoff, window re-reads and pacing."""
    return FakeSleeps().install(monkeypatch)


@pytest.fixture(scope="session")
def acceptance(tmp_path_factory):
    """The acceptance-test set-up: a fake Mixpanel with the acceptance data, and a connector root.

    `root` is a copy of acceptance-test-config.yml and its integration_tests/ files, with each
    config's base_url pointing at the fake (see integration_tests/acceptance.py).
    """
    with FakeMixpanel(events_per_day=EVENTS_PER_DAY, days=ACCEPTANCE_DAYS, profiles=ACCEPTANCE_PROFILES, cohorts=ACCEPTANCE_COHORTS) as server:
        server.reports.annotations, server.reports.funnels = list(ACCEPTANCE_ANNOTATIONS), list(ACCEPTANCE_FUNNELS)
        server.people.groups = dict(ACCEPTANCE_GROUPS)
        root = make_runtime_root(tmp_path_factory.mktemp("acceptance"), server.url)
        yield SimpleNamespace(fake=server, root=root)
