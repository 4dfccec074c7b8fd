"""The code location as Dagster loads it: definitions, jobs, schedule, checks."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from dagster import AssetKey, build_schedule_context

import churn_assets
from churn_assets.catalog import load_catalog
from churn_assets.definitions import ALL_MODELS_JOB, build_definitions

VENV_BIN = Path(sys.executable).parent


def test_dagster_definitions_validate_passes(tmp_path):
    # As a newcomer runs it: from the repo root, with no DAGSTER_HOME (Dagster then reads ./dagster.yaml).
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["CHURN_HOME"] = str(tmp_path)
    result = subprocess.run(
        [str(VENV_BIN / "dagster"), "definitions", "validate", "-m", "churn_assets"],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed validation" in result.stdout + result.stderr


def test_asset_graph_per_model_and_blocking_gates(tmp_path, monkeypatch):
    monkeypatch.setenv("CHURN_HOME", str(tmp_path))
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    for name in load_catalog().models:
        chain = [AssetKey(["customers", "snapshot"])] + [
            AssetKey([name, s])
            for s in ("training_set", "model", "predictions", "published_predictions", "monthly_report")
        ]
        for upstream, downstream in zip(chain, chain[1:]):
            assert upstream in graph.get(downstream).parent_keys, (upstream, downstream)
        assert graph.get(AssetKey([name, "published_predictions"])).group_name == name
    checks = {key.name: graph.get_check_spec(key) for key in graph.asset_check_keys}
    assert checks["data_contract"].blocking and checks["top_k_overlap"].blocking
    # A failed challenger must not stop the list: the quality check warns, it does not block.
    assert not checks["holdout_auc"].blocking


def test_monthly_schedule_runs_the_month_that_just_ended(tmp_path, monkeypatch):
    monkeypatch.setenv("CHURN_HOME", str(tmp_path))
    defs = build_definitions()
    schedule = defs.resolve_schedule_def("monthly_last_completed_month")
    assert schedule.job_name == ALL_MODELS_JOB
    context = build_schedule_context(scheduled_execution_time=dt.datetime(2026, 11, 2, 6, 0, tzinfo=dt.timezone.utc))
    requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2026-10-01"]


def test_every_asset_links_to_its_source_code(tmp_path, monkeypatch):
    monkeypatch.setenv("CHURN_HOME", str(tmp_path))
    graph = build_definitions().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        (reference,) = node.metadata["dagster/code_references"].code_references
        # The line of the asset's own function in its own module (not the retry wrapper's module).
        module = {
            "snapshot": "snapshot",
            "training_set": "training",
            "model": "model",
            "predictions": "predictions",
            "published_predictions": "published",
            "monthly_report": "report",
            "list_outcome": "outcome",
            "feature_drift": "drift",
        }[key.path[-1]]
        assert Path(reference.file_path) == Path(churn_assets.__file__).parent / "assets" / f"{module}.py", key
        # The referenced line starts the asset function's definition (its decorators, then its `def`), and the
        # first `def` from there is the asset's own function, named as the asset.
        lines = Path(reference.file_path).read_text().splitlines()[reference.line_number - 1 :]
        assert lines[0].lstrip().startswith(("@", "def ")), (key, lines[0])
        first_def = next(line.strip() for line in lines if line.lstrip().startswith("def "))
        assert first_def.startswith(f"def {key.path[-1]}("), (key, first_def)
        assert node.description, key


def test_a_feature_missing_from_the_source_is_refused_at_load(seeded_home, tmp_path, monkeypatch):
    import yaml

    from churn_assets.catalog import DEFAULT_CATALOG, CatalogError

    data = yaml.safe_load(DEFAULT_CATALOG.read_text())
    data["models"]["upsell"]["features"].append("tenure_monthz")
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("CHURN_HOME", str(seeded_home))
    import pytest

    with pytest.raises(CatalogError) as error:
        build_definitions(load_catalog(path))
    assert str(path) in str(error.value) and "model 'upsell', key 'features'" in str(error.value)
    assert "tenure_monthz" in str(error.value)


def test_a_column_the_view_lost_since_the_last_snapshot_loads_and_is_left_to_the_contract(completed_copy, monkeypatch):
    from churn_assets.simulate.incidents import apply_incident

    apply_incident(str(completed_copy / "warehouse.duckdb"), "missing-column", dt.date(2025, 6, 1))
    monkeypatch.setenv("CHURN_HOME", str(completed_copy))
    graph = build_definitions().resolve_asset_graph()
    assert AssetKey(["customers", "snapshot"]) in graph.get_all_asset_keys()
