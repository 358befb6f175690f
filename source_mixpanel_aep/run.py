"""Console-script entry point (`source-mixpanel-aep`), the same launch as main.py."""

import sys
from typing import List, Optional

from airbyte_cdk.entrypoint import launch

from .source import SourceMixpanelAep


def run(argv: Optional[List[str]] = None) -> None:
    launch(SourceMixpanelAep(), sys.argv[1:] if argv is None else argv)
