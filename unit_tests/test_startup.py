"""Process start: the garbage collector is off while the CDK is imported, and the command's process freezes what it imported.

Each case runs a fresh interpreter: the package is imported once per process.
"""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("collecting", [True, False], ids=["collector on", "collector off"])
def test_given_an_importer_then_its_garbage_collector_is_as_it_was_after_the_import(collecting):
    before = "" if collecting else "gc.disable(); "
    assert python(f"import gc; {before}import source_mixpanel_aep; print(gc.isenabled(), gc.get_freeze_count())") == f"{collecting} 0"


def test_given_the_command_entry_then_what_was_imported_is_frozen_and_in_process_launch_leaves_it_alone():
    """The CDK import alone leaves about 97k objects to freeze; launch (tests, in-process callers) freezes none."""
    code = (
        "import gc, io\n"
        "from source_mixpanel_aep.run import launch, run\n"
        "assert launch(['spec'], stdout=io.BytesIO()) == 0 and gc.get_freeze_count() == 0, 'launch froze'\n"
        "try:\n    run(['spec'])\nexcept SystemExit as end:\n    print(end.code, gc.get_freeze_count() > 20_000, gc.isenabled())\n"
    )
    assert python(code).splitlines()[-1] == "0 True True"
