"""Rows of the project's tables made up whole, for tests that write them to a warehouse directly
(also from a process of their own)."""

import numpy as np
import pandas as pd


def month_frame(version: int, rows: int) -> pd.DataFrame:
    ids = np.arange(rows)
    return pd.DataFrame(
        {
            "model": "churn",
            "month": pd.Timestamp("2025-06-01").date(),
            "customer_id": ids,
            "score": np.full(rows, version / 10),
            "rank": ids + 1,
            "model_version": version,
        }
    )
