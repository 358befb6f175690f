import pytest

from integration_tests.fake_mixpanel import FakeMixpanel


@pytest.fixture
def fake():
    """A fake Mixpanel on a free loopback port, with no events until a test adds some."""
    with FakeMixpanel() as server:
        yield server
