"""The pipeline's Validation stage: the business-rule gates on two months of prediction files.

Inputs are Parquet or CSV files with one row per scored customer (`customer_id`, `score`, and
optionally `rank`, `model_version`), or warehouse references `warehouse:<model>/<YYYY-MM>`
that read the `predictions` table of the current environment. `churn-assets validate` and
`pytest churn_assets_tests/validation` both call `validate_months`, which calls the same rule
functions as the asset checks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from churn_assets.catalog import ModelSpec
from churn_assets.rules import gates as rules
from churn_assets.rules.lists import rank_scores
from churn_assets.rules.months import parse_month

MODEL_VERSION = "model_version"
WAREHOUSE_PREFIX = "warehouse:"


class PredictionInputError(ValueError):
    """A prediction file or reference cannot be read as predictions; the message says why."""


def load_predictions(reference: str, warehouse=None) -> rules.MonthPredictions:
    """Read a prediction file (Parquet/CSV) or a `warehouse:<model>/<YYYY-MM>` reference."""
    if reference.startswith(WAREHOUSE_PREFIX):
        return _from_warehouse(reference, warehouse)
    path = Path(reference)
    if not path.is_file():
        raise PredictionInputError(f"{reference}: no such file")
    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            frame = pd.read_parquet(path)
        elif path.suffix.lower() == ".csv":
            frame = pd.read_csv(path)
        else:
            raise PredictionInputError(f"{reference}: expected a .parquet or .csv file")
    except PredictionInputError:
        raise
    except Exception as exc:  # noqa: BLE001 - the reader's own message says what is wrong
        raise PredictionInputError(f"{reference}: cannot be read ({str(exc).splitlines()[0]})") from None
    return _from_frame(frame, reference)


def _from_frame(frame: pd.DataFrame, where: str) -> rules.MonthPredictions:
    missing = [c for c in ("customer_id", "score") if c not in frame.columns]
    if missing:
        raise PredictionInputError(f"{where}: missing column(s) {missing}; found {list(frame.columns)}")
    scores = pd.to_numeric(frame["score"], errors="coerce").to_numpy(dtype=float)
    ids = frame["customer_id"].to_numpy()
    ranks = frame["rank"].to_numpy() if "rank" in frame.columns else rank_scores(np.nan_to_num(scores, nan=-1.0), ids)
    versions = frame[MODEL_VERSION].dropna().unique() if MODEL_VERSION in frame.columns else []
    month = None
    if "month" in frame.columns and frame["month"].nunique() == 1:
        month = pd.Timestamp(frame["month"].iloc[0]).date()
    return rules.MonthPredictions(
        ids=ids,
        scores=scores,
        ranks=ranks,
        month=month,
        model_version=int(versions[0]) if len(versions) == 1 else (None if not len(versions) else -1),
    )


def _from_warehouse(reference: str, warehouse) -> rules.MonthPredictions:
    body = reference.removeprefix(WAREHOUSE_PREFIX)
    model, _, month_text = body.partition("/")
    if not model.isidentifier() or not month_text:
        raise PredictionInputError(f"{reference}: expected warehouse:<model>/<YYYY-MM>")
    try:
        month = parse_month(month_text)
    except ValueError as exc:
        raise PredictionInputError(f"{reference}: {exc}") from None
    if warehouse is None:
        raise PredictionInputError(f"{reference}: no warehouse configured")
    from churn_assets.warehouse.lists import month_predictions

    predictions = month_predictions(warehouse, model, month)
    if not len(predictions.ids):
        raise PredictionInputError(f"{reference}: no predictions stored for model {model!r} and month {month}")
    return predictions


def check_month_pair(
    previous_reference: str, current_reference: str, previous: rules.MonthPredictions, current: rules.MonthPredictions
) -> list[str]:
    """Warnings about the two inputs' months; raises PredictionInputError when they are one month
    (the overlap would be 1 and the PSI 0: every gate passes without judging anything)."""
    from churn_assets.rules.months import add_months

    same_file = Path(previous_reference).resolve() == Path(current_reference).resolve()
    if previous_reference == current_reference or (not previous_reference.startswith(WAREHOUSE_PREFIX) and same_file):
        raise PredictionInputError(f"--prev-month-preds and --curr-month-preds are the same input: {current_reference}")
    if previous.month is not None and previous.month == current.month:
        raise PredictionInputError(
            f"--prev-month-preds and --curr-month-preds both hold month {current.month}; give the month before"
        )
    if (
        len(previous.ids) == len(current.ids)
        and np.array_equal(previous.ids, current.ids)
        and np.array_equal(previous.scores, current.scores, equal_nan=True)
    ):
        raise PredictionInputError("--prev-month-preds and --curr-month-preds hold identical predictions")
    if previous.month is None or current.month is None:
        return [
            "warning: the month of an input is unknown (no single `month` column); the gates assume "
            "--prev-month-preds is the month before --curr-month-preds"
        ]
    if previous.month != add_months(current.month, -1):
        return [
            f"warning: --prev-month-preds is {previous.month}, not the month before {current.month}; "
            "the overlap and PSI gates compare months further apart than the monthly rules intend"
        ]
    return []


def model_version_gate(expected: int | None, current: rules.MonthPredictions) -> rules.GateResult:
    """The predictions were made by the model version the release validates."""
    if expected is None:
        return rules.GateResult("model_version", True, current.model_version, None, "no model version to check against")
    found = current.model_version
    passed = found == expected
    summary = (
        f"predictions made by version {found}"
        if found not in (None, -1)
        else ("no model_version column" if found is None else "several model versions in one month")
    )
    return rules.GateResult("model_version", passed, found, expected, f"{summary} (expected {expected})")


def validate_months(
    spec: ModelSpec,
    model_version: int | None,
    previous: rules.MonthPredictions | None,
    current: rules.MonthPredictions,
) -> list[rules.GateResult]:
    """Every gate the Validation stage applies: the model version, then the business rules."""
    return [model_version_gate(model_version, current)] + rules.business_gates(
        spec.gates, spec.list_top_fraction, current, previous
    )


def format_verdict(spec: ModelSpec, results: list[rules.GateResult]) -> str:
    """A table a person reads in the pipeline log: one line per gate, then the verdict."""
    lines = [f"Validation of model '{spec.name}'", f"{'gate':<16} {'verdict':<7} {'value':>10}  details"]
    for r in results:
        value = f"{r.value:.4f}" if isinstance(r.value, float) else ("-" if r.value is None else str(r.value))
        lines.append(f"{r.name:<16} {'pass' if r.passed else 'FAIL':<7} {value:>10}  {r.summary}")
    failed = [r.name for r in results if not r.passed]
    lines.append("VERDICT: " + ("PASSED, every gate met" if not failed else f"FAILED: {', '.join(failed)}"))
    return "\n".join(lines)
