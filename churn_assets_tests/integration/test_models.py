"""Several models from one catalogue: shared snapshots, one group each, a new model by YAML only,
and a model trained on your own CSV files."""

import shutil

import numpy as np
import pandas as pd
import yaml

from churn_assets.catalog import DEFAULT_CATALOG, load_catalog
from churn_assets_tests.support.pipeline import END_MONTH, churn_home, query, run_pipeline, seed


def test_three_models_share_one_snapshot_and_all_publish(tmp_path):
    # The rarer labels (downgrade ~1.3%, upgrade ~2%) need a larger business than `churn`.
    seed(tmp_path, customers=15_000, months=4, end_month=END_MONTH)
    report = run_pipeline(tmp_path, models=None)
    last = report.months[-1]
    assert last.success, [(m.model, m.status) for m in last.models]
    assert {m.model for m in last.models if m.published} == {"churn", "downgrade", "upsell"}
    lists = query(
        tmp_path, "SELECT model, count(*) AS n FROM churn.published_predictions WHERE month = ? GROUP BY 1", [END_MONTH]
    )
    assert set(lists["model"]) == {"churn", "downgrade", "upsell"}
    # One snapshot per month for all three models: the source was read once.
    per_month = query(
        tmp_path,
        "SELECT snapshot_month, count(*) AS n, count(DISTINCT customer_id) AS d FROM churn.snapshot_customers GROUP "
        "BY 1",
    )
    assert (per_month["n"] == per_month["d"]).all() and len(per_month) == 4
    versions = query(tmp_path, "SELECT model, count(*) AS n FROM churn.model_versions GROUP BY 1")
    assert set(versions["model"]) == {"churn", "downgrade", "upsell"}


def test_a_fourth_model_is_a_yaml_entry(seeded_home, tmp_path, monkeypatch):
    shutil.copy(seeded_home / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    data = yaml.safe_load(DEFAULT_CATALOG.read_text())
    data["models"]["churn_lite"] = {
        **data["models"]["churn"],
        "description": "A leaner churn model on eight features.",
        "features": [
            "contract_type",
            "tenure_months",
            "monthly_charges",
            "num_support_tickets_3m",
            "late_payments_6m",
            "days_to_contract_end",
            "usage_change_3m",
            "satisfaction_score",
        ],
        "categorical_features": ["contract_type"],
        "params": {"n_estimators": 80, "max_depth": 3, "learning_rate": 0.1},
    }
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    monkeypatch.setenv("CHURN_MODELS", str(path))
    catalog = load_catalog()
    assert "churn_lite" in catalog.models

    from dagster import AssetKey

    from churn_assets.definitions import build_definitions

    with churn_home(tmp_path):
        graph = build_definitions().resolve_asset_graph()
    assert graph.get(AssetKey(["churn_lite", "published_predictions"])).group_name == "churn_lite"

    report = run_pipeline(tmp_path, models=["churn_lite"], catalog=catalog)
    assert report.all_succeeded
    lists = query(
        tmp_path, "SELECT month, count(*) AS n FROM churn.published_predictions WHERE model = 'churn_lite' GROUP BY 1"
    )
    assert len(lists) >= 5


def telco_csv(folder, customers=4000, months=("2025-01", "2025-02", "2025-03", "2025-04"), seed=3):
    """A real-world-shaped export: string ids, Yes/No columns, blank numeric cells, Churn as Yes/No
    (blank where the outcome is not known yet), one CSV per month."""
    rng = np.random.default_rng(seed)
    ids = np.array(
        [
            f"{rng.integers(1000, 9999)}-{''.join(rng.choice(list('ABCDEFGHIJKLMNOPQRSTUVWXYZ'), 5))}"
            for _ in range(customers)
        ]
    )
    ids = np.unique(ids)
    n = len(ids)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n, p=[0.55, 0.25, 0.2])
    payment = rng.choice(
        ["Electronic check", "Mailed check", "Bank transfer (automatic)", "Credit card (automatic)"], n
    )
    tenure = rng.integers(0, 72, n)
    charges = np.round(rng.uniform(18, 118, n), 2)
    for index, month in enumerate(months):
        risk = (
            -2.2
            + 1.4 * (contract == "Month-to-month")
            - 0.03 * (tenure + index)
            + 0.01 * charges
            + rng.normal(0, 0.6, n)
        )
        churn = rng.random(n) < 1 / (1 + np.exp(-risk))
        total = np.round(charges * (tenure + index), 2).astype(str)
        total[tenure + index == 0] = " "  # the famous blank TotalCharges of new customers
        frame = pd.DataFrame(
            {
                "customerID": ids,
                "Month": month,
                "gender": rng.choice(["Female", "Male"], n),
                "SeniorCitizen": rng.integers(0, 2, n),
                "Partner": rng.choice(["Yes", "No"], n),
                "tenure": tenure + index,
                "Contract": contract,
                "PaymentMethod": payment
                if index < len(months) - 1
                else np.where(rng.random(n) < 0.05, "Crypto wallet", payment),
                "MonthlyCharges": charges,
                "TotalCharges": total,
                "Churn": np.where(churn, "Yes", "No") if index < len(months) - 1 else "",
            }
        )
        frame.to_csv(folder / f"telco_{month}.csv", index=False)


def test_a_model_on_your_own_csv_files(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    telco_csv(data_dir)
    catalogue = {
        "partitions_start": "2025-01-01",
        "sources": {
            "telco": {
                "files": "data/telco_*.csv",
                "rename": {"customerID": "customer_id", "Month": "snapshot_month"},
                "label_columns": ["Churn"],
                "required_columns": ["customer_id", "snapshot_month"],
                "value_ranges": {"tenure": [0, 600], "MonthlyCharges": [0, 1000]},
            }
        },
        "models": {
            "telco_churn": {
                "source": "telco",
                "label": "Churn",
                "label_values": {"Yes": 1, "No": 0},
                "horizon_months": 1,
                "training_window_months": 3,
                "features": [
                    "gender",
                    "SeniorCitizen",
                    "Partner",
                    "tenure",
                    "Contract",
                    "PaymentMethod",
                    "MonthlyCharges",
                    "TotalCharges",
                ],
                "categorical_features": ["gender", "Partner", "Contract", "PaymentMethod"],
                "params": {"n_estimators": 60, "max_depth": 3, "learning_rate": 0.1},
                "seed": 1,
                "list_top_fraction": 0.1,
                "gates": {
                    "min_top_k_overlap": 0.1,
                    "min_auc": 0.6,
                    "predicted_rate": [0.01, 0.6],
                    "max_psi": 0.5,
                    "list_capacity": 1000,
                },
            }
        },
    }
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(catalogue, sort_keys=False))
    monkeypatch.setenv("CHURN_MODELS", str(path))
    catalog = load_catalog()

    report = run_pipeline(tmp_path, models=["telco_churn"], catalog=catalog)
    assert report.all_succeeded, [(m.month, [(r.status, r.error) for r in m.models]) for m in report.months]
    lists = query(
        tmp_path,
        "SELECT month, count(*) AS n, min(customer_id) AS first_id FROM churn.published_predictions GROUP BY 1 ORDER "
        "BY 1",
    )
    assert [str(pd.Timestamp(m).date()) for m in lists["month"]] == ["2025-02-01", "2025-03-01", "2025-04-01"]
    assert "-" in lists["first_id"].iloc[0]  # string ids kept as they are
    # Blank TotalCharges became NULL, not text; the last month's unseen payment method scored fine.
    typed = query(
        tmp_path,
        "SELECT count(*) FILTER (WHERE TotalCharges IS NULL) AS blanks, typeof(any_value(TotalCharges)) AS t FROM "
        "churn.source_telco",
    )
    assert typed["blanks"].iloc[0] > 0 and typed["t"].iloc[0] == "DOUBLE"
    scored = query(
        tmp_path,
        "SELECT count(*) AS n FROM churn.predictions p JOIN churn.snapshot_telco s "
        "ON s.customer_id = p.customer_id AND s.snapshot_month = p.month WHERE s.PaymentMethod = 'Crypto wallet'",
    )
    assert scored["n"].iloc[0] > 0
    training = query(tmp_path, "SELECT DISTINCT label FROM churn.training_set_telco_churn ORDER BY 1")
    assert training["label"].tolist() == [0, 1]
