"""Shared helpers of the benchmarks: warehouses, benchmark catalogues, timing and peak memory.

Not a benchmark itself (``make bench`` runs the others). Everything here is setup or measuring:
nothing in it is timed as part of a figure unless a benchmark says so.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import datetime as dt
import gc
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# OpenMP with two threads on a shared two-core machine can be 100x slower: one thread unless told.
os.environ.setdefault("CHURN_TRAIN_THREADS", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

# Month layout of every pipeline benchmark (see bench/README.md, "Months"): the source holds
# BENCH_MONTH-2 .. BENCH_MONTH+2 (5 months, as of BENCH_MONTH+2, so churned_within_3m of
# BENCH_MONTH-1 has matured), the benchmark catalogue trains with horizon 1 and a window of 1,
# so the timed month M trains on M-1 and its gates compare with the list published for M-1.
BENCH_MONTH = dt.date(2025, 8, 1)
SOURCE_MONTHS = 5
END_MONTH = dt.date(2025, 10, 1)
SEED = 7

SOURCE_VIEW = "analytics.customer_features_monthly"
# Every feature the simulated source offers (25, 7 of them categorical): "about 30 features".
ALL_FEATURES = [
    "plan",
    "contract_type",
    "region",
    "payment_method",
    "segment",
    "age_band",
    "acquisition_channel",
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "data_usage_gb",
    "usage_change_3m",
    "call_minutes",
    "num_support_tickets_3m",
    "late_payments_6m",
    "days_to_contract_end",
    "num_products",
    "has_streaming",
    "has_device_protection",
    "paperless_billing",
    "discount_pct",
    "nps_score",
    "avg_session_minutes",
    "logins_last_month",
    "satisfaction_score",
]
ALL_CATEGORICAL = ["plan", "contract_type", "region", "payment_method", "segment", "age_band", "acquisition_channel"]


# -- machine and printing ---------------------------------------------------------------------------
def machine() -> str:
    """One line saying where a figure was measured."""
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError):
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (
        f"{platform.node()}: {os.cpu_count()} cores ({cpu}), {mem}, Python {platform.python_version()}, "
        f"load average {load}, CHURN_TRAIN_THREADS={os.environ.get('CHURN_TRAIN_THREADS')}"
    )


def versions() -> str:
    import importlib.metadata as md

    names = ["dagster", "duckdb", "pandas", "numpy", "xgboost", "great_expectations", "scikit-learn", "scipy"]
    return ", ".join(f"{n} {md.version(n)}" for n in names)


def header(title: str) -> None:
    print(f"== {title} ==")
    print(f"date      {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"machine   {machine()}")
    print(f"versions  {versions()}")
    sys.stdout.flush()


def verdict(ok: bool | None) -> str:
    return {True: "PASS", False: "MISS", None: "n/a"}[ok]


def save_json(path: str | None, payload: dict) -> None:
    if path:
        payload = {
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "machine": machine(),
            **payload,
        }
        Path(path).write_text(json.dumps(payload, indent=2, default=str))
        print(f"(figures written to {path})")


# -- memory -------------------------------------------------------------------------------------------
def rss_mb(pid: int | str = "self") -> float:
    return _status_kb(pid, "VmRSS") / 1024


def peak_mb(pid: int | str = "self") -> float:
    """Peak resident set size since the process started or since the last reset_peak()."""
    return _status_kb(pid, "VmHWM") / 1024


def _status_kb(pid, field_name: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"{field_name}:\s+(\d+)", text).group(1))


def release_memory() -> None:
    """Give freed memory back to the OS so that the next peak starts from what is really live."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def reset_peak() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux >= 4.0: echo 5 > /proc/self/clear_refs)."""
    release_memory()
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class RssSampler:
    """Samples a process's RSS from a separate process (immune to the GIL), for per-step peaks; with
    `kill_above_mb`, also a watchdog that SIGKILLs the process when its RSS passes that bound (a
    benchmark must not push the other users of a shared machine into the OOM killer).

    Sampling every `interval` seconds can miss a spike shorter than that; the exact whole-run
    peak is VmHWM (peak_mb)."""

    def __init__(
        self,
        pid: int | None = None,
        interval: float = 0.05,
        path: Path | None = None,
        kill_above_mb: float | None = None,
    ):
        self.pid = pid or os.getpid()
        self.interval = interval
        self.keep = path is not None
        self.path = Path(path) if path else Path(tempfile.mkstemp(prefix="rss-", suffix=".txt")[1])
        self.kill_above_mb = kill_above_mb
        self.samples: list[tuple[float, float]] = []

    def __enter__(self):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _SAMPLER,
                str(self.pid),
                str(self.interval),
                str(self.path),
                str(self.kill_above_mb or 0),
            ]
        )
        return self

    def __exit__(self, *exc):
        self.proc.kill()  # SIGKILL: SIGTERM may be ignored (inherited from nohup / a background shell)
        self.proc.wait()
        self.samples = read_samples(self.path)
        self.cpu_samples = read_samples(self.path, with_cpu=True)
        if not self.keep:
            self.path.unlink(missing_ok=True)
        return False

    def peak_between(self, start: float, end: float) -> float | None:
        values = [mb for t, mb in self.samples if start <= t <= end]
        return max(values) if values else None

    def cpu_between(self, start: float, end: float) -> float | None:
        """CPU seconds (user + system) the process used between two wall-clock times (+-1 sample)."""
        inside = [cpu for t, _, cpu in self.cpu_samples if start <= t <= end]
        before = [cpu for t, _, cpu in self.cpu_samples if t < start]
        if not inside:
            return None
        return inside[-1] - (before[-1] if before else inside[0])


_SAMPLER = """
import os, re, signal, sys, time
pid, interval, out, cap = int(sys.argv[1]), float(sys.argv[2]), open(sys.argv[3], 'w', buffering=1), float(sys.argv[4])
pattern = re.compile(r'VmRSS:\\s+(\\d+)')
tick = os.sysconf('SC_CLK_TCK')
while True:
    try:
        text = open(f'/proc/{pid}/status').read()
        fields = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
    except OSError:
        break
    mb = int(pattern.search(text).group(1)) / 1024
    cpu = (int(fields[11]) + int(fields[12])) / tick
    out.write(f'{time.time():.3f} {mb:.1f} {cpu:.2f}\\n')
    if cap and mb > cap:
        os.kill(pid, signal.SIGKILL)
        out.write(f'KILLED {time.time():.3f} {mb:.1f}\\n')
        break
    time.sleep(interval)
"""


def read_samples(path: Path, with_cpu: bool = False) -> list[tuple]:
    """(time, RSS MB) samples, or (time, RSS MB, CPU seconds so far) with `with_cpu`."""
    samples = []
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] != "KILLED":
                t, mb, cpu = map(float, parts)
                samples.append((t, mb, cpu) if with_cpu else (t, mb))
    return samples


def killed_by_watchdog(path: Path) -> tuple[float, float] | None:
    """(time, RSS MB) at which the watchdog killed the process, if it did."""
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            if line.startswith("KILLED"):
                _, t, mb = line.split()
                return float(t), float(mb)
    return None


@contextlib.contextmanager
def measured(label: str, into: dict):
    """Wall time and exact peak RSS (VmHWM after a reset) of a block, stored in into[label].

    Resetting the peak runs a full garbage collection (0.1-0.3 s with Dagster and Great Expectations
    imported): that bookkeeping is stored too (`bookkeeping_seconds`, wall and CPU), so that a caller
    timing several blocks can take it out of its own clock."""
    wall, cpu = time.perf_counter(), time.process_time()
    reset_peak()
    before = rss_mb()
    bookkeeping = (time.perf_counter() - wall, time.process_time() - cpu)
    started = time.perf_counter()
    try:
        yield
    finally:
        into[label] = {
            "seconds": time.perf_counter() - started,
            "peak_rss_mb": peak_mb(),
            "rss_before_mb": before,
            "bookkeeping_seconds": bookkeeping[0],
            "bookkeeping_cpu_seconds": bookkeeping[1],
        }


# -- warehouses ---------------------------------------------------------------------------------------
def seed_source(database: Path, customers: int, months: int = SOURCE_MONTHS, end_month: dt.date = END_MONTH) -> dict:
    """The simulated business, `customers` in its first month (the simulator itself)."""
    from churn_assets.simulate import seed_duckdb

    return seed_duckdb(database, customers=customers, months=months, seed=SEED, end_month=end_month)


def replicate_source(source_db: Path, database: Path, copies: int) -> dict:
    """A business `copies` times larger, made in DuckDB SQL from a seeded one: every raw table is
    repeated with customer ids offset by k * 10^9 (k = 0 .. copies-1); the feature view is recreated
    unchanged. Used where the simulator itself would need more memory than the benchmark has (10M)."""
    import duckdb

    from churn_assets.simulate.seed import VIEW_SQL

    shutil.copy(source_db, database)
    offset = 1_000_000_000
    started = time.perf_counter()
    conn = duckdb.connect(str(database))
    try:
        # DuckDB's default memory limit is 80% of RAM: bound it (it spills to disk) on a shared machine.
        conn.execute("SET memory_limit = '3GB'")
        conn.execute("DROP VIEW IF EXISTS analytics.customer_features_monthly")
        rows = {}
        for table in ("customers", "customer_months", "plan_changes", "cancellations"):
            conn.execute(f"ALTER TABLE raw.{table} RENAME TO {table}_1x")
            # customer_months ordered by month: reading one month then skips the other months' row groups.
            order = "ORDER BY t.snapshot_month, k.range, t.customer_id" if table == "customer_months" else ""
            conn.execute(
                f"CREATE TABLE raw.{table} AS SELECT t.* REPLACE (t.customer_id + k.range * {offset} AS customer_id) "
                f"FROM raw.{table}_1x t, range({copies}) k {order}"
            )
            conn.execute(f"DROP TABLE raw.{table}_1x")
            rows[f"raw.{table}"] = conn.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0]
        conn.execute("UPDATE raw.data_as_of SET initial_customers = initial_customers * ?", [copies])
        conn.execute(VIEW_SQL)
        conn.execute("CHECKPOINT")
    finally:
        conn.close()
    return {"rows": rows, "seconds": round(time.perf_counter() - started, 1)}


def source_month_rows(database: Path, month: dt.date) -> int:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.execute(f"SELECT count(*) FROM {SOURCE_VIEW} WHERE snapshot_month = ?", [month]).fetchone()[0]


def simulator_fingerprint() -> str:
    """A hash of the simulator's source files: what a seeded source depends on besides its size."""
    import churn_assets.simulate as simulate

    files = sorted(Path(simulate.__file__).parent.glob("*.py"))
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:10]


def cached_source(cache: Path, customers: int, log=print) -> Path:
    """A seeded source of `customers` (5 months, see BENCH_MONTH), made once per cache folder.

    Up to 2M customers the simulator makes it; beyond, a 1M business is replicated in SQL
    (the simulator's peak is ~1.1 GB per million customers: see bench/README.md)."""
    cache.mkdir(parents=True, exist_ok=True)
    # Named by the simulator's code too: a changed simulator never reuses an older source.
    path = cache / f"source_{customers}_{simulator_fingerprint()}.duckdb"
    if path.exists():
        return path
    started = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    if customers <= 2_000_000:
        seed_source(tmp, customers)
        how = "simulator"
    else:
        if customers % 1_000_000:
            raise SystemExit("above 2M customers, --customers must be a multiple of 1,000,000 (replicated 1M business)")
        base = cached_source(cache, 1_000_000, log)
        replicate_source(base, tmp, customers // 1_000_000)
        how = f"1M business replicated x{customers // 1_000_000} in DuckDB SQL"
    tmp.rename(path)
    log(
        f"  (setup, untimed) source of {customers:,} customers x {SOURCE_MONTHS} months by {how}: "
        f"{time.perf_counter() - started:.0f}s, {path.stat().st_size / 1e6:,.0f} MB"
    )
    return path


# -- benchmark catalogues -----------------------------------------------------------------------------
def shipped_catalog() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "churn_assets" / "models.yaml").read_text())


def bench_catalog(
    models: tuple[str, ...] = ("churn",), all_features: bool = True, list_capacity: int = 5_000_000
) -> dict:
    """The shipped catalogue, cut down for one-month benchmarks.

    * horizon_months 1 and training_window_months 1 for every model: training at M reads the
      labels of M-1 only (one labelled month, so the holdout is the seeded stratified 20% split);
    * `all_features`: churn uses every feature of the source (25) instead of its 21;
    * list_capacity raised: the shipped capacities (8,000 calls) would fail a 1M-customer month's
      list by design, and a failed blocking gate would skip the publish step being measured.
    Every other key (params, seed, gates, exclusions) is as shipped."""
    raw = copy.deepcopy(shipped_catalog())
    raw["models"] = {name: raw["models"][name] for name in models}
    for name, body in raw["models"].items():
        body["horizon_months"] = 1
        body["training_window_months"] = 1
        body["gates"]["list_capacity"] = list_capacity
        if name == "churn" and all_features:
            body["features"] = list(ALL_FEATURES)
            body["categorical_features"] = list(ALL_CATEGORICAL)
    return raw


def many_models_catalog(count: int) -> dict:
    """`count` models (copies of the three shipped ones, renamed), as shipped otherwise: for load time."""
    raw = copy.deepcopy(shipped_catalog())
    shipped = list(raw["models"].items())
    raw["models"] = {}
    for i in range(count):
        name, body = shipped[i % len(shipped)]
        raw["models"][f"{name}_{i + 1:02d}"] = copy.deepcopy(body)
    return raw


def write_catalog(raw: dict, path: Path) -> Path:
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Generated by bench/_common.py for a benchmark; not a production catalogue.\n"
        + yaml.safe_dump(raw, sort_keys=False)
    )
    return path


# -- the pipeline through Dagster ------------------------------------------------------------------------
@contextlib.contextmanager
def environment(home: Path, catalog_path: Path):
    """CHURN_HOME and CHURN_MODELS pointed at a benchmark warehouse and catalogue for the block."""
    saved = {k: os.environ.get(k) for k in ("CHURN_HOME", "CHURN_MODELS", "CHURN_ENV")}
    os.environ.update({"CHURN_HOME": str(home), "CHURN_MODELS": str(catalog_path), "CHURN_ENV": "local"})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_pipeline(
    home: Path, catalog_path: Path, models: list[str], first: dt.date, last: dt.date, lines: list | None = None
):
    """Months `first`..`last` through a Dagster instance under `home`, exactly as `churn-assets run`
    does (monthly_run.run_months). Returns (RunReport, DagsterInstance)."""
    from dagster import DagsterInstance

    from churn_assets.catalog import load_catalog
    from churn_assets.environment import load_environment
    from churn_assets.monthly_run import run_months

    with environment(home, catalog_path):
        (home / "dagster").mkdir(parents=True, exist_ok=True)
        instance = DagsterInstance.local_temp(str(home / "dagster"))
        report = run_months(
            load_catalog(),
            load_environment("local"),
            instance,
            models=models,
            first=first,
            last=last,
            echo=(lines.append if lines is not None else (lambda _line: None)),
        )
    return report, instance


def step_windows(instance, run_id: str) -> dict[str, dict[str, Any]]:
    """Start, end, seconds and outcome of every step of a run, from the Dagster event log."""
    from dagster import DagsterEventType

    kinds = {
        DagsterEventType.STEP_START,
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.STEP_SKIPPED,
    }
    steps: dict[str, dict[str, Any]] = {}
    for entry in instance.all_logs(run_id, of_type=kinds):
        event = entry.dagster_event
        step = steps.setdefault(event.step_key, {})
        if event.event_type == DagsterEventType.STEP_START:
            step["start"] = entry.timestamp
        else:
            step["end"] = entry.timestamp
            step["outcome"] = event.event_type.value.removeprefix("STEP_").lower()
    for step in steps.values():
        if "start" in step and "end" in step:
            step["seconds"] = step["end"] - step["start"]
    return steps


def run_window(instance, run_id: str) -> tuple[float, float]:
    """Wall-clock start and end of a run (RUN_START .. RUN_SUCCESS/FAILURE)."""
    from dagster import DagsterEventType

    kinds = {DagsterEventType.RUN_START, DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE}
    times = [e.timestamp for e in instance.all_logs(run_id, of_type=kinds)]
    return min(times), max(times)


def stage_of(step_key: str) -> str:
    """'churn__model' -> 'churn/model', 'customers__snapshot' -> 'customers/snapshot'."""
    return step_key.replace("__", "/")


def fmt_mb(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} MB"


def fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} s"


# -- call-level breakdown (diagnostic) ------------------------------------------------------------------------
BREAKDOWN_TARGETS = [
    "churn_assets.warehouse.base:Warehouse.query",
    "churn_assets.warehouse.base:Warehouse.read_features",
    "churn_assets.warehouse.base:Warehouse.read_source_month",
    "churn_assets.warehouse.base:Warehouse.read_labels",
    "churn_assets.warehouse.base:Warehouse.replace_rows",
    "churn_assets.checks.contract:validate_snapshot",
    "churn_assets.modeling:frame_hash",
    "churn_assets.modeling:feature_schema",
    "churn_assets.modeling:feature_matrix",
    "churn_assets.modeling:train",
    "churn_assets.modeling:score",
    "churn_assets.modeling:evaluate",
    "churn_assets.warehouse.snapshots:training_frame",
    "churn_assets.model_versions:split_holdout",
    "churn_assets.warehouse.lists:month_predictions",
    "churn_assets.rules.lists:excluded_mask",
    "churn_assets.rules.lists:rank_scores",
    "churn_assets.rules.gates:business_gates",
    "churn_assets.warehouse.registry:register",
    "churn_assets.warehouse.registry:find_by_fingerprint",
    "churn_assets.warehouse.registry:champion_for",
    "pandas.util:hash_pandas_object",
]


class Breakdown:
    """Wraps the project's functions named in BREAKDOWN_TARGETS (at run time, in the benchmark's own
    process: no file is changed) to record each call's wall time and exact peak RSS (nested VmHWM
    resets). Diagnostic: the resets and bookkeeping cost a little time."""

    def __init__(self, targets=None):
        self.targets = targets or BREAKDOWN_TARGETS
        self.calls: list[dict] = []
        self.frames: list[dict] = [{"carry": 0.0}]
        self.patched: list[tuple[Any, str, Any]] = []
        self.depth = 0

    def _reset(self) -> None:
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")

    def wrap(self, name: str, function):
        import functools

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            parent = self.frames[-1]
            parent["carry"] = max(parent["carry"], peak_mb())
            self._reset()
            frame = {"carry": rss_mb()}
            self.frames.append(frame)
            before, started, wall = frame["carry"], time.perf_counter(), time.time()
            self.depth += 1
            try:
                return function(*args, **kwargs)
            finally:
                self.depth -= 1
                peak = max(frame["carry"], peak_mb())
                self.frames.pop()
                parent["carry"] = max(parent["carry"], peak)
                self.calls.append(
                    {
                        "name": name,
                        "start": wall,
                        "seconds": time.perf_counter() - started,
                        "rss_before_mb": before,
                        "rss_after_mb": rss_mb(),
                        "peak_rss_mb": peak,
                        "depth": self.depth,
                    }
                )

        wrapper.__wrapped_by_breakdown__ = True
        return wrapper

    def install(self) -> Breakdown:
        import importlib

        for target in self.targets:
            module_name, _, attr = target.partition(":")
            module = importlib.import_module(module_name)
            owner, _, leaf = attr.rpartition(".")
            holder = getattr(module, owner) if owner else module
            original = getattr(holder, leaf)
            wrapped = self.wrap(attr, original)
            self.patched.append((holder, leaf, original))
            setattr(holder, leaf, wrapped)
            if not owner:
                # Modules that did `from x import f` hold their own reference: patch those too.
                for other in list(sys.modules.values()):
                    if (
                        getattr(other, "__name__", "").startswith("churn_assets")
                        and getattr(other, leaf, None) is original
                    ):
                        self.patched.append((other, leaf, original))
                        setattr(other, leaf, wrapped)
        return self

    def uninstall(self) -> None:
        for holder, leaf, original in reversed(self.patched):
            setattr(holder, leaf, original)
        self.patched.clear()

    def overall_peak(self) -> float:
        return max(self.frames[0]["carry"], peak_mb())


def print_breakdown(calls: list[dict], steps: dict) -> None:
    """Calls grouped by the Dagster step they ran in: count, total seconds, largest peak and growth."""

    def step_of(t: float) -> str:
        for key, s in steps.items():
            if s.get("start", 0) <= t <= s.get("end", float("inf")):
                return stage_of(key)
        return "(outside steps)"

    groups: dict[tuple[str, str], dict] = {}
    for call in calls:
        g = groups.setdefault(
            (step_of(call["start"]), call["name"]),
            {"n": 0, "seconds": 0.0, "peak": 0.0, "grow": 0.0, "first": call["start"], "depth": call["depth"]},
        )
        g["n"] += 1
        g["seconds"] += call["seconds"]
        g["peak"] = max(g["peak"], call["peak_rss_mb"])
        g["grow"] = max(g["grow"], call["peak_rss_mb"] - call["rss_before_mb"])
        g["depth"] = min(g["depth"], call["depth"])
    print(f"\n    {'step / call':<58}{'calls':>6}{'seconds':>10}{'peak RSS':>12}{'peak - RSS before':>20}")
    current = None
    for (step, name), g in sorted(groups.items(), key=lambda kv: kv[1]["first"]):
        if step != current:
            print(f"    {step}")
            current = step
        print(
            f"      {'  ' * g['depth'] + name:<56}{g['n']:>6}{g['seconds']:>9.1f}s{g['peak']:>10,.0f} "
            f"MB{g['grow']:>17,.0f} MB"
        )


# -- child processes: preparing a warehouse, timing one month through Dagster -------------------------------
def add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def warm_imports() -> None:
    """Import everything a month uses before the clock starts (import time is load.py's subject)."""
    import duckdb  # noqa: F401
    import scipy.stats  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    import xgboost  # noqa: F401

    import churn_assets  # noqa: F401  (dagster and the asset factories)
    from churn_assets.checks import contract
    from churn_assets.monthly_run import run_months  # noqa: F401

    contract._validator()  # the Great Expectations context, built once per process
    # The SQLite instance's storage modules (sqlalchemy, alembic): a real `churn-assets run` imports
    # them once per process, before its first month; a throwaway instance imports the same ones.
    import tempfile

    from dagster import DagsterInstance

    with tempfile.TemporaryDirectory() as folder, DagsterInstance.local_temp(folder):
        pass


# Every module of churn_assets/assets that builds an asset (an asset added later is timed too).
ASSET_MODULES = sorted(
    p.stem for p in (ROOT / "churn_assets" / "assets").glob("*.py") if p.stem not in {"__init__", "common", "retries"}
)
# The assets that look back (drift against last month, outcome of an earlier list, the report):
# work the bare path does not do, printed apart from the bodies it is compared with.
LOOKING_BACK = ("feature_drift", "list_outcome", "monthly_report")


class BodyTimer:
    """Times the project's own code inside every asset body (at run time, in the benchmark's
    process: no file changes). Every body is wrapped by `fail_fast_unless_transient` when the
    definitions are built; this swaps in a version that also sums the time spent in the body, and
    for the gated assets (generators) only inside each `next()`, not while Dagster handles what was
    yielded. What a run spends outside the bodies is Dagster's own work."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def install(self) -> BodyTimer:
        import functools
        import importlib
        import inspect

        from churn_assets.assets import retries

        def timed(fn):
            name = fn.__name__
            guarded = retries.fail_fast_unless_transient(fn)
            if inspect.isgeneratorfunction(fn):

                @functools.wraps(fn)
                def generator(*args, **kwargs):
                    inner = guarded(*args, **kwargs)
                    while True:
                        started = time.perf_counter()
                        try:
                            item = next(inner)
                        except StopIteration:
                            return
                        finally:
                            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
                        yield item

                return generator

            @functools.wraps(fn)
            def body(*args, **kwargs):
                started = time.perf_counter()
                try:
                    return guarded(*args, **kwargs)
                finally:
                    self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

            return body

        for name in ASSET_MODULES:
            module = importlib.import_module(f"churn_assets.assets.{name}")
            module.fail_fast_unless_transient = timed
        return self


def dagster_month(
    home: Path,
    catalog_path: Path,
    models: list[str],
    first: dt.date,
    last: dt.date | None = None,
    rss_file: Path | None = None,
    kill_above_mb: float | None = None,
) -> dict:
    """Months first..last through Dagster (run_months), with the wall time and sampled peak RSS of
    every step of the last month's run."""
    lines: list[str] = []
    with RssSampler(path=rss_file, kill_above_mb=kill_above_mb) as sampler:
        started = time.time()
        report, instance = run_pipeline(home, catalog_path, models, first, last or first, lines)
        ended = time.time()
    outcome = report.months[-1]
    steps = step_windows(instance, outcome.run_id)
    run_start, run_end = run_window(instance, outcome.run_id)
    for step in steps.values():
        if "start" in step and "end" in step:
            step["peak_rss_mb"] = sampler.peak_between(step["start"], step["end"])
            step["cpu_seconds"] = sampler.cpu_between(step["start"], step["end"])
    return {
        "published_digests": {
            m: published_digest(home / "warehouse.duckdb", "churn", m, last or first) for m in models
        },
        "steps": steps,
        "run_seconds": run_end - run_start,
        "before_run_seconds": run_start - started if len(report.months) == 1 else None,
        "after_run_seconds": ended - run_end,
        "success": report.all_succeeded,
        "published_all": all(
            m.status.startswith(("published", "snapshot only")) for o in report.months for m in o.models
        ),
        "lines": lines,
        "models": [vars(m) for m in outcome.models],
        "snapshot_rows": outcome.snapshot_rows,
        "sampled_peak_mb": max((mb for _, mb in sampler.samples), default=None),
    }


def published_digest(database: Path, schema: str, model: str, month: dt.date) -> str | None:
    """sha256 of a month's published list (customer, rank, score), None if nothing was published:
    two paths that did the same work publish the same digest."""
    import duckdb

    with duckdb.connect(str(database), read_only=True) as conn:
        if not conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, "published_predictions"],
        ).fetchone()[0]:
            return None
        rows = conn.execute(
            f"SELECT customer_id, rank, score FROM {schema}.published_predictions "
            "WHERE model = ? AND month = ? ORDER BY customer_id",
            [model, month],
        ).fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest() if rows else None


def child(args: list[str], watchdog_file: Path | None = None) -> tuple[int, dict | None]:
    """Run `python bench/_common.py ARGS` and return (exit code, its JSON result or None)."""
    out = Path(tempfile.mkstemp(prefix="child-", suffix=".json")[1])
    try:
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args, "--out", str(out)])
        text = out.read_text()
        return done.returncode, (json.loads(text) if text else None)
    finally:
        out.unlink(missing_ok=True)


def steps_of_last_run(home: Path) -> dict:
    """Step windows of the latest run in the Dagster instance under `home` (e.g. after a kill)."""
    from dagster import DagsterInstance

    instance = DagsterInstance.local_temp(str(home / "dagster"))
    runs = instance.get_runs(limit=1)
    return step_windows(instance, runs[0].run_id) if runs else {}


def prepared_instance(prepared: Path) -> Path:
    """The Dagster instance (SQLite, run history of months M-2 and M-1) kept beside a prepared warehouse."""
    return prepared.with_name(prepared.stem + "_dagster")


class PreparationFailed(RuntimeError):
    """Months M-2 / M-1 could not be materialised (the message says where, and the watchdog's figure)."""


def prepared_warehouse(
    cache: Path, customers: int, catalog_raw: dict, models: list[str], max_rss_mb: float | None = None, log=print
) -> tuple[Path, dict | None]:
    """The source plus months M-2 (snapshot) and M-1 (every asset) materialised through Dagster, so
    that month M trains on M-1 and its gates compare with a published M-1 list. Cached per size,
    catalogue and model set; made in a child process (guarded by the RSS watchdog). Returns the
    warehouse file and, when it was made now, the figures of the M-1 run (None from the cache)."""
    key = [catalog_raw, models, simulator_fingerprint()]
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:10]
    path = cache / f"prepared_{customers}_{digest}.duckdb"
    if path.exists() and prepared_instance(path).is_dir():
        return path, None
    source = cached_source(cache, customers, log)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        home = Path(tmp)
        shutil.copy(source, home / "warehouse.duckdb")
        catalog_path = write_catalog(catalog_raw, home / "models.yaml")
        args = [
            "prepare",
            "--home",
            str(home),
            "--catalog",
            str(catalog_path),
            "--models",
            ",".join(models),
            "--rss-file",
            str(home / "rss.txt"),
        ]
        if max_rss_mb:
            args += ["--max-rss-mb", str(max_rss_mb)]
        code, result = child(args)
        if code != 0 or not result or not result["success"] or not result["published_all"]:
            killed = killed_by_watchdog(home / "rss.txt")
            if killed:
                running = [k for k, s in steps_of_last_run(home).items() if "end" not in s]
                steps = steps_of_last_run(home)
                seconds = {
                    stage_of(k): round(time.time() - s["start"], 1) if "end" not in s else round(s.get("seconds", 0), 1)
                    for k, s in steps.items()
                }
                raise PreparationFailed(
                    f"preparing months M-2 and M-1 at {customers:,} customers: killed by the watchdog at "
                    f"{killed[1]:,.0f} MB RSS (> {max_rss_mb:,.0f} MB) during {[stage_of(k) for k in running]} "
                    f"(steps so far, seconds: {seconds})"
                )
            print("\n".join((result or {}).get("lines", [])))
            raise PreparationFailed(
                f"preparing months M-2 and M-1 at {customers:,} customers failed (exit {code}; see above)"
            )
        # The instance that recorded M-2 and M-1 is kept too: month M runs on it, as a monthly run
        # does (creating a new SQLite instance costs ~1 s that only the very first month pays).
        shutil.rmtree(prepared_instance(path), ignore_errors=True)
        shutil.copytree(home / "dagster", prepared_instance(path))
        shutil.copy(home / "warehouse.duckdb", path)
    log(
        f"  (setup, untimed) months {add_months(BENCH_MONTH, -2)} and {add_months(BENCH_MONTH, -1)} materialised for "
        f"{', '.join(models)}: {time.perf_counter() - started:.0f}s"
    )
    return path, result


def _child_main(argv=None) -> int:
    """Entry point of the child processes (not a benchmark): `prepare` and `month`."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["prepare", "month"])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--catalog", type=Path, required=True)
    parser.add_argument("--models", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rss-file", type=Path)
    parser.add_argument("--max-rss-mb", type=float)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--breakdown", action="store_true")
    args = parser.parse_args(argv)
    models = args.models.split(",")
    warm_imports()
    breakdown = Breakdown().install() if args.breakdown else None
    bodies = BodyTimer().install()
    reset_peak()
    baseline = rss_mb()
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.01)
        profiler.start()
    started = time.perf_counter()
    cpu_started = time.process_time()
    if args.what == "prepare":
        result = dagster_month(
            args.home,
            args.catalog,
            models,
            add_months(BENCH_MONTH, -2),
            add_months(BENCH_MONTH, -1),
            args.rss_file,
            args.max_rss_mb,
        )
    else:
        result = dagster_month(args.home, args.catalog, models, BENCH_MONTH, None, args.rss_file, args.max_rss_mb)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    peak = breakdown.overall_peak() if breakdown else peak_mb()
    if profiler:
        profiler.stop()
        args.profile.parent.mkdir(parents=True, exist_ok=True)
        args.profile.with_suffix(".txt").write_text(profiler.output_text(unicode=False, color=False))
        args.profile.with_suffix(".html").write_text(profiler.output_html())
    if breakdown:
        result["calls"] = breakdown.calls
    result["bodies_seconds"] = bodies.seconds
    args.out.write_text(
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
    return 0


def timed_month(
    prepared: Path,
    catalog_path: Path,
    models: list[str],
    work: Path,
    max_rss_mb: float | None = None,
    profile: Path | None = None,
    breakdown: bool = False,
) -> dict:
    """Month M through Dagster in a fresh child process on a copy of `prepared`: wall time, exact
    peak RSS (VmHWM), per-step time and sampled peak. A watchdog kill is reported, not raised."""
    home = Path(tempfile.mkdtemp(dir=work))
    try:
        shutil.copy(prepared, home / "warehouse.duckdb")
        shutil.copytree(prepared_instance(prepared), home / "dagster")
        args = [
            "month",
            "--home",
            str(home),
            "--catalog",
            str(catalog_path),
            "--models",
            ",".join(models),
            "--rss-file",
            str(home / "rss.txt"),
        ]
        if max_rss_mb:
            args += ["--max-rss-mb", str(max_rss_mb)]
        if profile:
            args += ["--profile", str(profile)]
        if breakdown:
            args.append("--breakdown")
        code, result = child(args)
        if code == 0 and result:
            return result
        killed = killed_by_watchdog(home / "rss.txt")
        steps = steps_of_last_run(home)
        samples = read_samples(home / "rss.txt")
        for step in steps.values():
            values = [mb for t, mb in samples if step.get("start", 0) <= t <= step.get("end", float("inf"))]
            step["peak_rss_mb"] = max(values) if values else None
        return {
            "failed": True,
            "exit_code": code,
            "killed_at": killed,
            "steps": steps,
            "running": [k for k, s in steps.items() if "end" not in s],
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(_child_main())
