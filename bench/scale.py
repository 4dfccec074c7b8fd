"""Scale: one month of one model through Dagster at 100k, 1M and 10M customers.

    python bench/scale.py                                  # 100k, 1M, 10M (the targets; 10M takes ~1 h)
    python bench/scale.py --customers 100000,1000000       # chosen sizes
    python bench/scale.py --quick                          # 50k and 100k
    python bench/scale.py --customers 10000000 --profile /tmp/scale   # + pyinstrument profile per size

Each size: a source of N customers x 5 months (the simulator up to 2M; above, a 1M business
replicated in DuckDB SQL with offset customer ids, see bench/README.md), months M-2 and M-1
materialised first (untimed, cached), then month M = 2025-08 of the benchmark catalogue (churn on
25 features, horizon 1, window 1) timed in a fresh process: wall time and sampled peak RSS per
asset, exact peak RSS (VmHWM) of the whole run. A watchdog kills a run whose RSS passes
--max-rss-gb (default 14) so that a miss cannot take the shared machine down; the report then
says in which asset.

Targets at 10M: the month completes with peak RSS <= 8 GiB, and no asset (nor the total) takes
more than 10x its 1M time (no worse than linear; 10% tolerance for run-to-run noise). Growth from
1M is also reported for every other size above 1M, in wall and in CPU time (user + system of the
process: on a shared machine wall time also measures the neighbours).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

TARGET_PEAK_MB = 8 * 1024
LINEAR_FROM, LINEAR_TO = 1_000_000, 10_000_000
# Per-customer growth up to this counts as linear: repeated runs of one size differ by ~5-10%.
LINEAR_TOLERANCE = 1.10


def label(customers: int) -> str:
    return f"{customers / 1e6:g}M" if customers >= 1_000_000 else f"{customers / 1e3:g}k"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--customers", default="100000,1000000,10000000", help="comma-separated sizes (default 100k,1M,10M)"
    )
    parser.add_argument("--quick", action="store_true", help="50k and 100k")
    parser.add_argument(
        "--max-rss-gb", type=float, default=14.0, help="watchdog: kill a run whose RSS passes this (default 14)"
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("CHURN_BENCH_CACHE", Path(tempfile.gettempdir()) / "churn_assets_bench")),
        help="where seeded and prepared warehouses are kept between runs ($CHURN_BENCH_CACHE)",
    )
    parser.add_argument(
        "--profile", type=Path, help="pyinstrument profile of each size's month to PATH-<size>.txt/.html"
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also time and peak every call of the project's main functions (diagnostic; slightly slower)",
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    sizes = [50_000, 100_000] if args.quick else [int(float(v)) for v in args.customers.split(",")]

    c.header(f"scale: one month, one model, {', '.join(label(n) for n in sizes)} customers")
    catalog_raw = c.bench_catalog(("churn",))
    runs: dict[int, dict] = {}
    prepare_runs: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(dir=args.cache) as tmp:
        work = Path(tmp)
        catalog_path = c.write_catalog(catalog_raw, work / "models.yaml")
        for n in sizes:
            try:
                prepared, prep = c.prepared_warehouse(args.cache, n, catalog_raw, ["churn"], args.max_rss_gb * 1024)
            except c.PreparationFailed as exc:
                runs[n] = {"failed": True, "preparation": str(exc), "steps": {}}
                print(f"  {label(n)}: FAILED before the timed month: {exc}", flush=True)
                continue
            if prep:
                prepare_runs[n] = prep
            profile = args.profile.with_name(f"{args.profile.name}-{label(n)}") if args.profile else None
            result = c.timed_month(
                prepared, catalog_path, ["churn"], work, args.max_rss_gb * 1024, profile, args.breakdown
            )
            runs[n] = result
            if result.get("failed"):
                how = (
                    f"killed by the watchdog at {result['killed_at'][1]:,.0f} MB"
                    if result.get("killed_at")
                    else f"exit code {result['exit_code']}"
                )
                print(f"  {label(n)}: FAILED ({how}) during {result['running']}", flush=True)
            else:
                print(
                    f"  {label(n)}: {result['seconds']:.1f} s, peak RSS {c.fmt_mb(result['peak_rss_mb'])}, "
                    f"snapshot {result['snapshot_rows'].get('customers'):,} rows, "
                    f"{'; '.join(m['model'] + ': ' + m['status'] for m in result['models'])}",
                    flush=True,
                )

    steps = list(dict.fromkeys(k for r in runs.values() for k in r.get("steps", {})))
    print("\nper asset: wall time / CPU time (user+sys) / peak RSS sampled while it ran")
    print(f"{'asset':<28}" + "".join(f"{label(n):>30}" for n in sizes))
    for key in steps:
        cells = []
        for n in sizes:
            s = runs[n].get("steps", {}).get(key, {})
            cells.append(
                f"{c.fmt_s(s.get('seconds'))} / {c.fmt_s(s.get('cpu_seconds'))} / {c.fmt_mb(s.get('peak_rss_mb'))}"
                if s
                else "-"
            )
        print(f"{c.stage_of(key):<28}" + "".join(f"{cell:>30}" for cell in cells))
    print(
        f"{'month total: wall / CPU':<28}"
        + "".join(f"{c.fmt_s(runs[n].get('seconds')) + ' / ' + c.fmt_s(runs[n].get('cpu_seconds')):>30}" for n in sizes)
    )
    print(f"{'peak RSS (VmHWM)':<28}" + "".join(f"{c.fmt_mb(runs[n].get('peak_rss_mb')):>30}" for n in sizes))
    print(
        f"{'load average (1 min) at end':<28}"
        + "".join(f"{runs[n]['load_average'][0] if runs[n].get('load_average') else '-':>30}" for n in sizes)
    )
    if args.breakdown:
        for n in sizes:
            if runs[n].get("calls"):
                print(f"\ncall breakdown at {label(n)} (exact peak RSS per call; nested calls indented)")
                c.print_breakdown(runs[n]["calls"], runs[n]["steps"])
    if prepare_runs:
        print("\n(month M-1, the untimed preparation made now: first list, so overlap and PSI had no previous month)")
        for n, r in prepare_runs.items():
            print(
                f"  {label(n)}: "
                + ", ".join(f"{c.stage_of(k)} {c.fmt_s(s.get('seconds'))}" for k, s in r["steps"].items())
                + f"; peak RSS of the two months {c.fmt_mb(r['peak_rss_mb'])}"
            )

    verdicts = {}
    big = runs.get(LINEAR_TO)
    if big is not None:
        completed = not big.get("failed") and big.get("published_all", False)
        peak = big.get("peak_rss_mb") or max(
            (s.get("peak_rss_mb") or 0 for s in big.get("steps", {}).values()), default=None
        )
        if big.get("preparation"):
            print(f"\n10M: {big['preparation']}")
        verdicts["10M completes"] = completed
        verdicts["10M peak RSS <= 8 GiB"] = bool(completed and peak <= TARGET_PEAK_MB)
        print(
            f"10M: completes: {c.verdict(completed)}; peak RSS "
            f"{c.fmt_mb(peak) if completed else 'above the watchdog'} (target <= {TARGET_PEAK_MB:,} MB): "
            f"{c.verdict(verdicts['10M peak RSS <= 8 GiB'])}"
        )
    small = runs.get(LINEAR_FROM)
    if small is not None and not small.get("failed"):
        # Growth from 1M, per customer: (t_N / t_1M) / (N / 1M); 1.0 is linear, above is worse. CPU time is
        # judged too: on a shared machine wall time also measures the neighbours.
        for n in [n for n in sizes if n > LINEAR_FROM and not runs[n].get("failed")]:
            factor = n / LINEAR_FROM
            print(
                f"\ngrowth 1M -> {label(n)} per customer, (t_{label(n)} / t_1M) / {factor:g}, wall and CPU "
                f"(1.00 is linear; up to {LINEAR_TOLERANCE:.2f} counted as linear, run-to-run noise):"
            )
            worst = {"seconds": 0.0, "cpu_seconds": 0.0}
            for key in steps:
                cells = []
                for kind in ("seconds", "cpu_seconds"):
                    a, b = small["steps"].get(key, {}).get(kind), runs[n]["steps"].get(key, {}).get(kind)
                    if a and b:
                        growth = b / a / factor
                        if small["steps"][key]["seconds"] >= 1.0:  # sub-second steps are fixed costs: not judged
                            worst[kind] = max(worst[kind], growth)
                        cells.append(f"{growth:6.2f}")
                    else:
                        cells.append("     -")
                judged = small["steps"].get(key, {}).get("seconds", 0) >= 1.0
                print(
                    f"    {c.stage_of(key):<28}{cells[0]}  {cells[1]}"
                    + ("" if judged else "   (under 1 s at 1M: not judged)")
                )
            totals = {
                kind: runs[n][kind] / small[kind] / factor
                for kind in ("seconds", "cpu_seconds")
                if runs[n].get(kind) and small.get(kind)
            }
            print(
                f"    {'month total':<28}{totals.get('seconds', float('nan')):6.2f}  "
                f"{totals.get('cpu_seconds', float('nan')):6.2f}"
            )
            for kind, name in (("seconds", "wall"), ("cpu_seconds", "CPU")):
                if kind in totals:
                    linear = totals[kind] <= LINEAR_TOLERANCE and worst[kind] <= LINEAR_TOLERANCE
                    verdicts[f"{name} time linear 1M -> {label(n)}"] = linear
                    print(
                        f"no worse than linear 1M -> {label(n)}, {name} time (total and every asset of >= 1 s at 1M): "
                        f"{c.verdict(linear)}"
                    )
    c.save_json(
        args.json,
        {
            "benchmark": "scale",
            "sizes": sizes,
            "runs": {str(n): r for n, r in runs.items()},
            "prepare_runs": {str(n): r for n, r in prepare_runs.items()},
            "verdicts": verdicts,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
