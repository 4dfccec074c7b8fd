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
    newcomers = population[customers:customers + int(customers * 0.024)]
    current_all = np.concatenate([previous_ids[stay], newcomers])
    current_all = current_all[rng.permutation(len(current_all))]
    by_id = np.empty(int(population.max()) + 1)
    by_id[population] = risk
    current_scores_all = 1 / (1 + np.exp(-((by_id[current_all] + rng.normal(scale=0.45, size=len(current_all))) * 1.2 - 3.0)))
    # 5% excluded (cancelled, do not contact): not scored.
    excluded = rng.random(len(current_all)) < 0.05
    ids, scores = current_all[~excluded], current_scores_all[~excluded]
    ranks = rank_scores(scores.astype("float32"), ids)
    previous_ranks = rank_scores(previous_scores.astype("float32"), previous_ids)
    previous_listed = previous_ids[previous_ranks <= list_size(len(previous_ids), 0.10)]
    current = MonthPredictions(ids=ids, scores=scores.astype("float32").astype("float64"), ranks=ranks, model_version=2)
    previous = MonthPredictions(ids=previous_ids, scores=previous_scores.astype("float32").astype("float64"), ranks=previous_ranks,
                                model_version=1, published_ids=previous_listed)
    return current, previous, ids, current_all[excluded]


# -- sort-based set rules, prototyped (not the project's code) -----------------------------------------------
# numpy >= 2.3 computes np.unique of a plain array with a hash set (numpy/numpy#31969): ~100x slower
# than sorting for millions of int64 ids, and np.setdiff1d / np.intersect1d (assume_unique=False)
# call it on both inputs. The same results from sorting only (numpy sorts int64 with SIMD):
def sorted_unique(values):
    import numpy as np

    values = np.sort(np.asarray(values))
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if len(values) else values


def proposed_coverage(scored_ids, scores, listed_ids, eligible_ids, excluded_ids, examples=20):
    import numpy as np

    ordered = np.sort(np.asarray(scored_ids))
    repeated = ordered[1:] == ordered[:-1]
    unique = ordered[np.concatenate(([True], ~repeated))]
    scores = np.asarray(scores, dtype=float)
    eligible = sorted_unique(eligible_ids)
    return {
        "duplicated_ids": sorted_unique(ordered[1:][repeated])[:examples].tolist(),
        "invalid_scores": int(np.sum(~np.isfinite(scores) | (scores < 0) | (scores > 1))),
        "missing_eligible": np.setdiff1d(eligible, unique, assume_unique=True)[:examples].tolist(),
        "scored_not_eligible": np.setdiff1d(unique, eligible, assume_unique=True)[:examples].tolist(),
        "excluded_listed": np.intersect1d(sorted_unique(listed_ids), sorted_unique(excluded_ids), assume_unique=True)[:examples].tolist(),
    }


def proposed_overlap(current_list, previous_list, current_population):
    import numpy as np

    current_list, previous_list = sorted_unique(current_list), sorted_unique(previous_list)
    still_present = np.intersect1d(previous_list, sorted_unique(current_population), assume_unique=True)
    relisted = np.intersect1d(still_present, current_list, assume_unique=True)
    return {"previous_listed_still_present": len(still_present), "relisted": len(relisted),
            "entering": len(current_list) - len(np.intersect1d(current_list, previous_list, assume_unique=True))}


def _average_ranks(values):
    """scipy.stats.rankdata(values, 'average') from one argsort."""
    import numpy as np

    order = np.argsort(values)
    ordered = values[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    ends = np.append(starts[1:], len(ordered))
    ranks = np.empty(len(values))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def proposed_rank_correlation(current, previous):
    """Spearman correlation over the customers of both months: ids matched by sorting, not np.unique."""
    import numpy as np

    (ids_now, scores_now), (ids_then, scores_then) = current, previous
    now, then = np.argsort(ids_now), np.argsort(ids_then)
    a, b = np.asarray(ids_now)[now], np.asarray(ids_then)[then]
    x = np.asarray(scores_now)[now][np.isin(a, b, assume_unique=True, kind="sort")]
    y = np.asarray(scores_then)[then][np.isin(b, a, assume_unique=True, kind="sort")]
    if len(x) < 3:
        return None, len(x)
    return float(np.corrcoef(_average_ranks(x), _average_ranks(y))[0, 1]), len(x)


def best_of(repeat: int, function, *args):
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function(*args)
        times.append(time.perf_counter() - started)
    return min(times), result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=10_000_000, help="customers scored last month (default 10M)")
    parser.add_argument("--quick", action="store_true", help="1M customers")
    parser.add_argument("--repeat", type=int, help="calls per measurement; the best is reported (default 3, --quick 1)")
    parser.add_argument("--profile", type=Path, help="write a pyinstrument profile of one business_gates call to PATH.txt/.html")
    parser.add_argument("--proposed", action="store_true", help="also time sort-based versions of the set rules "
                        "(prototypes in this file), checked against the project's results")
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
    print(f"(setup, untimed) synthetic month: {len(current.ids):,} scored, {len(excluded_ids):,} excluded, "
          f"{len(previous.ids):,} scored last month, {len(previous.published_ids):,} listed last month ({time.perf_counter() - started:.1f}s)")

    c.reset_peak()
    base = c.rss_mb()
    total, results = best_of(args.repeat, g.business_gates, spec_gates, 0.10, current, previous, eligible_ids, excluded_ids)
    peak_extra = c.peak_mb() - base
    listed = current.listed(0.10)
    print(f"\nbusiness_gates (all {len(results)} gates)   {total:7.2f} s   (best of {args.repeat}; +{peak_extra:,.0f} MB over the inputs)")
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
        "list_capacity gate": (g._capacity, spec_gates, listed),
        "MonthPredictions.listed()": (current.listed, 0.10),
    }
    breakdown = {}
    print("\nalone:")
    for name, (function, *fargs) in parts.items():
        seconds, _ = best_of(args.repeat, function, *fargs)
        breakdown[name.strip()] = seconds
        print(f"    {name:<28} {seconds:7.2f} s")

    proposed = {}
    if args.proposed:
        print("\nsort-based alternative, prototyped in this file (results checked against the project's; its rank\n"
              "correlation is exact over every common customer, where the project may sample):")
        old_cov = coverage(current.ids, current.scores, listed, eligible_ids, excluded_ids)
        seconds, new_cov = best_of(args.repeat, proposed_coverage, current.ids, current.scores, listed, eligible_ids, excluded_ids)
        same = all(getattr(old_cov, k) == v for k, v in new_cov.items())
        proposed["coverage()"] = seconds
        print(f"    {'coverage()':<28} {seconds:7.2f} s   same result: {same}")
        old_ov = top_k_overlap(listed, previous.listed(0.10), current.ids)
        seconds, new_ov = best_of(args.repeat, proposed_overlap, listed, previous.listed(0.10), current.ids)
        same = all(getattr(old_ov, k) == v for k, v in new_ov.items())
        proposed["top_k_overlap()"] = seconds
        print(f"    {'top_k_overlap()':<28} {seconds:7.2f} s   same result: {same}")
        old_rc = rank_correlation((current.ids, current.scores), (previous.ids, previous.scores))
        seconds, new_rc = best_of(args.repeat, proposed_rank_correlation, (current.ids, current.scores), (previous.ids, previous.scores))
        same = new_rc[1] == old_rc[1] and abs(new_rc[0] - old_rc[0]) < 1e-9
        proposed["rank_correlation()"] = seconds
        print(f"    {'rank_correlation()':<28} {seconds:7.2f} s   same result: {same} ({new_rc[0]:.6f} vs {old_rc[0]:.6f})")
        # business_gates itself, with the three rule functions it imports swapped for the prototypes.
        from churn_assets.rules.coverage import CoverageResult
        from churn_assets.rules.overlap import OverlapResult

        def coverage_adapter(scored_ids, scores, listed_ids, eligible=None, excluded=None, examples=20):
            return CoverageResult(scored=len(scored_ids), **proposed_coverage(scored_ids, scores, listed_ids, eligible, excluded, examples))

        def overlap_adapter(current_list, previous_list, population):
            r = proposed_overlap(current_list, previous_list, population)
            still, relisted = r["previous_listed_still_present"], r["relisted"]
            return OverlapResult(overlap=relisted / still if still else None, previous_listed=len(sorted_unique(previous_list)),
                                 previous_listed_still_present=still, relisted=relisted, entering=r["entering"],
                                 leaving_still_present=still - relisted)

        saved = g.coverage, g.top_k_overlap, g.rank_correlation
        g.coverage, g.top_k_overlap, g.rank_correlation = coverage_adapter, overlap_adapter, proposed_rank_correlation
        try:
            seconds, fixed = best_of(args.repeat, g.business_gates, spec_gates, 0.10, current, previous, eligible_ids, excluded_ids)
        finally:
            g.coverage, g.top_k_overlap, g.rank_correlation = saved
        same = [(r.name, r.passed, r.value) for r in fixed] == [(r.name, r.passed, r.value) for r in results]
        proposed["business_gates"] = seconds
        print(f"    {'business_gates, all gates':<28} {seconds:7.2f} s   same verdicts and values: {same}")

    ok = total <= TARGET_SECONDS if customers == 10_000_000 else None
    print(f"\nall gates on {customers:,} customers: {total:.2f} s   target <= {TARGET_SECONDS:.0f} s at 10M: "
          f"{c.verdict(ok) if ok is not None else 'n/a at this size'}")
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
    c.save_json(args.json, {"benchmark": "gates", "customers": customers, "seconds": total, "breakdown": breakdown,
                            "proposed": proposed, "target_seconds": TARGET_SECONDS, "pass": ok, "np": np.__version__})
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
