import re
from pathlib import Path

from setuptools import find_packages, setup

# One source for the version: churn_assets/__init__.py.
VERSION = re.search(r'^__version__ = "([^"]+)"', Path("churn_assets/__init__.py").read_text(), re.M).group(1)

setup(
    name="churn_assets",
    version=VERSION,
    description="The monthly life of customer churn (and other classification) models as Dagster assets, "
    "with business-rule gates that block publishing.",
    packages=find_packages(exclude=["churn_assets_tests*", "bench*"]),
    # The monthly report's page template (churn_assets/reports.py) ships in the wheel.
    package_data={"churn_assets": ["models.yaml", "models.schema.json", "templates/*.j2"]},
    python_requires=">=3.10,<3.14",
    # Ranges known to resolve together (checked with pip on Python 3.11, 2026-11).
    install_requires=[
        "dagster>=1.13,<1.14",
        "dagster-webserver>=1.13,<1.14",
        # Snowflake connections (SnowflakeResource) and the connector; tables are written by
        # churn_assets/warehouse/ (atomic month replacement), not by an IO manager.
        "dagster-snowflake>=0.29,<0.30",
        # Run workers in the code-server image write to the PostgreSQL instance (deploy/dagster.yaml).
        "dagster-postgres>=0.29,<0.30",
        # Alerts: Teams through dagster-msteams; Slack through slack_sdk's webhook client (dagster-slack
        # wraps the Web API with a bot token, not incoming webhooks).
        "dagster-msteams>=0.29,<0.30",
        "slack-sdk>=3.27,<4",
        "duckdb>=1.1,<3",
        "xgboost>=2.1,<4",
        # The Dagster pandas IO managers require pandas < 3.
        "pandas>=2.2,<3",
        "numpy>=1.26,<3",
        "pyarrow>=16",
        "great-expectations>=1.5,<2",
        "scikit-learn>=1.5,<2",
        "pyyaml>=6",
        "tabulate>=0.9",
        # The monthly report's HTML (churn_assets/templates); Dagster installs it too.
        "jinja2>=3.1,<4",
    ],
    extras_require={
        # The deployed image: runs in their own containers (DockerRunLauncher) or Kubernetes jobs
        # (K8sRunLauncher, Helm chart). Installed in .venv too, so deploy/constraints.txt pins them.
        "deploy": [
            "dagster-docker>=0.29,<0.30",
            "dagster-k8s>=0.29,<0.30",
        ],
        "test": [
            "pytest>=8",
            # `make test` runs the suite on every core (files stay whole on one worker).
            "pytest-xdist>=3.8,<4",
            # The rank correlation is checked against scipy's; the UI screenshot is read with pillow.
            "scipy>=1.11",
            "pillow>=10",
            "fakesnow>=0.11,<0.13",
            "check-jsonschema>=0.29",
            # `make lint` (part of `make test`): pinned to a minor version so the formatter's output is stable.
            "ruff>=0.17.6,<0.18",
        ],
    },
    entry_points={"console_scripts": ["churn-assets=churn_assets.cli:main"]},
)
