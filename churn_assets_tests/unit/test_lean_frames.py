"""Month-sized frames are held lean (text as categoricals, hashed and encoded column by column):
these tests pin that the lean paths give exactly what the plain pandas paths give."""

import hashlib

import duckdb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from churn_assets import modeling
from churn_assets.catalog import Exclusion
from churn_assets.rules.lists import excluded_mask
from churn_assets.warehouse.base import concat_chunks, text_as_categories
from churn_assets.warehouse.duckdb import DuckDBWarehouse, stream_frames


def _customers(n: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plans = np.array(["basic", "plus", "premium", None], dtype=object)
    return pd.DataFrame(
        {
            "customer_id": rng.permutation(n).astype("int64") + 1,
            "plan": plans[rng.integers(0, 4, n)],
            "tenure": rng.integers(0, 80, n).astype("float64"),
            "do_not_contact": rng.random(n) < 0.1,
        }
    )


def _reference_hash(frame: pd.DataFrame, sort_by: list[str]) -> str:
    """The hash as first written: sort a copy, hash it whole (kept here as the specification)."""
    ordered = frame.sort_values(sort_by, kind="stable").reset_index(drop=True)
    ordered = ordered[sorted(ordered.columns)]
    digest = hashlib.sha256(",".join(ordered.columns).encode())
    digest.update(pd.util.hash_pandas_object(ordered, index=False).values.tobytes())
    return digest.hexdigest()


def test_column_by_column_hash_equals_the_whole_frame_hash_and_ignores_the_text_representation():
    frame = _customers(5_000)
    expected = _reference_hash(frame, ["customer_id"])
    assert modeling.frame_hash(frame, ["customer_id"]) == expected
    # Stored snapshots keep their hashes whether the month was read as objects or as categories.
    assert modeling.frame_hash(text_as_categories(frame.copy()), ["customer_id"]) == expected
    # Row and column order do not matter; content does.
    shuffled = frame.sample(frac=1, random_state=1)[list(reversed(frame.columns))]
    assert modeling.frame_hash(shuffled, ["customer_id"]) == expected
    changed = frame.copy()
    changed.loc[17, "tenure"] += 1
    assert modeling.frame_hash(changed, ["customer_id"]) != expected


def test_two_key_hash_equals_the_whole_frame_hash():
    frame = pd.concat([_customers(500).assign(month=m) for m in pd.to_datetime(["2025-02-01", "2025-01-01"])])
    assert modeling.frame_hash(frame, ["month", "customer_id"]) == _reference_hash(frame, ["month", "customer_id"])


def test_streamed_read_with_categories_holds_the_same_values_as_a_plain_read(tmp_path):
    source = _customers(1_200_000)  # more than two fetch chunks
    source.loc[source.index[:700_000], "plan"] = None  # a chunk of NULLs only
    warehouse = DuckDBWarehouse(database=str(tmp_path / "w.duckdb"), schema_name="churn")
    warehouse.append_rows("customers", source)
    plain = warehouse.query("SELECT * FROM churn.customers ORDER BY customer_id")
    lean = warehouse.read_features("SELECT * FROM churn.customers ORDER BY customer_id")
    assert isinstance(lean["plan"].dtype, pd.CategoricalDtype)
    assert lean["customer_id"].dtype == plain["customer_id"].dtype  # ids are never categories
    assert list(lean["plan"].cat.categories) == ["basic", "plus", "premium"]
    pd.testing.assert_frame_equal(lean.drop(columns="plan"), plain.drop(columns="plan"))
    assert lean["plan"].astype(object).fillna("-").tolist() == plain["plan"].fillna("-").tolist()
    assert lean.memory_usage(deep=True).sum() < plain.memory_usage(deep=True).sum() / 2


def test_an_empty_result_keeps_its_columns(tmp_path):
    conn = duckdb.connect()
    conn.execute("CREATE TABLE t AS SELECT 1 AS customer_id, 'a' AS plan")
    empty = concat_chunks([text_as_categories(c) for c in stream_frames(conn, "SELECT * FROM t WHERE customer_id < 0")])
    assert list(empty.columns) == ["customer_id", "plan"] and len(empty) == 0


def test_categorical_text_is_stored_as_text_so_a_new_category_next_month_is_accepted(tmp_path):
    warehouse = DuckDBWarehouse(database=str(tmp_path / "w.duckdb"), schema_name="churn")
    first = text_as_categories(pd.DataFrame({"month": [1, 1], "plan": ["basic", "plus"]}))
    warehouse.replace_rows("snap", {"month": 1}, first)
    types = dict(
        warehouse.query(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'snap'"
        ).values
    )
    assert types["plan"] == "VARCHAR"  # not an ENUM of January's plans
    warehouse.replace_rows("snap", {"month": 2}, text_as_categories(pd.DataFrame({"month": [2], "plan": ["gold"]})))
    assert sorted(warehouse.query("SELECT plan FROM churn.snap")["plan"]) == ["basic", "gold", "plus"]


def test_encoding_categoricals_and_selected_rows_gives_the_plain_matrix():
    frame = _customers(20_000)
    lean = text_as_categories(frame.copy())
    rows = (frame["customer_id"] % 5 != 0).to_numpy()
    schema = modeling.feature_schema(frame[rows], ("plan", "tenure"), ("plan",))
    assert modeling.feature_schema(lean, ("plan", "tenure"), ("plan",), rows=rows) == schema
    expected = modeling.feature_matrix(frame[rows].reset_index(drop=True), schema)
    for candidate in (frame, lean):
        got = modeling.feature_matrix(candidate, schema, rows=rows)
        pd.testing.assert_frame_equal(got, expected)
        assert list(got["plan"].cat.categories) == schema["categorical"]["plan"]


def test_a_category_unseen_in_training_is_scored_as_missing():
    schema = {"features": ["plan"], "categorical": {"plan": ["basic", "plus"]}}
    lean = text_as_categories(pd.DataFrame({"plan": ["plus", "gold", None]}))
    assert modeling.feature_matrix(lean, schema)["plan"].cat.codes.tolist() == [1, -1, -1]


def test_chunked_scoring_equals_scoring_the_whole_matrix(monkeypatch):
    frame = _customers(3_000)
    y = (frame["tenure"] < 20).to_numpy().astype(int)
    schema = modeling.feature_schema(frame, ("plan", "tenure"), ("plan",))
    trained = modeling.train(modeling.feature_matrix(frame, schema), y, {"n_estimators": 5, "max_depth": 2}, seed=1)
    rows = (frame["customer_id"] % 3 != 0).to_numpy()
    matrix = modeling.feature_matrix(frame, schema, rows=rows)
    whole = modeling._booster(trained.artifact).predict(xgb.DMatrix(matrix, enable_categorical=True))
    monkeypatch.setattr(modeling, "SCORING_CHUNK_ROWS", 257)
    chunked = modeling.score(trained.artifact, text_as_categories(frame.copy()), schema, rows=rows)
    np.testing.assert_array_equal(chunked, whole)


@pytest.mark.parametrize("as_categories", [False, True])
def test_exclusions_give_the_same_rows_on_categorical_text(as_categories):
    frame = pd.DataFrame(
        {
            "status": ["active", "cancelled", None, "cancelled"],
            "do_not_contact": ["true", "FALSE", None, "1"],
            "flag": pd.array([True, None, False, True], dtype="boolean"),
        }
    )
    if as_categories:
        frame = text_as_categories(frame)
    assert excluded_mask(frame, [Exclusion("status", "cancelled", "")]).tolist() == [False, True, False, True]
    assert excluded_mask(frame, [Exclusion("do_not_contact", True, "")]).tolist() == [True, False, False, True]
    assert excluded_mask(frame, [Exclusion("do_not_contact", False, "")]).tolist() == [False, True, False, False]
    assert excluded_mask(frame, [Exclusion("flag", True, "")]).tolist() == [True, False, False, True]
