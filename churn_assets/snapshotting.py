"""A source's month: read once, judged by its data contract, stored as an immutable snapshot
(plain functions; the snapshot asset calls them)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import pandas as pd

from churn_assets.checks.contract import ContractResult, ContractSpec, validate_snapshot
from churn_assets.modeling import frame_hash
from churn_assets.rules.gates import GateResult
from churn_assets.rules.lists import exclusion_problems
from churn_assets.rules.row_count import month_to_run_first, row_count_band
from churn_assets.warehouse.contracts import recorded_row_counts
from churn_assets.warehouse.snapshots import SNAPSHOT_MANIFEST, manifest, snapshot_table, timing_problems

CONTRACT_CHECK = "data_contract"


class SnapshotRefused(ValueError):
    """The month cannot be judged: its snapshot would change a past one, or the month before it
    has no record. The message says what to do."""


@dataclass
class JudgedSnapshot:
    """One month of a source as read, and its contract's verdict."""

    frame: pd.DataFrame
    content_hash: str
    contract: ContractResult
    band: tuple[int, int] | None
    band_note: str | None
    taken_before: bool
    """A snapshot of this month was stored by an earlier run."""
    unchanged: bool = field(default=False)
    """...and holds exactly this content."""


def content_hash(frame: pd.DataFrame) -> str:
    return frame_hash(frame, ["customer_id"]) if "customer_id" in frame.columns and len(frame) else "empty"


def judge_month(
    warehouse, catalog, source, contract: ContractSpec, month: dt.date, *, force: bool = False
) -> JudgedSnapshot:
    """Read the source's month (labels excluded) and judge it: immutability, the month before,
    the row-count band, the contract suite, timing and exclusion values."""
    relation = warehouse.relation_for(source)
    frame = warehouse.read_source_month(relation, month, exclude_columns=catalog.label_columns(source.name))
    stored = manifest(warehouse, source.name)
    before = stored[stored["month"] == month]
    digest = content_hash(frame)
    if len(before) and before.iloc[0]["content_hash"] != digest and not force:
        raise SnapshotRefused(
            f"The snapshot of '{source.name}' for {month} was taken before "
            f"({int(before.iloc[0]['row_count'])} rows, hash {before.iloc[0]['content_hash'][:12]}) and the "
            f"source now gives different content ({len(frame)} rows, hash {digest[:12]}). "
            "Snapshots are immutable; to replace it on purpose, re-run with run config "
            f"ops: {{{source.name}__snapshot: {{config: {{force: true}}}}}} (or `churn-assets run --force-snapshot`)."
        )
    counts, refused = recorded_row_counts(warehouse, source.name)
    first = month_to_run_first(month, set(counts) | set(refused))
    if first is not None:
        raise SnapshotRefused(
            f"{month} of source '{source.name}' cannot run before {first}: {first} has neither a stored snapshot "
            f"nor a refused contract on record (never run, or its run failed with an error); run {first} first"
        )
    band, note = row_count_band(month, len(frame), counts, refused, source.max_row_count_change)
    result = validate_snapshot(frame, contract, band)
    if note:
        result.notes.append(note)
    for expectation, column, what in timing_problems(warehouse, catalog, source, relation, month):
        result.add_failure(expectation, column, what)
    exclusions = [rule for model in catalog.models_of_source(source.name) for rule in model.exclusions]
    for column, problem in exclusion_problems(frame, exclusions):
        result.add_failure("exclusion_value_matches_column_type", column, problem)
    unchanged = bool(len(before)) and before.iloc[0]["content_hash"] == digest
    return JudgedSnapshot(frame, digest, result, band, note, taken_before=bool(len(before)), unchanged=unchanged)


def contract_gate(judged: JudgedSnapshot) -> GateResult:
    """The contract's verdict as a gate: how many expectations failed (none allowed), and which."""
    contract = judged.contract
    return GateResult(
        CONTRACT_CHECK,
        contract.passed,
        len(contract.failures),
        0,
        contract.summary(),
        {
            "rows": contract.row_count,
            "missing_columns": contract.missing_columns,
            "failed_expectations": contract.failures,
            "expectations_evaluated": contract.evaluated,
            "row_count_band": list(judged.band) if judged.band else judged.band_note,
            **({"row_count_reference": judged.band_note} if judged.band and judged.band_note else {}),
        },
    )


def store_snapshot(warehouse, source_name: str, month: dt.date, judged: JudgedSnapshot) -> None:
    """Store the month's rows and its manifest entry (what was taken, when, its hash)."""
    warehouse.replace_rows(snapshot_table(source_name), {"snapshot_month": month}, judged.frame)
    entry = {
        "source": source_name,
        "month": month,
        "content_hash": judged.content_hash,
        "row_count": len(judged.frame),
        "columns": json.dumps(list(judged.frame.columns)),
        "taken_at": pd.Timestamp.now(tz="UTC"),
    }
    warehouse.replace_rows(SNAPSHOT_MANIFEST, {"source": source_name, "month": month}, pd.DataFrame([entry]))
