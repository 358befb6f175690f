"""Console-script entry point (`source-mixpanel-aep`); main.py and the Docker image use it too.

It launches the connector and nothing else: the command itself (the CDK's entrypoint with our
config check and RECORD lines, and how a failure ends) is protocol/entry.py; what it copies of the
CDK is cdk/entry.py. `launch`, COMMAND, VERSION and READER_GONE_EXIT are importable from here, as
setup.py, the tests and the benchmark use them.
"""

from __future__ import annotations

import gc
import sys
from typing import List, Optional

from .protocol.entry import COMMAND, READER_GONE_EXIT, VERSION, launch

__all__ = ["COMMAND", "READER_GONE_EXIT", "VERSION", "launch", "run"]


def run(argv: Optional[List[str]] = None) -> None:
    """The process entry (console script, main.py, the image): one command, then the process ends.

    What the imports built lives until the end, so it is frozen out of the garbage collector
    (gc.freeze): otherwise the interpreter walks all of it once more on the way out, about 0.1 s of
    every command. The import-time garbage frozen with it (about 0.5 MB) is kept until exit.
    In-process callers use `launch`, which leaves their collector alone.
    """
    gc.freeze()
    sys.exit(launch(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    run()
