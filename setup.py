from setuptools import find_packages, setup

VERSION = "1.0.0"

setup(
    name="source-mixpanel-aep",
    version=VERSION,
    description="Airbyte source: Mixpanel raw events shaped for Adobe Experience Platform (XDM).",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["source_mixpanel_aep", "source_mixpanel_aep.*"]),
    package_data={"source_mixpanel_aep": ["spec.json", "schemas/*.json"]},
    install_requires=[
        "airbyte-cdk>=7.39,<8",  # what this range allows users; CI and the image install constraints.txt's one version
        "requests>=2.31",
        "pendulum>=3",
        "tzlocal>=5",  # CLDR's Windows timezone names -> IANA, for AEP's "Pacific Standard Time"
        "orjson>=3.9",
    ],
    extras_require={
        "tests": ["pytest>=8", "requests-mock>=1.11", "jsonschema>=4", "time-machine>=2.14"],  # time-machine: one simulated clock for scheduled-sync tests and bench
    },
    entry_points={"console_scripts": [
        "source-mixpanel-aep = source_mixpanel_aep.run:run",
        "source-mixpanel-aep-xdm = source_mixpanel_aep.aep.command:run",  # prints what to create in AEP for output_format xdm
    ]},
)
