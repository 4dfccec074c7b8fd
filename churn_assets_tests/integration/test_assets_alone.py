"""Each asset materialised on its own (`dagster.materialize` with the month's partition key), on a
small warehouse whose earlier months ran: what it stores and what it tells the UI, without a run
of the whole month around it."""

from __future__ import annotations

import pytest
from dagster import AssetKey, materialize

from churn_assets.definitions import build_definitions
from churn_assets_tests.support.pipeline import END_MONTH, churn_home, dagster_instance, query

PARTITION = END_MONTH.isoformat()


@pytest.fixture
def alone(history_copy):
    """Materialise one asset of END_MONTH alone (its own checks included); returns the result."""

    def run(*path: str):
        with churn_home(history_copy):
            defs = build_definitions()
            result = materialize(
                [defs.resolve_assets_def(AssetKey(list(path)))],
                partition_key=PARTITION,
                instance=dagster_instance(history_copy),
                raise_on_error=False,
            )
        assert result.success, [str(e.event_specific_data.error) for e in result.get_step_failure_events()]
        return result

    run.home = history_copy
    return run


def metadata(result, *path: str) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey(list(path))]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def churn_rows(home, table: str) -> int:
    """Rows of churn's END_MONTH in a stored table."""
    return int(
        query(home, f"SELECT count(*) AS n FROM churn.{table} WHERE model = 'churn' AND month = ?", [END_MONTH])["n"][0]
    )


def evaluations(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_each_asset_of_a_month_materialises_alone_in_order(alone):
    home = alone.home
    snapshot = alone("customers", "snapshot")
    stored = metadata(snapshot, "customers", "snapshot")
    assert stored["stored"] and stored["rows"] > 0 and evaluations(snapshot) == {"data_contract": True}
    manifest = query(home, "SELECT row_count FROM churn.snapshot_manifest WHERE month = ?", [END_MONTH])
    assert int(manifest["row_count"].iloc[0]) == stored["rows"]

    training = metadata(alone("churn", "training_set"), "churn", "training_set")
    rows = query(home, "SELECT count(*) AS n FROM churn.training_set_churn WHERE training_month = ?", [END_MONTH])
    assert training["labelled"] and training["rows"] == int(rows["n"].iloc[0]) > 0
    assert max(training["months"]) < PARTITION  # labels of earlier months only

    model = alone("churn", "model")
    assert metadata(model, "churn", "model")["trained"]
    assert set(evaluations(model)) == {"holdout_auc", "not_worse_than_champion"}

    predictions = alone("churn", "predictions")
    scored = metadata(predictions, "churn", "predictions")
    stored_rows = query(
        home, "SELECT count(*) AS n FROM churn.predictions WHERE model = 'churn' AND month = ?", [END_MONTH]
    )
    assert scored["rows_scored"] == int(stored_rows["n"].iloc[0]) > 0
    assert evaluations(predictions) == dict.fromkeys(
        ["top_k_overlap", "predicted_rate", "score_psi", "coverage", "list_capacity"], True
    )

    published = metadata(alone("churn", "published_predictions"), "churn", "published_predictions")
    listed = query(
        home, "SELECT count(*) AS n FROM churn.published_predictions WHERE model = 'churn' AND month = ?", [END_MONTH]
    )
    assert published["published"] and published["rows"] == int(listed["n"].iloc[0]) == scored["list_size"]

    report = metadata(alone("churn", "monthly_report"), "churn", "monthly_report")
    assert (home / "reports" / "churn" / f"{PARTITION}.html").exists() and report["path"].endswith(".html")


def test_a_snapshot_alone_refuses_a_month_whose_previous_month_never_ran(fresh_home):
    """The first step of a month checks the month before, whichever way the month was launched."""

    def snapshot(month: str):
        with churn_home(fresh_home):
            return materialize(
                [build_definitions().resolve_assets_def(AssetKey(["customers", "snapshot"]))],
                partition_key=month,
                instance=dagster_instance(fresh_home),
                raise_on_error=False,
            )

    assert snapshot("2024-09-01").success  # the source's first month: nothing before it
    skipped = snapshot("2024-11-01")
    assert not skipped.success
    (failure,) = skipped.get_step_failure_events()
    assert "cannot run before 2024-10-01" in str(failure.event_specific_data.error)
    assert "run 2024-10-01 first" in str(failure.event_specific_data.error)
    assert skipped.get_asset_check_evaluations() == []  # refused before judging anything
    assert snapshot("2024-10-01").success and snapshot("2024-11-01").success
