"""A third-party-shaped monthly panel of your own data (gzip CSV, a business that grows five-fold, a
constant column, text ids, Yes/No labels written unquoted) and the catalogue that reads it."""

import gzip
from pathlib import Path

import numpy as np
import pandas as pd

MONTHS = ["2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01", "2025-05-01"]

# Written as a person writes it: unquoted Yes/No (YAML 1.1 booleans), an anchor and a merge key.
PANEL_CATALOGUE = """\
partitions_start: 2025-01-01

x-gates: &gates
  min_top_k_overlap: 0.05
  min_auc: 0.6
  predicted_rate: [0.01, 0.5]
  max_psi: 1.0

sources:
  panel:
    files: data/panel.csv.gz
    rename: {{account: customer_id, month: snapshot_month}}
    label_columns: [churned]
    max_row_count_change: {max_change}
    may_be_constant: [account_type_code]
    value_ranges: {{monthly_fee: [0, 500]}}

models:
  panel_churn:
    source: panel
    label: churned
    label_values: {{Yes: 1, No: 0}}
    horizon_months: 1
    training_window_months: 3
    refit_on_all_months: true
    features: [plan, monthly_fee, logins, tenure, account_type_code]
    categorical_features: [plan]
    params: {{n_estimators: 40, max_depth: 3, learning_rate: 0.2}}
    seed: 5
    exclusions:
      - {{column: do_not_contact, equals: true, reason: do not contact}}
    list_top_fraction: 0.1
    gates:
      <<: *gates
      list_capacity: 1000
"""


def growth_panel(folder: Path, junk: bool = False, seed: int = 11) -> Path:
    """One gzip CSV of five monthly snapshots: ~300 accounts growing to ~1,700, churners leaving,
    text ids, a constant numeric column, Yes/No labels (blank in the last month: not known yet).
    With `junk`, 40 fees of the last month arrive as "29.85 EUR"."""
    rng = np.random.default_rng(seed)
    sizes = np.linspace(300, 1700, len(MONTHS)).astype(int)
    active: dict[str, dict] = {}
    next_id, frames = 0, []
    for index, month in enumerate(MONTHS):
        while len(active) < sizes[index]:
            active[f"ACC-{next_id:05d}"] = {
                "plan": rng.choice(["basic", "plus", "pro"]),
                "monthly_fee": float(rng.choice([19.0, 29.85, 49.5])),
                "engagement": rng.normal(),
                "tenure": int(rng.integers(0, 36)) if index == 0 else 0,
            }
            next_id += 1
        ids = sorted(active)
        engagement = np.array([active[i]["engagement"] for i in ids])
        logins = np.maximum(0, np.round(8 + 4 * engagement + rng.normal(0, 1, len(ids))))
        risk = -2.4 - 1.3 * engagement + rng.normal(0, 0.3, len(ids))
        churned = rng.random(len(ids)) < 1 / (1 + np.exp(-risk))
        frame = pd.DataFrame(
            {
                "account": ids,
                "month": month,
                "plan": [active[i]["plan"] for i in ids],
                "monthly_fee": [f"{active[i]['monthly_fee']:.2f}" for i in ids],
                "logins": logins.astype(int),
                "tenure": [active[i]["tenure"] for i in ids],
                "account_type_code": 1,
                "do_not_contact": rng.random(len(ids)) < 0.03,
                "churned": np.where(churned, "Yes", "No") if index < len(MONTHS) - 1 else "",
            }
        )
        if junk and index == len(MONTHS) - 1:
            frame.loc[frame.index[:40], "monthly_fee"] = "29.85 EUR"
        frames.append(frame)
        for account, gone in zip(ids, churned, strict=True):
            active[account]["tenure"] += 1
            if gone and index < len(MONTHS) - 1:
                del active[account]
    (folder / "data").mkdir(parents=True, exist_ok=True)
    path = folder / "data" / "panel.csv.gz"
    with gzip.open(path, "wt") as handle:
        pd.concat(frames).to_csv(handle, index=False)
    return path


def panel_catalogue(folder: Path, max_change: str = "3") -> Path:
    path = folder / "models.yaml"
    path.write_text(PANEL_CATALOGUE.format(max_change=max_change))
    return path
