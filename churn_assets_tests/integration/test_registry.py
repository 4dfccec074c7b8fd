"""Registry semantics: reproducible versions, champion/challenger promotion, atomic promotion."""

import datetime as dt

import duckdb
import pandas as pd
import pytest
import yaml

from churn_assets.catalog import DEFAULT_CATALOG, load_catalog
from churn_assets.environment import load_environment
from churn_assets.rules.months import add_months
from churn_assets.warehouse import registry
from churn_assets_tests.support.pipeline import END_MONTH, FIRST_MONTH, churn_home, query, run_pipeline


def catalogue_with(tmp_path, **changes):
    data = yaml.safe_load(DEFAULT_CATALOG.read_text())
    for key, value in changes.items():
        target = data["models"]["churn"]
        *path, last = key.split("__")
        for part in path:
            target = target[part]
        target[last] = value
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_catalog(path)


def test_retraining_the_same_month_gives_the_same_artifact(completed_copy):
    version = query(completed_copy, "SELECT * FROM churn.model_versions WHERE trained_for_month = ?", [END_MONTH]).iloc[
        0
    ]
    with duckdb.connect(str(completed_copy / "warehouse.duckdb")) as conn:
        # Forget the version entirely, so the run must train again from the same snapshots.
        conn.execute("DELETE FROM churn.model_versions WHERE version = ?", [int(version["version"])])
        conn.execute("DELETE FROM churn.model_promotions WHERE version = ?", [int(version["version"])])
    assert run_pipeline(completed_copy, first=END_MONTH, last=END_MONTH).all_succeeded
    retrained = query(
        completed_copy, "SELECT * FROM churn.model_versions WHERE trained_for_month = ?", [END_MONTH]
    ).iloc[0]
    assert retrained["created_at"] > version["created_at"]  # a new training, not the old row
    assert retrained["artifact_sha256"] == version["artifact_sha256"]
    assert retrained["fingerprint"] == version["fingerprint"]


def test_a_failed_challenger_keeps_the_champion_and_the_list_is_still_published(history_copy, tmp_path):
    with churn_home(history_copy):
        warehouse = load_environment("local").warehouse
        champion_before = registry.champion_for(warehouse, "churn", add_months(END_MONTH, -1))
    # A crippled challenger: one stump cannot match the champion on the same holdout.
    catalog = catalogue_with(tmp_path, params={"n_estimators": 1, "max_depth": 1})
    report = run_pipeline(history_copy, first=END_MONTH, last=END_MONTH, catalog=catalog)
    row = report.months[0].models[0]
    assert report.all_succeeded and row.published
    assert "not_worse_than_champion" in row.status
    published = query(
        history_copy, "SELECT DISTINCT model_version FROM churn.published_predictions WHERE month = ?", [END_MONTH]
    )
    assert published["model_version"].tolist() == [champion_before.version]
    with churn_home(history_copy):
        aliases = registry.aliases(warehouse, "churn")
        assert aliases["champion"] == champion_before.version
        assert aliases["challenger"] == row.version != champion_before.version
        assert registry.champion_for(warehouse, "churn", END_MONTH).version == champion_before.version


def test_without_a_champion_a_model_below_its_floor_blocks_publishing(fresh_home, tmp_path):
    catalog = catalogue_with(tmp_path, gates__min_auc=0.99)
    first_trainable = add_months(FIRST_MONTH, catalog.models["churn"].horizon_months)
    report = run_pipeline(fresh_home, last=first_trainable, catalog=catalog)
    outcome = report.months[-1]
    row = outcome.models[0]
    # Nothing to score is not a broken run: the month materialises, says why, and publishes nothing
    # (the next month depends on it); the failed quality gate is what alerts.
    assert outcome.success and row.version == 1 and row.published is None
    assert row.status.startswith(f"NOT published: no champion model for 'churn' in force at {first_trainable} (")
    assert any(check.startswith("churn/model:holdout_auc") for check in row.failed_checks), row.failed_checks
    gates = query(
        fresh_home,
        "SELECT count(*) AS n FROM churn.gate_results WHERE asset = 'churn/predictions' AND month = ?",
        [first_trainable],
    )
    assert gates["n"].iloc[0] == 0  # no list, so no business gate evaluated (not passed, not failed)
    lists = query(
        fresh_home, "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'published_predictions'"
    )
    assert lists["n"].iloc[0] == 0


def test_an_interrupted_promotion_leaves_the_previous_champion(completed_copy, monkeypatch):
    with churn_home(completed_copy):
        warehouse = load_environment("local").warehouse
        before = registry.aliases(warehouse, "churn")["champion"]
        history = query(completed_copy, "SELECT * FROM churn.model_promotions ORDER BY effective_month")
        original = type(warehouse)._write_frame

        def crash_on_alias(self, conn, table, frame):
            if table == registry.ALIASES:
                raise RuntimeError("connection lost mid-promotion")
            return original(self, conn, table, frame)

        monkeypatch.setattr(type(warehouse), "_write_frame", crash_on_alias)
        with pytest.raises(RuntimeError, match="mid-promotion"):
            registry.promote(warehouse, "churn", 1, dt.date(2031, 1, 1))
        monkeypatch.undo()
        assert registry.aliases(warehouse, "churn")["champion"] == before
        pd.testing.assert_frame_equal(
            history, query(completed_copy, "SELECT * FROM churn.model_promotions ORDER BY effective_month")
        )
