"""How long seeding the simulated business takes, its peak memory, and (--quality) how learnable it is.

    python bench/seed_speed.py --customers 1000000 --months 3
    python bench/seed_speed.py --quality            # also trains XGBoost on 50k x 24

Quality protocol (mirrors churn_assets/models.yaml): for each label, the holdout is the
latest labelled month and the model trains on the 11 labelled months before it (12-month
window).  For churn the "gap" variant also reports training only on months whose label
window closed before the holdout month starts (what could really be known at that time).
Overlap: the churn model scores consecutive months; top 10% of scorable customers (active,
not do_not_contact); overlap = |top(M) & top(M-1)| / |top(M-1) still scorable in M|.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import resource
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _load_seed_module():
    """Import churn_assets.simulate.seed without running churn_assets/__init__.py.

    The package's __init__ loads the Dagster code location; the benchmark measures seeding
    only, so it registers a bare package object and imports the simulator beneath it.
    """
    if "churn_assets" not in sys.modules:
        package = types.ModuleType("churn_assets")
        package.__path__ = [str(ROOT / "churn_assets")]
        sys.modules["churn_assets"] = package
    return importlib.import_module("churn_assets.simulate.seed")


_seed_module = _load_seed_module()
VIEW, seed_duckdb = _seed_module.VIEW, _seed_module.seed_duckdb

FEATURES = [
    "plan",
    "contract_type",
    "region",
    "payment_method",
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "data_usage_gb",
    "usage_change_3m",
    "call_minutes",
    "num_support_tickets_3m",
    "late_payments_6m",
    "days_to_contract_end",
    "num_products",
    "has_streaming",
    "has_device_protection",
    "discount_pct",
    "nps_score",
    "avg_session_minutes",
    "logins_last_month",
    "satisfaction_score",
]
CATEGORICAL = ["plan", "contract_type", "region", "payment_method"]
LABELS = ["churned_within_3m", "downgraded_next_month", "upgraded_next_month"]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def seed(database: Path, customers: int, months: int, seed_value: int, end_month: dt.date) -> dict:
    started = time.perf_counter()
    summary = seed_duckdb(
        database,
        customers,
        months,
        seed_value,
        end_month,
        progress=lambda m: print(f"  [{time.perf_counter() - started:6.1f}s] {m}"),
    )
    total = time.perf_counter() - started
    print(
        f"seed {customers:,} x {months}: simulate {summary['seconds']['simulate']:.1f}s, "
        f"write {summary['seconds']['write']:.1f}s, total {total:.1f}s, peak RSS {peak_rss_mb():,.0f} MB"
    )
    return summary


def _matrix(frame, categories):
    import pandas as pd

    x = frame[FEATURES].copy()
    for c in CATEGORICAL:
        x[c] = pd.Categorical(x[c], categories=categories[c])
    for c in FEATURES:
        if c not in CATEGORICAL:
            x[c] = x[c].astype("float32")
    return x


def _fit(train, label, categories):
    import xgboost as xgb

    model = xgb.XGBClassifier(
        n_estimators=200,
        max_depth=5,
        learning_rate=0.05,
        tree_method="hist",
        enable_categorical=True,
        n_jobs=2,
        random_state=0,
    )
    model.fit(_matrix(train, categories), train[label].astype(int))
    return model


def quality(database: Path) -> None:
    import duckdb
    import numpy as np
    from sklearn.metrics import roc_auc_score

    conn = duckdb.connect(str(database), read_only=True)
    frame = conn.execute(f"SELECT * FROM {VIEW}").df()
    conn.close()
    categories = {c: sorted(frame[c].dropna().unique()) for c in CATEGORICAL}
    months = sorted(frame["snapshot_month"].unique())
    print(f"\nquality on {len(frame):,} rows, {len(months)} months")

    churn_model = None
    for label in LABELS:
        labelled = frame[frame[label].notna()]
        lmonths = sorted(labelled["snapshot_month"].unique())
        holdout = lmonths[-1]
        variants = [("window", lmonths[-12:-1])]
        if label == "churned_within_3m":
            # Months m whose window m+1..m+3 ends before the holdout month: truly known then.
            variants.append(("gap", lmonths[-15:-4]))
        test = labelled[labelled["snapshot_month"] == holdout]
        for name, train_months in variants:
            train = labelled[labelled["snapshot_month"].isin(train_months)]
            started = time.perf_counter()
            model = _fit(train, label, categories)
            scores = model.predict_proba(_matrix(test, categories))[:, 1]
            auc = roc_auc_score(test[label].astype(int), scores)
            print(
                f"  {label:23s} [{name:6s}] train {len(train_months)} months ({len(train):,} rows, "
                f"pos {train[label].mean():.2%}), holdout {str(holdout)[:7]} pos {test[label].mean():.2%}: "
                f"AUC {auc:.3f} ({time.perf_counter() - started:.1f}s)"
            )
            if label == "churned_within_3m" and name == "window":
                churn_model = model

    # Top-decile stability of the churn model across consecutive months (incl. unlabelled ones).
    scorable = frame[(frame["account_status"] == "active") & (~frame["do_not_contact"].astype(bool))]
    tops = {}
    for month in months[-6:]:
        current = scorable[scorable["snapshot_month"] == month]
        scores = churn_model.predict_proba(_matrix(current, categories))[:, 1]
        k = int(np.ceil(0.10 * len(current)))
        order = np.lexsort((current["customer_id"].to_numpy(), -scores))
        tops[month] = (set(current["customer_id"].to_numpy()[order[:k]]), set(current["customer_id"]))
    overlaps = []
    for prev, cur in zip(months[-6:-1], months[-5:]):
        prev_top, _ = tops[prev]
        cur_top, cur_pop = tops[cur]
        still = prev_top & cur_pop
        overlaps.append(len(cur_top & still) / len(still))
        print(
            f"  top-decile overlap {str(prev)[:7]} -> {str(cur)[:7]}: {overlaps[-1]:.3f} "
            f"({len(still):,} of {len(prev_top):,} still scorable)"
        )
    print(f"  mean overlap {np.mean(overlaps):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end-month", type=dt.date.fromisoformat, default=dt.date(2025, 10, 1))
    parser.add_argument("--database", type=Path, help="DuckDB file to (re)create; default: a temp file")
    parser.add_argument("--quality", action="store_true", help="also train XGBoost on 50k x 24 and report AUC/overlap")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        database = args.database or Path(tmp) / "bench.duckdb"
        seed(database, args.customers, args.months, args.seed, args.end_month)
        if args.quality:
            if (args.customers, args.months) != (50_000, 24):
                database = Path(tmp) / "quality.duckdb"
                seed(database, 50_000, 24, args.seed, args.end_month)
            quality(database)


if __name__ == "__main__":
    main()
