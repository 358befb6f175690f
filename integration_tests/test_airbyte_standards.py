"""Airbyte's standard connector tests (airbyte_cdk.test.standard_tests), in-process, against the fake.

The scenarios come from acceptance-test-config.yml: spec, check (good and bad credentials),
discover, a full-refresh read that must return schema-valid records, and a read with a bad
catalog that must fail. Collection reads the committed files in the repository; each test then
runs with the runtime copy made by the `acceptance` fixture (integration_tests/conftest.py), whose
configs point at the fake Mixpanel on a free loopback port. The exact records and the incremental
reads from sample_state.json / abnormal_state.json are checked in test_acceptance_extras.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytest
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

from integration_tests.acceptance import REPO_ROOT
from source_mixpanel_aep import SourceMixpanelAep

_NO_DOCKER = pytest.mark.skip(
    reason="the CDK's image tests need a Docker daemon; `make image-test` (scripts/test-image.sh) builds and runs the image with podman"
)


class TestSourceMixpanelAep(SourceTestSuiteBase):
    connector = SourceMixpanelAep  # the suite would look for a module named after the checkout directory otherwise
    _runtime_root: Optional[Path] = None

    @classmethod
    def get_connector_root_dir(cls) -> Path:
        # Collection (no fixture yet) reads the committed acceptance-test-config.yml; tests run
        # against the runtime copy whose configs point at the fake.
        return cls._runtime_root or REPO_ROOT

    @pytest.fixture(autouse=True)
    def _against_fake_mixpanel(self, acceptance):
        TestSourceMixpanelAep._runtime_root = acceptance.root
        try:
            yield
        finally:
            TestSourceMixpanelAep._runtime_root = None

    @_NO_DOCKER
    def test_docker_image_build_and_spec(self) -> None: ...

    @_NO_DOCKER
    def test_docker_image_spec_backward_compatibility(self) -> None: ...

    @_NO_DOCKER
    def test_docker_image_build_and_check(self) -> None: ...

    @_NO_DOCKER
    def test_docker_image_build_and_config_matches_spec(self) -> None: ...

    @_NO_DOCKER
    def test_docker_image_build_and_discover(self) -> None: ...

    @_NO_DOCKER
    def test_docker_image_build_and_read(self) -> None: ...
