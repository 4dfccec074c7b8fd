from setuptools import find_packages, setup

setup(
    name="churn_assets",
    version="0.1.0",
    description="The monthly life of customer churn (and other classification) models as Dagster assets, "
    "with business-rule gates that block publishing.",
    packages=find_packages(exclude=["churn_assets_tests*", "bench*"]),
    package_data={"churn_assets": ["models.yaml"]},
    python_requires=">=3.10,<3.14",
    # Ranges known to resolve together (checked with pip on Python 3.11, 2026-11).
    install_requires=[
        "dagster>=1.13,<1.14",
        "dagster-webserver>=1.13,<1.14",
        "dagster-duckdb>=0.29,<0.30",
        "dagster-duckdb-pandas>=0.29,<0.30",
        "dagster-snowflake>=0.29,<0.30",
        "dagster-snowflake-pandas>=0.29,<0.30",
        # Run workers in the code-server image write to the PostgreSQL instance (deploy/dagster.yaml).
        "dagster-postgres>=0.29,<0.30",
        "dagster-msteams>=0.29,<0.30",
        "dagster-slack>=0.29,<0.30",
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
        "scipy>=1.11",
        "matplotlib>=3.8",
        "pillow>=10",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "fakesnow>=0.11,<0.13",
            "check-jsonschema>=0.29",
        ],
    },
    entry_points={"console_scripts": ["churn-assets=churn_assets.cli:main"]},
)
