"""Load time of the code location: `import churn_assets` and `dagster definitions validate`.

    python bench/load.py                 # 5 runs of each, median reported
    python bench/load.py --quick         # 1 run of each
    python bench/load.py --models 30 --profile /tmp/load   # + profiles of the slowest case

Every figure is a fresh process's wall time (interpreter start included), as a developer or the
Dagster daemon sees it, with CHURN_HOME pointing at a small seeded warehouse (the local
environment checks the catalogue against the source's columns when the definitions load):

* `python -c "import churn_assets"`                       target <= 1.5 s
* `dagster definitions validate -m churn_assets`, shipped catalogue (3 models)   target <= 3 s
* the same with CHURN_MODELS = a generated catalogue of 30 models                target <= 4 s

References printed beside them: Python's start, `import dagster`, and Dagster's floor, the same
`validate` of a module with a single trivial asset: what any code location costs on this machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

BIN = Path(sys.executable).parent
TARGETS = {"import churn_assets": 1.5, "validate, 3 models": 3.0, "validate, 30 models": 4.0}


def timed(command: list[str], env: dict, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=c.ROOT, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--runs", type=int, default=5, help="runs of each command (default 5); the median is the figure"
    )
    parser.add_argument("--quick", action="store_true", help="1 run of each")
    parser.add_argument("--models", type=int, default=30, help="models in the generated catalogue (default 30)")
    parser.add_argument(
        "--profile",
        type=Path,
        help="write PATH-importtime.txt (python -X importtime, sorted) and "
        "PATH-validate.txt/.html (pyinstrument of validate with the generated catalogue)",
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    runs = 1 if args.quick else args.runs

    c.header(f"load: import and definitions validate ({runs} runs each)")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        from churn_assets.simulate import seed_duckdb

        seed_duckdb(home / "warehouse.duckdb", customers=3_000, months=5, seed=c.SEED, end_month=c.END_MONTH)
        generated = c.write_catalog(c.many_models_catalog(args.models), Path(tmp) / "models.yaml")
        trivial = Path(tmp) / "trivial_location.py"
        trivial.write_text(
            "from dagster import Definitions, asset\n\n\n@asset\ndef one():\n    return 1\n\n\n"
            "defs = Definitions(assets=[one])\n"
        )
        base = {k: v for k, v in os.environ.items() if k not in ("CHURN_MODELS", "CHURN_ENV")}
        base["CHURN_HOME"] = str(home)
        cases = {
            "import churn_assets": ([sys.executable, "-c", "import churn_assets"], base),
            "validate, 3 models": ([str(BIN / "dagster"), "definitions", "validate", "-m", "churn_assets"], base),
            f"validate, {args.models} models": (
                [str(BIN / "dagster"), "definitions", "validate", "-m", "churn_assets"],
                {**base, "CHURN_MODELS": str(generated)},
            ),
            "python startup (reference)": ([sys.executable, "-c", "pass"], base),
            "import dagster (reference)": ([sys.executable, "-c", "import dagster"], base),
            "validate, one trivial asset (Dagster's floor)": (
                [str(BIN / "dagster"), "definitions", "validate", "-f", str(trivial)],
                base,
            ),
        }
        figures = {}
        for name, (command, env) in cases.items():
            timed(command, env, 1)  # warm the OS file cache and .pyc files: not counted
            times = timed(command, env, runs)
            target = TARGETS.get(name)
            figures[name] = {
                "median": statistics.median(times),
                "min": min(times),
                "max": max(times),
                "target": target,
                "pass": None if target is None else statistics.median(times) <= target,
            }
            f = figures[name]
            print(
                f"{name:<46} median {f['median']:5.2f} s  (min {f['min']:.2f}, max {f['max']:.2f})"
                + (f"   target <= {target} s: {c.verdict(f['pass'])}" if target else "")
            )

        if args.profile:
            args.profile.parent.mkdir(parents=True, exist_ok=True)
            done = subprocess.run(
                [sys.executable, "-X", "importtime", "-c", "import churn_assets"],
                env=base,
                cwd=c.ROOT,
                capture_output=True,
                text=True,
            )
            rows = [
                line.split("|") for line in done.stderr.splitlines() if line.startswith("import time:") and "|" in line
            ]
            rows = [(int(r[1]), int(r[0].split(":")[1]), r[2].rstrip()) for r in rows if r[1].strip().isdigit()]
            text = "\n".join(
                f"{cum / 1e6:7.3f} s cumulative {own / 1e6:7.3f} s self  {name}"
                for cum, own, name in sorted(rows, reverse=True)[:60]
            )
            (args.profile.parent / f"{args.profile.name}-importtime.txt").write_text(text + "\n")
            out = args.profile.parent / f"{args.profile.name}-validate"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pyinstrument",
                    "--interval",
                    "0.002",
                    "-r",
                    "text",
                    "--show-all",
                    "-o",
                    str(out) + ".txt",
                    str(BIN / "dagster"),
                    "definitions",
                    "validate",
                    "-m",
                    "churn_assets",
                ],
                env={**base, "CHURN_MODELS": str(generated)},
                cwd=c.ROOT,
                capture_output=True,
            )
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pyinstrument",
                    "--interval",
                    "0.002",
                    "-r",
                    "html",
                    "-o",
                    str(out) + ".html",
                    str(BIN / "dagster"),
                    "definitions",
                    "validate",
                    "-m",
                    "churn_assets",
                ],
                env={**base, "CHURN_MODELS": str(generated)},
                cwd=c.ROOT,
                capture_output=True,
            )
            print(f"profiles: {args.profile}-importtime.txt, {out}.txt/.html")
    c.save_json(args.json, {"benchmark": "load", "runs": runs, "figures": figures})
    return 0


if __name__ == "__main__":
    sys.exit(main())
