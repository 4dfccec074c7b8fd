"""CHURN_ENV=dev on Snowflake: the whole monthly pipeline against fakesnow (in-process patch of the
Snowflake connector), parity with the local DuckDB run on the same seeded business, and a dev
run that never touches the prod schema. Plus what happens at load: missing settings named,
nothing Snowflake imported.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from churn_assets_tests.support.fake_snowflake import (
    FAKE_CREDENTIALS,
    FAKE_SETTINGS,
    admin_connection,
    environment_variables,
    fake_snowflake,
    load_source_from_duckdb,
    schema_contents,
    snowflake_variables,
)
from churn_assets_tests.support.pipeline import query, run_pipeline, seed
from churn_assets_tests.support.services import VENV_BIN

# fakesnow's and dagster-snowflake's own warnings, not this project's.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning"),
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
]

MODELS = ["churn"]
CUSTOMERS, MONTHS, END = 1500, 6, dt.date(2025, 6, 1)
DEV, PROD = "CHURN_DEV", "CHURN_PROD"
PIPELINE_TABLES = {
    "SNAPSHOT_CUSTOMERS",
    "SNAPSHOT_MANIFEST",
    "TRAINING_SET_CHURN",
    "MODEL_VERSIONS",
    "MODEL_PROMOTIONS",
    "PREDICTIONS",
    "PUBLISHED_PREDICTIONS",
}
WRITES = ("INSERT", "DELETE", "UPDATE", "MERGE", "CREATE", "ALTER", "DROP", "TRUNCATE", "COPY")


def dev_run(months=None):
    """`churn-assets run` in CHURN_ENV=dev, in process (so fakesnow's patch applies)."""
    from dagster import DagsterInstance

    from churn_assets.catalog import load_catalog
    from churn_assets.environment import load_environment
    from churn_assets.monthly_run import run_months

    first, last = months or (None, None)
    with DagsterInstance.ephemeral() as instance:
        return run_months(
            load_catalog(), load_environment(), instance, models=MODELS, first=first, last=last, echo=lambda _: None
        )


def published_in(schema: str) -> pd.DataFrame:
    with admin_connection() as conn:
        frame = (
            conn.cursor()
            .execute(f"SELECT * FROM {schema}.published_predictions ORDER BY model, month, rank")
            .fetch_pandas_all()
        )
    frame.columns = [c.lower() for c in frame.columns]
    return frame


@pytest.fixture(scope="module")
def snowflake():
    """One fake Snowflake for the module, with fake deployment settings for CHURN_ENV=dev."""
    with fake_snowflake(), environment_variables(snowflake_variables("dev")):
        yield


@pytest.fixture(scope="module")
def dev_world(snowflake, tmp_path_factory):
    """The same seeded business run locally (DuckDB) and in dev (fake Snowflake), with a prod
    schema already holding a published list, and every statement of the dev run recorded."""
    import snowflake.connector
    from fakesnow.cursor import FakeSnowflakeCursor

    home = tmp_path_factory.mktemp("parity")
    seed(home, customers=CUSTOMERS, months=MONTHS, end_month=END)
    local = run_pipeline(home, models=MODELS)
    # April has no champion yet (see test_whole_monthly_pipeline_runs_in_dev): nothing scored, nothing published.
    assert all(m.success for m in local.months), local
    assert local.months[3].models[0].status.startswith("NOT published: no champion model for 'churn' in force")

    load_source_from_duckdb(home / "warehouse.duckdb")
    with admin_connection() as conn:  # prod as it would be: its own tables and last month's list
        cursor = conn.cursor()
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {PROD}")
        cursor.execute(
            f"CREATE TABLE {PROD}.published_predictions (model VARCHAR, month DATE, customer_id NUMBER, score FLOAT, "
            "rank NUMBER, model_version NUMBER, published_at TIMESTAMP_TZ)"
        )
        cursor.execute(
            f"INSERT INTO {PROD}.published_predictions VALUES ('churn', '2025-05-01', 42, 0.9, 1, 7, '2025-06-02 "
            "06:00:00')"
        )
        cursor.execute(f"CREATE TABLE {PROD}.model_versions (model VARCHAR, version NUMBER, fingerprint VARCHAR)")
        cursor.execute(f"INSERT INTO {PROD}.model_versions VALUES ('churn', 7, 'prod-fingerprint')")
    prod_before = schema_contents(PROD)

    statements: list[tuple[str | None, str]] = []
    original = FakeSnowflakeCursor.execute

    def recording(self, command, *args, **kwargs):
        statements.append((self._conn.schema, command))
        return original(self, command, *args, **kwargs)

    connects_before = len(snowflake.connector.connect.call_args_list)
    loads_before = len(snowflake.connector.pandas_tools.write_pandas.call_args_list)
    FakeSnowflakeCursor.execute = recording
    try:
        dev = dev_run()
    finally:
        FakeSnowflakeCursor.execute = original
    return SimpleNamespace(
        home=home,
        local=local,
        dev=dev,
        statements=statements,
        connects=snowflake.connector.connect.call_args_list[connects_before:],
        loads=snowflake.connector.pandas_tools.write_pandas.call_args_list[loads_before:],
        prod_before=prod_before,
    )


def test_whole_monthly_pipeline_runs_in_dev(dev_world):
    failed = [m.month for m in dev_world.dev.months if not m.success]
    assert failed == [], [(m.month, [r.status for r in m.models]) for m in dev_world.dev.months]
    assert PIPELINE_TABLES <= set(schema_contents(DEV))
    published = [m.month for m in dev_world.dev.months if m.models[0].published]
    # April's first version is judged on a one-month split with 18 positives (< min_holdout_positives 30):
    # not promoted, nothing to publish with; May's version is the first champion.
    assert published == [dt.date(2025, 5, 1), dt.date(2025, 6, 1)]
    assert "not judged: the holdout holds 18 positive labels" in dev_world.dev.months[3].models[0].status


def test_same_seed_gives_the_same_published_list_on_duckdb_and_on_dev(dev_world):
    local = query(dev_world.home, "SELECT * FROM churn.published_predictions ORDER BY model, month, rank")
    dev = published_in(DEV)
    assert len(local) == len(dev) > 0
    local["month"] = pd.to_datetime(local["month"]).dt.date
    dev["month"] = pd.to_datetime(dev["month"]).dt.date
    # The reasons and the value at risk go through Snowflake's code path too (stored and read back).
    reasons = [f"reason_{i}_{part}" for i in (1, 2, 3) for part in ("feature", "value")]
    for column in ("model", "month", "customer_id", "rank", "model_version", *reasons):
        assert local[column].fillna("-").tolist() == dev[column].fillna("-").tolist(), column
    for column in ("score", "value", "expected_loss", "reason_1_contribution", "reason_3_contribution"):
        np.testing.assert_allclose(local[column].to_numpy(float), dev[column].to_numpy(float), rtol=0, atol=1e-6)
    assert local["value"].notna().any() and local["reason_1_feature"].notna().all()
    # The month by month summary agrees too: versions, AUC, scored, overlap, list size.
    for a, b in zip(dev_world.local.months, dev_world.dev.months, strict=True):
        for x, y in zip(a.models, b.models, strict=True):
            assert (x.version, x.scored, x.published, x.status) == (y.version, y.scored, y.published, y.status)
            assert x.auc == pytest.approx(y.auc) if x.auc is not None else y.auc is None
            assert x.overlap == pytest.approx(y.overlap) if x.overlap is not None else y.overlap is None


def test_a_dev_run_never_touches_the_prod_schema(dev_world):
    assert schema_contents(PROD).keys() == dev_world.prod_before.keys()
    for table, before in dev_world.prod_before.items():
        pd.testing.assert_frame_equal(schema_contents(PROD)[table], before)
    assert dev_world.statements, "the recorder saw nothing"
    assert not [sql for _, sql in dev_world.statements if PROD in sql.upper()]
    writes = [(schema, sql) for schema, sql in dev_world.statements if sql.lstrip().split(None, 1)[0].upper() in WRITES]
    assert writes and all(schema == DEV for schema, _ in writes), {schema for schema, _ in writes}
    # Every connection of the run: dev's database, schema, role and warehouse, credentials resolved.
    assert dev_world.connects
    for call in dev_world.connects:
        kwargs = call.kwargs
        assert (kwargs["database"], kwargs["schema"]) == (FAKE_SETTINGS["CHURN_SNOWFLAKE_DATABASE"], DEV)
        assert kwargs["role"] == FAKE_SETTINGS["CHURN_SNOWFLAKE_ROLE"]
        assert kwargs["warehouse"] == FAKE_SETTINGS["CHURN_SNOWFLAKE_WAREHOUSE"]
        assert kwargs["user"] == FAKE_CREDENTIALS["CHURN_SNOWFLAKE_USER"]
        assert kwargs["password"] == FAKE_CREDENTIALS["CHURN_SNOWFLAKE_PASSWORD"]
    # Large frames went through write_pandas into session temporary tables only.
    assert dev_world.loads
    for call in dev_world.loads:
        assert call.kwargs["table_name"].startswith("CHURN_LOAD_") and not call.kwargs.get("schema")


def test_catalogue_checked_against_the_dev_source(dev_world, tmp_path):
    """What `churn-assets check` does in dev (Snowflake is not queried at load)."""
    import yaml

    from churn_assets.catalog import CatalogError, catalog_path, load_catalog
    from churn_assets.definitions import check_sources
    from churn_assets.environment import load_environment

    environment = load_environment()
    source = query(dev_world.home, "SELECT * FROM analytics.customer_features_monthly LIMIT 0").columns.tolist()
    assert environment.warehouse.relation_columns("analytics.customer_features_monthly") == source
    assert (
        environment.warehouse.relation_columns(
            f"{FAKE_SETTINGS['CHURN_SNOWFLAKE_DATABASE']}.analytics.customer_features_monthly"
        )
        == source
    )
    assert environment.warehouse.relation_columns("analytics.no_such_view") is None
    assert check_sources(load_catalog(), environment, types=True) == []

    quoted = yaml.safe_load(catalog_path().read_text())
    quoted["models"]["churn"]["exclusions"][1]["equals"] = "true"
    path = tmp_path / "quoted.yaml"
    path.write_text(yaml.safe_dump(quoted, sort_keys=False))
    with pytest.raises(CatalogError, match="equals 'true' is text but the column holds boolean values"):
        check_sources(load_catalog(path), environment, types=True)

    broken = yaml.safe_load(catalog_path().read_text())
    broken["models"]["churn"]["features"].append("no_such_feature")
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(broken, sort_keys=False))
    with pytest.raises(CatalogError, match="no_such_feature"):
        check_sources(load_catalog(path), environment)


def test_month_columns_are_dates_in_dev_and_old_timestamps_are_migrated(dev_world):
    from churn_assets.environment import load_environment

    with admin_connection() as conn:
        cursor = conn.cursor()
        types = cursor.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = ? "
            "AND lower(column_name) IN ('month', 'snapshot_month', 'training_month')",
            [DEV],
        ).fetchall()
        assert len(types) >= 5 and {t for _, _, t in types} == {"DATE"}, types
        cursor.execute(f"CREATE TABLE {DEV}.legacy_lists (model VARCHAR, month TIMESTAMP_NTZ, customer_id NUMBER)")
        cursor.execute(f"INSERT INTO {DEV}.legacy_lists VALUES ('churn', '2025-05-01 00:00:00', 42)")
    try:
        warehouse = load_environment().warehouse
        (line,) = warehouse.migrate_date_columns()
        assert line.startswith(f"migrated {DEV}.legacy_lists.month: TIMESTAMP") and line.endswith("-> DATE")
        assert warehouse.migrate_date_columns() == []
        with admin_connection() as conn:
            cursor = conn.cursor()
            row = cursor.execute(f"SELECT model, month, customer_id FROM {DEV}.legacy_lists").fetchone()
            assert row == ("churn", dt.date(2025, 5, 1), 42)
    finally:
        with admin_connection() as conn:
            conn.cursor().execute(f"DROP TABLE IF EXISTS {DEV}.legacy_lists")


def test_rerunning_a_month_in_dev_changes_nothing(dev_world):
    before = published_in(DEV).drop(columns="published_at")
    with admin_connection() as conn:
        (versions,) = conn.cursor().execute(f"SELECT count(*) FROM {DEV}.model_versions").fetchone()
    again = dev_run((END, END))
    assert again.all_succeeded
    pd.testing.assert_frame_equal(before, published_in(DEV).drop(columns="published_at"))
    with admin_connection() as conn:
        assert conn.cursor().execute(f"SELECT count(*) FROM {DEV}.model_versions").fetchone() == (versions,)


@pytest.mark.parametrize("rows", [5, 150], ids=["insert", "write_pandas"])
def test_replace_rows_is_all_or_nothing(snowflake, rows):
    """A replace that fails half-way leaves the previous rows; the months around it are untouched."""
    from churn_assets.environment import load_environment

    warehouse = load_environment("dev").warehouse
    table = f"atomic_{rows}"
    good = pd.DataFrame(
        {"month": [dt.date(2025, 5, 1)] * rows, "customer_id": range(rows), "score": np.linspace(0, 1, rows)}
    )
    other = good.assign(month=dt.date(2025, 4, 1))
    warehouse.replace_rows(table, {"month": dt.date(2025, 4, 1)}, other)
    warehouse.replace_rows(table, {"month": dt.date(2025, 5, 1)}, good)
    broken = good.assign(score=["not a number"] * rows)
    import snowflake.connector

    with pytest.raises(snowflake.connector.errors.ProgrammingError, match="Could not convert string 'not a number'"):
        warehouse.replace_rows(table, {"month": dt.date(2025, 5, 1)}, broken)
    stored = warehouse.query(f"SELECT * FROM {warehouse.table(table)} ORDER BY month, customer_id")
    assert len(stored) == 2 * rows
    assert stored["score"].tolist() == other["score"].tolist() + good["score"].tolist()
    # A new column is added to the table (additive schema evolution), old rows get NULL.
    warehouse.replace_rows(table, {"month": dt.date(2025, 6, 1)}, good.assign(month=dt.date(2025, 6, 1), segment="smb"))
    assert warehouse.columns(table) == ["month", "customer_id", "score", "segment"]


def test_key_pair_authentication(snowflake, tmp_path):
    """CHURN_SNOWFLAKE_PRIVATE_KEY (PEM text) or _PATH (+ _PASSWORD): the connector gets the key, no password."""
    import snowflake.connector
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from churn_assets.environment import load_environment

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    encrypted = tmp_path / "rsa_key.p8"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    for settings in (
        {"CHURN_SNOWFLAKE_PASSWORD": None, "CHURN_SNOWFLAKE_PRIVATE_KEY": pem},
        {
            "CHURN_SNOWFLAKE_PASSWORD": None,
            "CHURN_SNOWFLAKE_PRIVATE_KEY_PATH": str(encrypted),
            "CHURN_SNOWFLAKE_PRIVATE_KEY_PASSWORD": "passphrase",
        },
    ):
        with environment_variables(settings):
            warehouse = load_environment("dev").warehouse
            assert warehouse.query("SELECT 1 AS one")["one"].tolist() == [1]
        kwargs = snowflake.connector.connect.call_args.kwargs
        assert kwargs["private_key"] == der and "password" not in kwargs


def test_dev_refuses_the_prod_schema():
    from churn_assets.environment import load_environment
    from churn_assets.errors import SettingsError

    with environment_variables(snowflake_variables("dev", CHURN_SNOWFLAKE_SCHEMA="churn_prod")):
        with pytest.raises(SettingsError, match="never writes to the prod schema CHURN_PROD"):
            load_environment()
    with environment_variables(snowflake_variables("prod")):
        assert load_environment().warehouse.schema_name == PROD
    with environment_variables(snowflake_variables("dev", CHURN_SNOWFLAKE_SCHEMA="churn_dev_alice")):
        assert load_environment().warehouse.schema_name == "CHURN_DEV_ALICE"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_missing_settings_fail_at_load_naming_the_variables(tmp_path, env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHURN_SNOWFLAKE_")}
    clean.update({"CHURN_ENV": env, "CHURN_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path)})
    wanted = [
        "CHURN_SNOWFLAKE_ACCOUNT",
        "CHURN_SNOWFLAKE_USER",
        "CHURN_SNOWFLAKE_DATABASE",
        "CHURN_SNOWFLAKE_PASSWORD",
        "CHURN_SNOWFLAKE_PRIVATE_KEY",
    ]

    validate = subprocess.run(
        [str(VENV_BIN / "dagster"), "definitions", "validate", "-m", "churn_assets"],
        capture_output=True,
        text=True,
        env=clean,
        timeout=180,
    )
    output = validate.stdout + validate.stderr
    assert validate.returncode != 0
    assert all(variable in output for variable in wanted), output
    assert "snowflake/connector" not in output and "dagster_snowflake" not in output, output

    cli = subprocess.run(
        [str(VENV_BIN / "churn-assets"), "run"], capture_output=True, text=True, env=clean, timeout=180
    )
    assert cli.returncode == 2
    assert len(cli.stderr.strip().splitlines()) == 1 and "Traceback" not in cli.stderr
    assert all(variable in cli.stderr for variable in wanted), cli.stderr


@pytest.mark.parametrize("env, schedule", [("dev", "STOPPED"), ("prod", "RUNNING")])
def test_code_location_loads_without_importing_snowflake_or_great_expectations(tmp_path, env, schedule):
    program = """
import json, sys, time
started = time.perf_counter()
from churn_assets.definitions import build_definitions
defs = build_definitions()
graph = defs.resolve_asset_graph()
warehouse = defs.resources["warehouse"]
print(json.dumps({
    "seconds": time.perf_counter() - started,
    "imported": sorted(
        m for m in ("dagster_snowflake", "dagster_snowflake_pandas", "snowflake.connector", "great_expectations")
        if m in sys.modules
    ),
    "resource": type(warehouse).__name__,
    "schema": warehouse.schema_name,
    "kinds": sorted({k for key in graph.get_all_asset_keys() for k in graph.get(key).kinds}),
    "schedule": str(defs.resolve_schedule_def("monthly_last_completed_month").default_status.value),
    "executor": defs.executor.name,
}))
"""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CHURN_SNOWFLAKE_")}
    environment.update({k: v for k, v in snowflake_variables(env).items() if v is not None}, CHURN_HOME=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=environment, timeout=180
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["imported"] == [], loaded
    assert loaded["resource"] == "SnowflakeWarehouse" and loaded["schema"] == f"CHURN_{env.upper()}"
    assert "snowflake" in loaded["kinds"] and "duckdb" not in loaded["kinds"]
    assert loaded["schedule"] == schedule
    assert loaded["executor"] == "multiprocess"
