"""Business-rule gates on a large month: churn_assets.rules.gates.business_gates, 10M customers.

    python bench/gates.py                      # 10M customers (the target: <= 5 s for all gates)
    python bench/gates.py --quick              # 1M customers
    python bench/gates.py --profile /tmp/gates # + a pyinstrument profile (gates.txt / gates.html)

The month is synthetic (numpy, seeded), shaped like the pipeline's: previous month N customers
scored, in warehouse order (not sorted by id); this month 2% of them gone, 2.4% new, scores
correlated with last month's (rank correlation ~0.9); 5% of the population excluded (not scored);
the published list = top 10% by rank. The gates get exactly what the predictions asset passes
them: float64 scores, int64 ranks, the eligible and excluded ids, last month's published ids.
Time is the best of --repeat calls; each gate (and the rule functions under it) is also timed alone.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

TARGET_SECONDS = 5.0


def synthetic_month(customers: int, seed: int = 7):
    """(current, previous, eligible_ids, excluded_ids) as the predictions asset builds them."""
    import numpy as np

    from churn_assets.rules.gates import MonthPredictions
    from churn_assets.rules.lists import list_size, rank_scores

    rng = np.random.default_rng(seed)
    population = rng.permutation(np.arange(1, int(customers * 1.03) + 1, dtype=np.int64))  # warehouse order
    previous_ids = population[:customers]
    risk = rng.normal(size=len(population))
    previous_scores = 1 / (1 + np.exp(-(risk[:customers] * 1.2 - 3.0)))
    # This month: 2% of last month's customers gone, 2.4% new; scores move a little.
    stay = rng.random(customers) >= 0.02
    newcomers = population[customers : customers + int(customers * 0.024)]
    current_all = np.concatenate([previous_ids[stay], newcomers])
    current_all = current_all[rng.permutation(len(current_all))]
    by_id = np.empty(int(population.max()) + 1)
    by_id[population] = risk
    current_scores_all = 1 / (
        1 + np.exp(-((by_id[current_all] + rng.normal(scale=0.45, size=len(current_all))) * 1.2 - 3.0))
    )
    # 5% excluded (cancelled, do not contact): not scored.
    excluded = rng.random(len(current_all)) < 0.05
    ids, scores = current_all[~excluded], current_scores_all[~excluded]
    ranks = rank_scores(scores.astype("float32"), ids)
    previous_ranks = rank_scores(previous_scores.astype("float32"), previous_ids)
    previous_listed = previous_ids[previous_ranks <= list_size(len(previous_ids), 0.10)]
    current = MonthPredictions(ids=ids, scores=scores.astype("float32").astype("float64"), ranks=ranks, model_version=2)
    previous = MonthPredictions(
        ids=previous_ids,
        scores=previous_scores.astype("float32").astype("float64"),
        ranks=previous_ranks,
        model_version=1,
        published_ids=previous_listed,
    )
    return current, previous, ids, current_all[excluded]


def best_of(repeat: int, function, *args):
    """Best time of `repeat` calls; each call gets fresh MonthPredictions (nothing cached by the last call)."""
    import dataclasses

    from churn_assets.rules.gates import MonthPredictions

    times, result = [], None
    for _ in range(repeat):
        fresh = [dataclasses.replace(a) if isinstance(a, MonthPredictions) else a for a in args]
        started = time.perf_counter()
        result = function(*fresh)
        times.append(time.perf_counter() - started)
    return min(times), result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=10_000_000, help="customers scored last month (default 10M)")
    parser.add_argument("--quick", action="store_true", help="1M customers")
    parser.add_argument("--repeat", type=int, help="calls per measurement; the best is reported (default 3, --quick 1)")
    parser.add_argument(
        "--profile", type=Path, help="write a pyinstrument profile of one business_gates call to PATH.txt/.html"
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    customers = 1_000_000 if args.quick else args.customers
    args.repeat = args.repeat or (1 if args.quick else 3)

    c.header(f"gates: business_gates on a {customers:,}-customer month")
    import numpy as np

    from churn_assets.rules import gates as g
    from churn_assets.rules.coverage import coverage
    from churn_assets.rules.distribution import psi, rank_correlation
    from churn_assets.rules.overlap import top_k_overlap

    spec_gates = _gates()
    started = time.perf_counter()
    current, previous, eligible_ids, excluded_ids = synthetic_month(customers)
    print(
        f"(setup, untimed) synthetic month: {len(current.ids):,} scored, {len(excluded_ids):,} excluded, "
        f"{len(previous.ids):,} scored last month, {len(previous.published_ids):,} listed last month "
        f"({time.perf_counter() - started:.1f}s)"
    )

    c.reset_peak()
    base = c.rss_mb()
    total, results = best_of(
        args.repeat, g.business_gates, spec_gates, 0.10, current, previous, eligible_ids, excluded_ids
    )
    peak_extra = c.peak_mb() - base
    listed = current.listed(0.10)
    print(
        f"\nbusiness_gates (all {len(results)} gates)   {total:7.2f} s   (best of {args.repeat}; +{peak_extra:,.0f} "
        "MB over the inputs)"
    )
    for r in results:
        print(f"    {r.name:<16} {'passed' if r.passed else 'FAILED'}: {r.summary}")

    parts = {
        "top_k_overlap gate": (g._overlap, spec_gates, 0.10, current, previous, listed),
        "  top_k_overlap()": (top_k_overlap, listed, previous.listed(0.10), current.ids),
        "  rank_correlation()": (rank_correlation, (current.ids, current.scores), (previous.ids, previous.scores)),
        "predicted_rate gate": (g._predicted_rate, spec_gates, current),
        "score_psi gate": (g._psi, spec_gates, current, previous),
        "  psi()": (psi, previous.scores, current.scores),
        "coverage gate": (g._coverage, current, listed, eligible_ids, excluded_ids),
        "  coverage()": (coverage, current.ids, current.scores, listed, eligible_ids, excluded_ids),
        "MonthPredictions.id_set": (lambda month: month.id_set, current),
        "list_capacity gate": (g._capacity, spec_gates, listed),
        "MonthPredictions.listed()": (current.listed, 0.10),
    }
    breakdown = {}
    print("\nalone:")
    for name, (function, *fargs) in parts.items():
        seconds, _ = best_of(args.repeat, function, *fargs)
        breakdown[name.strip()] = seconds
        print(f"    {name:<28} {seconds:7.2f} s")

    ok = total <= TARGET_SECONDS if customers == 10_000_000 else None
    print(
        f"\nall gates on {customers:,} customers: {total:.2f} s   target <= {TARGET_SECONDS:.0f} s at 10M: "
        f"{c.verdict(ok) if ok is not None else 'n/a at this size'}"
    )
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        profiler.start()
        g.business_gates(spec_gates, 0.10, current, previous, eligible_ids, excluded_ids)
        profiler.stop()
        args.profile.parent.mkdir(parents=True, exist_ok=True)
        args.profile.with_suffix(".txt").write_text(profiler.output_text(unicode=False, color=False))
        args.profile.with_suffix(".html").write_text(profiler.output_html())
        print(f"profile: {args.profile.with_suffix('.txt')} / .html")
    c.save_json(
        args.json,
        {
            "benchmark": "gates",
            "customers": customers,
            "seconds": total,
            "breakdown": breakdown,
            "target_seconds": TARGET_SECONDS,
            "pass": ok,
            "np": np.__version__,
        },
    )
    return 0


def _gates():
    """The churn model's gate thresholds from the benchmark catalogue (capacity raised: the list is 10%)."""
    import tempfile

    from churn_assets.catalog import load_catalog

    with tempfile.TemporaryDirectory() as tmp:
        path = c.write_catalog(c.bench_catalog(("churn",), list_capacity=50_000_000), Path(tmp) / "models.yaml")
        return load_catalog(path).models["churn"].gates


if __name__ == "__main__":
    sys.exit(main())
