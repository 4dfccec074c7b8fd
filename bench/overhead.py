"""Orchestration overhead: one month, one model, as a bare script and as a Dagster materialisation.

    python bench/overhead.py                       # 1M customers (the target), ~5 min
    python bench/overhead.py --quick               # 100k customers
    python bench/overhead.py --customers 300000 --profile /tmp/prof   # + pyinstrument profiles

Both paths start from byte-identical copies of one prepared warehouse (months M-2 and M-1
already materialised through Dagster, untimed; the Dagster path also gets a copy of the instance
that recorded them, as a monthly run finds it) and do month M = 2025-08 of the benchmark
catalogue (bench/_common.py: the shipped churn model on all 25 source features, horizon 1,
window 1, so training at M reads the labels of M-1):

(a) bare: read month M from the source; run the same data contract (Great Expectations suite);
    read M-1's labelled rows; the same holdout split, feature encoding and XGBoost fit (same
    params and seed) via churn_assets.modeling; holdout AUC and the champion comparison; score
    every eligible customer; the same business gates (churn_assets.rules.gates.business_gates)
    against M-1's stored predictions and list; write the published rows in one transaction.
(b) dagster: `monthly_run.run_months` for M, as `churn-assets run --from M --to M` does: snapshot,
    training_set, model, predictions, published_predictions and every asset check.

Each path runs in its own child process, which imports everything first (untimed), so import
time is in neither figure and each peak RSS (VmHWM) is the path's own. Target: wall(b) / wall(a) <= 1.2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

TARGET_RATIO = 1.2  # end to end at 1M; at 100k Dagster's fixed cost per month bounds it (bench/README.md)
BODIES_TARGET_1M, BODIES_TARGET_SMALL = 1.05, 1.3  # inside the asset bodies vs bare (issue 23)
REASONS_VALUE_SHARE = 0.05  # reasons and value at most 5 % of the month (issue 24)
MONTH = c.BENCH_MONTH


add_months = c.add_months


# -- (a) the bare script ---------------------------------------------------------------------------------
def bare(home: Path, catalog_path: Path, model: str, month: dt.date) -> dict:
    """The month's work without Dagster, with the project's plain functions; per-phase time and peak."""
    import duckdb
    import numpy as np
    import pandas as pd
    from sklearn.model_selection import train_test_split

    from churn_assets import modeling
    from churn_assets.assets.snapshot import contract_for
    from churn_assets.catalog import load_catalog
    from churn_assets.checks.contract import validate_snapshot
    from churn_assets.reasons import top_reasons
    from churn_assets.rules.gates import MonthPredictions, business_gates
    from churn_assets.rules.lists import excluded_mask, list_size, rank_scores
    from churn_assets.rules.row_count import row_count_band
    from churn_assets.warehouse.base import concat_chunks, take_rows, text_as_categories
    from churn_assets.warehouse.duckdb import stream_frames

    phases: dict = {}
    catalog = load_catalog(catalog_path)
    spec = catalog.models[model]
    source = spec.source
    previous_month = add_months(month, -1)
    conn = duckdb.connect(str(home / "warehouse.duckdb"))
    try:
        with c.measured("read month", phases):
            labels = catalog.label_columns(source.name)
            # Text as categoricals, streamed in chunks: what any script at this size must do to fit in memory.
            frame = concat_chunks(
                [
                    text_as_categories(chunk)
                    for chunk in stream_frames(
                        conn, f"SELECT * FROM {source.relation} WHERE snapshot_month = ?", [month]
                    )
                ]
            )
            frame = frame.drop(columns=[col for col in frame.columns if col in labels])

        with c.measured("data contract", phases):
            (previous_rows,) = conn.execute(
                "SELECT row_count FROM churn.snapshot_manifest WHERE source = ? AND month = ?",
                [source.name, previous_month],
            ).fetchone()
            band, _ = row_count_band(
                month, len(frame), {previous_month: previous_rows}, {}, source.max_row_count_change
            )
            contract = validate_snapshot(frame, contract_for(catalog, source), band)
            if not contract.passed:
                raise RuntimeError(f"data contract failed: {contract.summary()}")

        with c.measured("read training rows", phases):
            features = ", ".join(spec.features)
            train_frame = concat_chunks(
                [
                    text_as_categories(chunk)
                    for chunk in stream_frames(
                        conn,
                        f"SELECT customer_id, snapshot_month, {spec.label} AS label, {features} FROM {source.relation} "
                        f"WHERE snapshot_month = ? AND {spec.label} IS NOT NULL",
                        [previous_month],
                    )
                ]
            )
            # The pipeline's row order (snapshots.training_frame): the split and subsampling depend on it.
            train_frame = take_rows(train_frame, modeling.row_order(train_frame, ["snapshot_month", "customer_id"]))

        with c.measured("train + evaluate", phases):
            y = train_frame["label"].to_numpy().astype("int8")
            # One labelled month: the pipeline's seeded stratified 20% holdout (assets/model.py split_holdout).
            _, holdout_index = train_test_split(
                train_frame.index, test_size=0.2, random_state=spec.seed, stratify=train_frame["label"]
            )
            holdout = train_frame.index.isin(holdout_index)
            schema = modeling.feature_schema(train_frame, spec.features, spec.categorical_features, rows=~holdout)
            trained = modeling.train(
                modeling.feature_matrix(train_frame, schema, rows=~holdout), y[~holdout], spec.params, spec.seed
            )
            metrics = modeling.evaluate(y[holdout], modeling.score(trained.artifact, train_frame, schema, rows=holdout))
            gates = spec.gates
            quality_ok = metrics["auc"] >= gates.min_auc and metrics["pr_auc"] >= gates.min_pr_auc
            # The champion before M (the version trained at M-1), scored on the same holdout.
            row = conn.execute(
                "SELECT v.version, v.artifact, v.feature_schema FROM churn.model_promotions p JOIN "
                "churn.model_versions v "
                "ON v.model = p.model AND v.version = p.version WHERE p.model = ? AND p.effective_month <= ? "
                "ORDER BY p.effective_month DESC LIMIT 1",
                [model, previous_month],
            ).fetchone()
            incumbent_version, incumbent_artifact, incumbent_schema = row[0], bytes(row[1]), json.loads(row[2])
            incumbent_auc = modeling.evaluate(
                y[holdout], modeling.score(incumbent_artifact, train_frame, incumbent_schema, rows=holdout)
            )["auc"]
            not_worse = metrics["auc"] >= incumbent_auc - gates.max_auc_drop_vs_champion
            del train_frame
            if quality_ok and not_worse:
                artifact, scoring_schema, version = trained.artifact, schema, incumbent_version + 1
            else:
                artifact, scoring_schema, version = incumbent_artifact, incumbent_schema, incumbent_version

        with c.measured("score", phases):
            excluded = excluded_mask(frame, spec.exclusions).to_numpy()
            scores = modeling.score(artifact, frame, scoring_schema, rows=~excluded).astype("float64")
            ids = frame["customer_id"].to_numpy()[~excluded]

        with c.measured("value", phases):
            # Each customer's value and expected loss (churn_assets.scoring does the same).
            value = frame[spec.value_column].to_numpy(dtype="float64")[~excluded] if spec.value_column else None
            expected_loss = scores * value if value is not None else None
            ranked_by = expected_loss if spec.rank_by == "expected_loss" else scores

        with c.measured("rank", phases):
            ranks = rank_scores(ranked_by, ids)

        with c.measured("business gates", phases):
            previous = conn.execute(
                "SELECT customer_id, score, rank, model_version FROM churn.predictions WHERE model = ? AND month = ?",
                [model, previous_month],
            ).df()
            previous_listed = (
                conn.execute(
                    "SELECT customer_id FROM churn.published_predictions WHERE model = ? AND month = ?",
                    [model, previous_month],
                )
                .df()["customer_id"]
                .to_numpy()
            )
            results = business_gates(
                spec.gates,
                spec.list_top_fraction,
                MonthPredictions(
                    ids=ids, scores=scores.astype("float64"), ranks=ranks, month=month, model_version=version
                ),
                MonthPredictions(
                    ids=previous["customer_id"].to_numpy(),
                    scores=previous["score"].to_numpy(dtype=float),
                    ranks=previous["rank"].to_numpy(),
                    month=previous_month,
                    model_version=int(previous["model_version"].iloc[0]),
                    published_ids=previous_listed,
                ),
                eligible_ids=ids,
                excluded_ids=frame["customer_id"].to_numpy()[excluded],
            )
            failed = [g.name for g in results if not g.passed]

        published, top = 0, np.array([], dtype=np.int64)
        if not failed:
            with c.measured("reasons", phases):
                # The listed customers' top reasons from the version that scored them (TreeSHAP),
                # for the listed rows only, as churn_assets.publishing does.
                k = list_size(len(ids), spec.list_top_fraction)
                top = np.argsort(ranks, kind="stable")[:k]
                listed_rows = frame.iloc[np.flatnonzero(~excluded)[top]]
                reasons = top_reasons(artifact, scoring_schema, listed_rows).reset_index(drop=True)

        with c.measured("publish", phases):
            if not failed:
                rows = pd.DataFrame(
                    {
                        "model": model,
                        "month": month,
                        "customer_id": ids[top],
                        "score": scores[top],
                        "rank": ranks[top],
                        "model_version": version,
                        "value": value[top] if value is not None else np.nan,
                        "expected_loss": expected_loss[top] if value is not None else np.nan,
                    }
                )
                rows = pd.concat([rows, reasons], axis=1).assign(published_at=pd.Timestamp.now(tz="UTC"))
                conn.execute("CREATE SCHEMA IF NOT EXISTS bare")
                conn.execute("BEGIN TRANSACTION")
                conn.register("incoming", rows)
                exists = conn.execute(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'bare' AND table_name = "
                    "'published_predictions'"
                ).fetchone()[0]
                if exists:
                    conn.execute("DELETE FROM bare.published_predictions WHERE model = ? AND month = ?", [model, month])
                    conn.execute("INSERT INTO bare.published_predictions BY NAME SELECT * FROM incoming")
                else:
                    conn.execute("CREATE TABLE bare.published_predictions AS SELECT * FROM incoming")
                conn.execute("COMMIT")
                conn.unregister("incoming")
                published = len(rows)
    finally:
        conn.close()
    return {
        "phases": phases,
        "auc": metrics["auc"],
        "incumbent_auc": incumbent_auc,
        "promoted": bool(quality_ok and not_worse),
        "scored": int(len(ids)),
        "failed_gates": failed,
        "published": published,
        "snapshot_rows": int(len(frame)),
    }


# -- child processes ------------------------------------------------------------------------------------
def child_main(home: Path, catalog_path: Path, model: str, out: Path, profile: Path | None) -> None:
    """In a fresh process: warm the imports, then time the bare path and record its peak RSS (VmHWM)."""
    c.warm_imports()
    c.reset_peak()
    baseline = c.rss_mb()
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.01)
        profiler.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    result = bare(home, catalog_path, model, MONTH)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    # The per-phase peak resets (a gc.collect each) are the benchmark's bookkeeping, not the month's work.
    seconds -= sum(phase["bookkeeping_seconds"] for phase in result["phases"].values())
    cpu_seconds -= sum(phase["bookkeeping_cpu_seconds"] for phase in result["phases"].values())
    # bare() resets the peak at each of its phases: its whole-path peak is the largest phase peak.
    peak = max([c.peak_mb()] + [m["peak_rss_mb"] for m in result["phases"].values()])
    if profiler:
        profiler.stop()
        profile.parent.mkdir(parents=True, exist_ok=True)
        profile.with_suffix(".txt").write_text(profiler.output_text(unicode=False, color=False))
        profile.with_suffix(".html").write_text(profiler.output_html())
    result["published_digest"] = c.published_digest(home / "warehouse.duckdb", "bare", model, MONTH)  # after the clock
    out.write_text(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "peak_rss_mb": peak,
                "baseline_rss_mb": baseline,
                "load_average": os.getloadavg(),
                **result,
            },
            default=str,
        )
    )


def bare_in_child(prepared: Path, work: Path, catalog_path: Path, model: str, profile: Path | None) -> dict:
    """The bare path in its own Python process (a fresh heap: its peak RSS is its own)."""
    home = Path(tempfile.mkdtemp(dir=work))
    try:
        shutil.copy(prepared, home / "warehouse.duckdb")
        out = home / "bare.json"
        command = [
            sys.executable,
            __file__,
            "--child",
            "--home",
            str(home),
            "--catalog",
            str(catalog_path),
            "--model",
            model,
            "--out",
            str(out),
        ]
        if profile:
            command += ["--profile", str(profile)]
        subprocess.run(command, check=True)
        return json.loads(out.read_text())
    finally:
        shutil.rmtree(home, ignore_errors=True)


# -- main ------------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--customers", type=int, default=1_000_000, help="customers of the simulated business (default 1M)"
    )
    parser.add_argument("--quick", action="store_true", help="100k customers (a smoke run, not the target)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run both paths this many times (alternating); best of each"
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("CHURN_BENCH_CACHE", Path(tempfile.gettempdir()) / "churn_assets_bench")),
        help="where seeded and prepared warehouses are kept between runs ($CHURN_BENCH_CACHE)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="write pyinstrument profiles of both paths to PATH-bare.{txt,html} and PATH-dagster.{txt,html}",
    )
    parser.add_argument(
        "--max-rss-gb", type=float, default=14.0, help="watchdog: kill a path whose RSS passes this (default 14)"
    )
    parser.add_argument(
        "--list-fraction",
        type=float,
        help="list this share of eligible customers (the shipped 0.1 lists 94,000 of 1M; default: the shipped "
        "capacity, 8,000 customers, the list the retention team can call)",
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--catalog", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.profile:
        import importlib.util

        if importlib.util.find_spec("pyinstrument") is None:
            parser.error(
                "--profile needs pyinstrument: .venv/bin/pip install pyinstrument (a benchmark tool, not a dependency)"
            )
    if args.child:
        child_main(args.home, args.catalog, args.model, args.out, args.profile)
        return 0
    customers = 100_000 if args.quick else args.customers

    c.header(f"overhead: bare script vs Dagster, 1 model, 1 month, {customers:,} customers")
    catalog_raw = c.bench_catalog(("churn",))
    model = "churn"
    gates = catalog_raw["models"][model]["gates"]
    if args.list_fraction is None:
        # The list the retention team can call: the shipped capacity (8,000 a month), which the
        # shipped list_capacity gate enforces, rather than 10 % of 1M customers (94,000).
        capacity = c.shipped_catalog()["models"][model]["gates"]["list_capacity"]
        catalog_raw["models"][model]["list_top_fraction"] = round(capacity / customers, 6)
        gates["list_capacity"] = capacity
    else:
        catalog_raw["models"][model]["list_top_fraction"] = args.list_fraction
    spec_features = len(catalog_raw["models"][model]["features"])
    prepared, _ = c.prepared_warehouse(args.cache, customers, catalog_raw, [model], args.max_rss_gb * 1024)

    best_a = best_b = None
    with tempfile.TemporaryDirectory(dir=args.cache) as tmp:
        work = Path(tmp)
        catalog_path = c.write_catalog(catalog_raw, work / "models.yaml")

        def profile(name):
            return args.profile.with_name(f"{args.profile.name}-{name}") if args.profile else None

        for attempt in range(args.repeat):
            # The order alternates between repeats so that neither path is always second.
            for name in ["bare", "dagster"] if attempt % 2 == 0 else ["dagster", "bare"]:
                if name == "bare":
                    result = bare_in_child(prepared, work, catalog_path, model, profile(name))
                    best_a = result if best_a is None or result["seconds"] < best_a["seconds"] else best_a
                else:
                    result = c.timed_month(prepared, catalog_path, [model], work, args.max_rss_gb * 1024, profile(name))
                    if result.get("failed"):
                        raise SystemExit(f"the Dagster path failed: {result}")
                    best_b = result if best_b is None or result["seconds"] < best_b["seconds"] else best_b
                print(
                    f"  {name}: {result['seconds']:.1f} s (CPU {result['cpu_seconds']:.1f} s), peak RSS "
                    f"{c.fmt_mb(result['peak_rss_mb'])}, "
                    f"load average {result['load_average'][0]:.2f}",
                    flush=True,
                )
    a, b = best_a, best_b

    print(
        f"\nmonth {MONTH}, model '{model}' ({spec_features} features), snapshot {a['snapshot_rows']:,} customers, "
        f"{a['scored']:,} scored, {a['published']:,} published; repeats: {args.repeat} (best of each shown)"
    )
    print(
        f"\n(a) bare script                 {c.fmt_s(a['seconds']):>10}   peak RSS {c.fmt_mb(a['peak_rss_mb']):>10} "
        f"(baseline after imports {c.fmt_mb(a['baseline_rss_mb'])})"
    )
    for phase, m in a["phases"].items():
        print(f"      {phase:<26}{c.fmt_s(m['seconds']):>10}   peak RSS {c.fmt_mb(m['peak_rss_mb']):>10}")
    print(
        f"    holdout AUC {a['auc']:.4f} (champion v-1: {a['incumbent_auc']:.4f}), promoted: {a['promoted']}, failed "
        f"gates: {a['failed_gates'] or 'none'}"
    )

    print(
        f"\n(b) Dagster (run_months)        {c.fmt_s(b['seconds']):>10}   peak RSS {c.fmt_mb(b['peak_rss_mb']):>10} "
        f"(baseline after imports {c.fmt_mb(b['baseline_rss_mb'])})"
    )
    print(
        f"      {'before the run':<26}{c.fmt_s(b['before_run_seconds']):>10}   "
        "(definitions, source months scan, run creation)"
    )
    in_steps = 0.0
    for key, step in b["steps"].items():
        in_steps += step.get("seconds", 0.0)
        print(
            f"      {c.stage_of(key):<26}{c.fmt_s(step.get('seconds')):>10}   peak RSS "
            f"{c.fmt_mb(step.get('peak_rss_mb')):>10} (sampled)  {step.get('outcome', '?')}"
        )
    print(f"      {'run, outside steps':<26}{c.fmt_s(b['run_seconds'] - in_steps):>10}   (Dagster between steps)")
    print(f"      {'after the run':<26}{c.fmt_s(b['after_run_seconds']):>10}")
    all_bodies = sum(b["bodies_seconds"].values())
    dagster_own = b["seconds"] - all_bodies
    looking_back = sum(v for k, v in b["bodies_seconds"].items() if k in c.LOOKING_BACK)
    bodies = all_bodies - looking_back  # the assets whose work the bare path does too
    print(
        f"    inside the asset bodies (the project's code) {c.fmt_s(all_bodies)}: the month's work "
        f"{c.fmt_s(bodies)}, looking back (drift, list outcome, report; not in the bare path) "
        f"{c.fmt_s(looking_back)}; Dagster's own work (the rest: definitions, instance, run and event records) "
        f"{c.fmt_s(dagster_own)}"
    )
    for m in b["models"]:
        print(
            f"    {m['model']}: v{m['version']} AUC {m['auc'] if m['auc'] is None else round(m['auc'], 4)}, scored "
            f"{m['scored']}, "
            f"published {m['published']}: {m['status']}"
        )

    same = a["published_digest"] is not None and a["published_digest"] == b["published_digests"][model]
    print(f"\nsame published list (customers, ranks, scores) from both paths: {'yes' if same else 'NO'}")

    ratio = b["seconds"] / a["seconds"]
    ok = ratio <= TARGET_RATIO
    print(
        f"\nwall (a) {a['seconds']:.1f} s   wall (b) {b['seconds']:.1f} s   ratio b/a {ratio:.2f}   target <= "
        f"{TARGET_RATIO}: {c.verdict(ok)}"
    )
    print(
        f"CPU  (a) {a['cpu_seconds']:.1f} s   CPU  (b) {b['cpu_seconds']:.1f} s   ratio b/a "
        f"{b['cpu_seconds'] / a['cpu_seconds']:.2f}"
    )
    print(
        f"peak RSS (a) {c.fmt_mb(a['peak_rss_mb'])}   peak RSS (b) {c.fmt_mb(b['peak_rss_mb'])}   ratio "
        f"{b['peak_rss_mb'] / a['peak_rss_mb']:.2f}"
    )
    # The ratio reachable if the bodies cost exactly the bare path: Dagster's own work is the floor.
    floor = (a["seconds"] + dagster_own + looking_back) / a["seconds"]
    print(
        f"floor: bare + looking back + Dagster's own work = {a['seconds'] + looking_back + dagster_own:.1f} s, "
        f"ratio {floor:.2f} (the month's bodies above bare: {bodies - a['seconds']:+.1f} s)"
    )
    # The project's own share: the asset bodies against the same work done bare (issue 23).
    bodies_target = BODIES_TARGET_1M if customers >= 1_000_000 else BODIES_TARGET_SMALL
    bodies_ok = bodies / a["seconds"] <= bodies_target
    print(
        f"bodies (the month's work) / bare {bodies / a['seconds']:.3f}   target <= {bodies_target} "
        f"({'1M' if customers >= 1_000_000 else 'below 1M'}): {c.verdict(bodies_ok)}"
    )
    # Reasons and value (issue 24): their phases of the bare month, listed customers only.
    extra = sum(a["phases"][phase]["seconds"] for phase in ("value", "reasons") if phase in a["phases"])
    extra_ok = extra / a["seconds"] <= REASONS_VALUE_SHARE
    print(
        f"reasons + value {extra:.2f} s ({extra / max(a['published'], 1) * 1000:.2f} s per 1,000 listed) of the bare "
        f"month's {a['seconds']:.1f} s: {extra / a['seconds']:.1%}   "
        f"target <= {REASONS_VALUE_SHARE:.0%}: {c.verdict(extra_ok)}"
    )
    if args.profile:
        print(f"profiles: {args.profile}-bare.txt/.html, {args.profile}-dagster.txt/.html")
    c.save_json(
        args.json,
        {
            "benchmark": "overhead",
            "customers": customers,
            "month": str(MONTH),
            "bare": a,
            "dagster": b,
            "ratio": ratio,
            "target_ratio": TARGET_RATIO,
            "pass": ok,
            "same_published_list": same,
            "dagster_own_seconds": dagster_own,
            "looking_back_seconds": looking_back,
            "list_fraction": catalog_raw["models"][model]["list_top_fraction"],
            "floor_ratio": floor,
            "bodies_ratio": bodies / a["seconds"],
            "bodies_target": bodies_target,
            "reasons_value_seconds": extra,
            "reasons_value_share": extra / a["seconds"],
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
