import sys

from airbyte_cdk.entrypoint import launch

from source_mixpanel_aep import SourceMixpanelAep

if __name__ == "__main__":
    launch(SourceMixpanelAep(), sys.argv[1:])
