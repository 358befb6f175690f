"""The acceptance-test set-up, shared by the CDK's standard suite and our own extra checks.

`acceptance-test-config.yml` and the files under `integration_tests/` are committed with only
the fake Mixpanel's credentials and a `base_url` placeholder. `make_runtime_root` starts from
them and builds a connector root in a temp dir, with every config's `base_url` pointing at the
running fake (a free loopback port, chosen at run time). The data those configs read is fixed:
`EVENTS_PER_DAY` generated events on each of `ACCEPTANCE_DAYS`, so the expected records never
depend on today's date.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any, Dict, List

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
ACCEPTANCE_TEST_CONFIG = "acceptance-test-config.yml"
CONNECTOR_DIR_NAME = "source-mixpanel-aep"  # the runtime root's name: the suite names the connector after it
BASE_URL_PLACEHOLDER = "http://127.0.0.1:FAKE_MIXPANEL_PORT"

# sample_config.json reads 2024-05-01..2024-05-07; the fake has events on exactly those days.
ACCEPTANCE_DAYS = [dt.date(2024, 5, 1) + dt.timedelta(days=offset) for offset in range(7)]
EVENTS_PER_DAY = 20
# The Query API streams read every discovered stream in the standard suite's basic read: each must have records.
ACCEPTANCE_PROFILES = 25
ACCEPTANCE_COHORTS = [{"id": 101, "name": "Acceptance", "members": ["user-000001", "user-000002", "no-profile-1"]}]
ACCEPTANCE_ANNOTATIONS = [{"id": 201, "project_id": 4242, "date": "2024-05-02 09:00:00", "description": "Acceptance release", "tags": [{"name": "release"}]}]
ACCEPTANCE_FUNNELS = [{"funnel_id": 301, "name": "Acceptance funnel", "steps": ["App Open", "Sign up"]}]
ACCEPTANCE_GROUPS = {1: [{"$distinct_id": "acme", "$properties": {"$last_seen": "2024-05-02T10:00:00", "$name": "Acme", "plan": "team"}}]}

SAMPLE_CONFIG = "integration_tests/sample_config.json"
INVALID_CONFIG = "integration_tests/invalid_config.json"
CONFIGURED_CATALOG = "integration_tests/configured_catalog.json"
SAMPLE_STATE = "integration_tests/sample_state.json"
ABNORMAL_STATE = "integration_tests/abnormal_state.json"
CONFIG_FILES = (SAMPLE_CONFIG, INVALID_CONFIG)
DATA_FILES = (CONFIGURED_CATALOG, SAMPLE_STATE, ABNORMAL_STATE)


def load_json(relative: str, root: Path = REPO_ROOT) -> Any:
    return json.loads((root / relative).read_text(encoding="utf-8"))


def acceptance_test_config(root: Path = REPO_ROOT) -> Dict[str, Any]:
    return yaml.safe_load((root / ACCEPTANCE_TEST_CONFIG).read_text(encoding="utf-8"))


def incremental_tests(root: Path = REPO_ROOT) -> List[Dict[str, Any]]:
    """The `incremental` entries of acceptance-test-config.yml (the standard suite does not read them)."""
    return acceptance_test_config(root)["acceptance_tests"]["incremental"]["tests"]


def make_runtime_root(target: Path, base_url: str) -> Path:
    """A connector root under `target` whose configs point at `base_url`; returns its path.

    Every config gets `base_url` replaced, whatever the committed file holds, so no run of the
    suite can send a request anywhere but the fake.
    """
    root = target / CONNECTOR_DIR_NAME
    (root / "integration_tests").mkdir(parents=True)
    shutil.copy(REPO_ROOT / ACCEPTANCE_TEST_CONFIG, root / ACCEPTANCE_TEST_CONFIG)
    for relative in DATA_FILES:
        shutil.copy(REPO_ROOT / relative, root / relative)
    for relative in CONFIG_FILES:
        config = load_json(relative)
        config["base_url"] = base_url
        (root / relative).write_text(json.dumps(config, indent=2), encoding="utf-8")
    return root
