"""*Into Adobe Experience Platform* (docs/aep.md): the loader's commands, run exactly as written, against the fakes.

The section's ```bash blocks that call `source-mixpanel-aep-xdm setup` and the batch path
(`read | jsonl ... && upload`) run through `bash -euo pipefail` in a temp directory holding a
config.json (xdm output, the fake Mixpanel) and a catalog.json, with the venv's commands on PATH and
the fake AEP's environment (what the prerequisites block exports). The batch block runs twice, as a
schedule would: the second run resumes from the state the first kept. The export and streaming
blocks are left out (real credentials, dcs.adobedc.net).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from airbyte_cdk.models import SyncMode

from integration_tests.builders import catalog_json, config
from integration_tests.doc_sections import section
from integration_tests.fake_aep import FakeAep
from integration_tests.fake_mixpanel import FakeMixpanel

BLOCK = re.compile(r"^( *)```bash\n(.*?)^\1```", re.S | re.M)
DAY = dt.date(2024, 5, 1)


def blocks() -> list[str]:
    return [textwrap.dedent(body) for _, body in BLOCK.findall(section("aep"))]


def run(block: str, workdir: Path, env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=workdir, capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, f"this documented block failed (exit {done.returncode}):\n{block}\nstdout: {done.stdout[-1500:]}\nstderr: {done.stderr[-1500:]}"
    return done


def test_the_aep_loader_blocks_work_as_written_and_a_second_run_sends_only_what_is_new(tmp_path):
    [setup] = [block for block in blocks() if "source-mixpanel-aep-xdm setup" in block]
    [batch] = [block for block in blocks() if "jsonl --stream events" in block and "upload" in block]
    start = int(dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc).timestamp())
    events = [{"event": "Viewed", "properties": {"time": start + 60 * index, "$insert_id": f"r-{index}", "distinct_id": f"u{index}"}}
              for index in range(12)]
    with FakeMixpanel() as fake, FakeAep() as aep:
        fake.add_events(events)
        (tmp_path / "config.json").write_text(json.dumps(config(fake.url, output_format="xdm", xdm_tenant_id="_acme",
                                                                 start_date=str(DAY), end_date=str(DAY))))
        (tmp_path / "catalog.json").write_text(catalog_json(SyncMode.incremental))
        env = {**os.environ, **aep.env(), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": ""}

        run(setup, tmp_path, env)
        ids = json.loads((tmp_path / "aep-ids.json").read_text())
        first = run(batch, tmp_path, env)
        assert json.loads(first.stdout)["status"] == "success"
        dataset = aep.store.datasets[ids["events"]["dataset"]]
        assert len(dataset["rows"]) == 12 and dataset["tags"]["unifiedProfile"] == ["enabled:true"]
        assert (tmp_path / "state.json").exists() and not (tmp_path / "next-state.json").exists()

        second = run(batch, tmp_path, env)
    assert json.loads(second.stdout)["status"] == "nothing to upload"
    assert len(dataset["rows"]) == 12 and len(aep.store.batches) == 1
