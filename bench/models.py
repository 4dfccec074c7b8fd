"""Models sharing one snapshot: one month with the three shipped models vs with churn alone.

    python bench/models.py                    # 1M customers (the target: 3 models <= 2.2x one)
    python bench/models.py --quick            # 100k customers

The three shipped models (churn, downgrade, upsell: their own features, params, seeds, gates) in
the benchmark catalogue's one-month form (horizon 1, window 1, list capacity raised; see
bench/_common.py bench_catalog). Months M-2 and M-1 are materialised for all three first
(untimed, cached); then month M = 2025-08 runs through Dagster twice, each in a fresh process on a
copy of that warehouse: `run_months(models=["churn"])` and
`run_months(models=["churn", "downgrade", "upsell"])`. Both read the customers snapshot once.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

TARGET_RATIO = 2.2
MODELS = ["churn", "downgrade", "upsell"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000, help="customers (default 1M)")
    parser.add_argument("--quick", action="store_true", help="100k customers")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run each case this many times (alternating); best of each"
    )
    parser.add_argument(
        "--max-rss-gb", type=float, default=14.0, help="watchdog: kill a run whose RSS passes this (default 14)"
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("CHURN_BENCH_CACHE", Path(tempfile.gettempdir()) / "churn_assets_bench")),
        help="where seeded and prepared warehouses are kept between runs ($CHURN_BENCH_CACHE)",
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    customers = 100_000 if args.quick else args.customers

    c.header(f"models: 1 vs 3 models sharing one snapshot, {customers:,} customers")
    catalog_raw = c.bench_catalog(tuple(MODELS), all_features=False)
    prepared, _ = c.prepared_warehouse(args.cache, customers, catalog_raw, MODELS, args.max_rss_gb * 1024)
    cases = {"1 model (churn)": ["churn"], "3 models": MODELS}
    best: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(dir=args.cache) as tmp:
        work = Path(tmp)
        catalog_path = c.write_catalog(catalog_raw, work / "models.yaml")
        for attempt in range(args.repeat):
            names = list(cases) if attempt % 2 == 0 else list(reversed(cases))
            for name in names:
                result = c.timed_month(prepared, catalog_path, cases[name], work, args.max_rss_gb * 1024)
                if result.get("failed"):
                    raise SystemExit(f"{name} failed: {result}")
                print(
                    f"  {name}: {result['seconds']:.1f} s (CPU {result['cpu_seconds']:.1f} s), peak RSS "
                    f"{c.fmt_mb(result['peak_rss_mb'])}, "
                    f"load average {result['load_average'][0]:.2f}",
                    flush=True,
                )
                if name not in best or result["seconds"] < best[name]["seconds"]:
                    best[name] = result

    for name, r in best.items():
        print(
            f"\n{name}: {c.fmt_s(r['seconds'])}, peak RSS {c.fmt_mb(r['peak_rss_mb'])}  (before the run "
            f"{c.fmt_s(r['before_run_seconds'])})"
        )
        for key, step in r["steps"].items():
            print(f"    {c.stage_of(key):<32}{c.fmt_s(step.get('seconds')):>10}   {step.get('outcome')}")
        for m in r["models"]:
            print(f"    {m['model']}: {m['status']}")
    one, three = best["1 model (churn)"], best["3 models"]
    ratio = three["seconds"] / one["seconds"]
    ok = ratio <= TARGET_RATIO
    snap = [s.get("seconds", 0) for k, s in three["steps"].items() if k.endswith("snapshot")]
    print(
        f"\n3 models {three['seconds']:.1f} s / 1 model {one['seconds']:.1f} s = {ratio:.2f}   target <= "
        f"{TARGET_RATIO}: {c.verdict(ok)}"
    )
    print(
        f"CPU: 3 models {three['cpu_seconds']:.1f} s / 1 model {one['cpu_seconds']:.1f} s = "
        f"{three['cpu_seconds'] / one['cpu_seconds']:.2f}"
    )
    print(f"(snapshot steps in the 3-model run: {len(snap)}, {sum(snap):.1f} s: read once for all three models)")
    c.save_json(
        args.json,
        {
            "benchmark": "models",
            "customers": customers,
            "one": one,
            "three": three,
            "ratio": ratio,
            "target_ratio": TARGET_RATIO,
            "pass": ok,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
