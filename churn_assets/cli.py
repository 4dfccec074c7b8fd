"""`churn-assets`: what Dagster's own CLI does not do (seed the sample business, run months in order).

Errors a user can fix are one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path


class UsageError(Exception):
    """A problem with the command line or the setup that the user can fix."""


def build_parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per job (`churn-assets --help` lists them)."""
    parser = argparse.ArgumentParser(prog="churn-assets", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    _add_seed(commands)
    _add_run(commands)
    _add_incident(commands)
    _add_validate(commands)
    _add_export_predictions(commands)
    _add_champion(commands)
    commands.add_parser("check", help="check the catalogue against the sources of CHURN_ENV")
    commands.add_parser(
        "migrate",
        help="bring the warehouse tables of CHURN_ENV to the current types and columns (month columns as DATE, "
        "the published list's reason columns)",
    )
    sql = commands.add_parser("sql", help="run a read-only SQL query on the local warehouse and print the result")
    sql.add_argument("query")
    return parser


def _add_seed(commands) -> None:
    """`churn-assets seed`: the simulated sample business's size, months and random seed."""
    seed = commands.add_parser("seed", help="write the simulated sample business into the local DuckDB warehouse")
    seed.add_argument("--customers", type=int, default=50_000, help="customers in the first month (default 50,000)")
    seed.add_argument(
        "--months",
        type=int,
        help="monthly snapshots to simulate (default: from the catalogue's partitions_start to the end month, so "
        "the UI's partitions and the data begin together)",
    )
    seed.add_argument("--seed", type=int, default=7, help="random seed (same seed, same business)")
    seed.add_argument("--end-month", help="last simulated month, YYYY-MM (default: last completed month)")
    seed.add_argument("--if-missing", action="store_true", help="do nothing if the warehouse already holds the source")


def _add_run(commands) -> None:
    """`churn-assets run`: which models and months to run."""
    run = commands.add_parser("run", help="materialise every month in order, for every model, and print a summary")
    run.add_argument("--models", help="comma-separated model names (default: every model of the catalogue)")
    run.add_argument("--from", dest="first", help="first month, YYYY-MM (default: first month of the source)")
    run.add_argument("--to", dest="last", help="last month, YYYY-MM (default: last month of the source)")
    run.add_argument("--force-snapshot", action="store_true", help="replace past snapshots whose source changed")
    run.add_argument("--verbose", action="store_true", help="show Dagster's event log")


def _add_incident(commands) -> None:
    """`churn-assets incident`: which incident, in which month and column."""
    incident = commands.add_parser("incident", help="break the local source the way real incidents do (or 'reset')")
    incident.add_argument("name", help="an incident name, 'list', or 'reset'")
    incident.add_argument("--month", help="month the incident hits, YYYY-MM (default: the source's latest month)")
    incident.add_argument("--column", default="tenure_months", help="column for missing-column / renamed-column")


def _add_validate(commands) -> None:
    """`churn-assets validate`: the model whose thresholds apply and the two months of predictions."""
    validate = commands.add_parser(
        "validate", help="the Validation stage: business-rule gates on two months of predictions"
    )
    validate.add_argument("--model", default="churn", help="catalogue model whose thresholds apply (default churn)")
    validate.add_argument(
        "--val-model-version", type=int, help="the model version the current predictions must come from"
    )
    validate.add_argument(
        "--prev-month-preds", help="previous month: .parquet/.csv file or warehouse:<model>/<YYYY-MM>"
    )
    validate.add_argument(
        "--curr-month-preds", required=True, help="current month: .parquet/.csv file or warehouse:<model>/<YYYY-MM>"
    )


def _add_export_predictions(commands) -> None:
    """`churn-assets export-predictions`: which model and month, into which file."""
    export = commands.add_parser("export-predictions", help="write one month's stored predictions of a model to a file")
    export.add_argument("--model", default="churn", help="catalogue model (default churn)")
    export.add_argument("--month", required=True, help="month, YYYY-MM")
    export.add_argument("--out", required=True, help="file to write: .parquet or .csv")


def _add_champion(commands) -> None:
    """`churn-assets champion`: which model and month."""
    champion = commands.add_parser(
        "champion", help="print the version of a model that is champion for a month (the one that scores it)"
    )
    champion.add_argument("--model", default="churn", help="catalogue model (default churn)")
    champion.add_argument("--month", required=True, help="month, YYYY-MM")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {
            "seed": _seed,
            "run": _run,
            "sql": _sql,
            "incident": _incident,
            "validate": _validate,
            "export-predictions": _export_predictions,
            "champion": _champion,
            "check": _check,
            "migrate": _migrate,
        }[args.command](args)
    except UsageError as exc:
        print(f"churn-assets: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # A place that cannot be created, read or written (CHURN_HOME, --out, ...): one line, not a traceback.
        where = f": {exc.filename}" if exc.filename else ""
        print(f"churn-assets: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except Exception as exc:
        if _is_lock_error(exc):
            print(f"churn-assets: error: {LOCKED}", file=sys.stderr)
            return 2
        raise


LOCKED = (
    "the local warehouse is locked by another process (a `churn-assets run`, `make ui` run or `sql` "
    "still writing); wait for it to finish and try again"
)


def _is_lock_error(exc: BaseException) -> bool:
    from churn_assets.warehouse.duckdb import is_lock_error

    return is_lock_error(exc)


def _month_arg(value: str | None, flag: str) -> dt.date | None:
    from churn_assets.rules.months import parse_month

    if value is None:
        return None
    try:
        return parse_month(value)
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from None


def _load():
    """Catalogue and environment, with their errors as one-line usage errors."""
    from churn_assets.catalog import CatalogError, load_catalog
    from churn_assets.environment import load_environment
    from churn_assets.errors import SettingsError

    try:
        return load_catalog(), load_environment()
    except (CatalogError, SettingsError) as exc:
        raise UsageError(str(exc)) from None


def _seed(args) -> int:
    from churn_assets.rules.months import add_months, last_completed_month, month_range
    from churn_assets.simulate import seed_duckdb

    catalog, environment = _load()
    if environment.name != "local":
        raise UsageError("seed writes the simulated business into the local DuckDB warehouse only (CHURN_ENV=local)")
    end_month = _month_arg(args.end_month, "--end-month") or last_completed_month()
    # The months the catalogue's partitions cover up to the end month: a seeded month before
    # partitions_start would be data no partition reads.
    at_most = len(month_range(catalog.partitions_start, end_month))
    if args.months is None:
        args.months = at_most
        if args.months < 1:
            raise UsageError(
                f"the catalogue's partitions_start {catalog.partitions_start} is after the end month {end_month}"
            )
    if args.customers < 1 or args.months < 1:
        raise UsageError("--customers and --months must be positive")
    if args.months > at_most:
        raise UsageError(
            f"--months {args.months} would begin in {add_months(end_month, 1 - args.months):%Y-%m}, before the "
            f"catalogue's partitions_start {catalog.partitions_start}: at most {max(at_most, 0)} months end in "
            f"{end_month:%Y-%m}" + ("" if args.end_month else " (the last completed month)")
        )
    if args.seed < 0:
        raise UsageError(f"--seed must be 0 or more, got {args.seed}")
    _check_seed_fits_in_memory(args.customers, args.months)
    _ensure_home()
    database = Path(environment.warehouse.database)
    if args.if_missing and _source_exists(environment):
        print(f"Sample business already seeded in {database} (delete it or run `churn-assets seed` to re-seed)")
        return 0
    started = time.perf_counter()
    summary = seed_duckdb(
        database,
        customers=args.customers,
        months=args.months,
        seed=args.seed,
        end_month=end_month,
        progress=lambda message: print(f"  seed: {message}", flush=True),
    )
    print(
        f"Seeded {database} in {time.perf_counter() - started:.1f}s: {summary['customers_total']:,} customers, "
        f"{summary['rows']['raw.customer_months']:,} customer-months, {summary['first_month']:%Y-%m} .. "
        f"{summary['as_of_month']:%Y-%m}; source view {summary['view']}"
    )
    return 0


# Measured (peak RSS of `seed`: 442 MB at 0.61M customer-months, 582 MB at 1.21M): about 230 bytes
# per customer-month above a ~300 MB base; the business grows ~10% over the months simulated.
SEED_BASE_BYTES, SEED_BYTES_PER_CUSTOMER_MONTH = 300e6, 250


def _check_seed_fits_in_memory(customers: int, months: int) -> None:
    """Refuse a size that cannot fit before allocating anything (10^12 customers once tried 7 TiB)."""
    needed = SEED_BASE_BYTES + SEED_BYTES_PER_CUSTOMER_MONTH * customers * months * 1.1
    try:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return  # no way to tell on this system: let the allocation speak
    if needed > available:
        raise UsageError(
            f"--customers {customers:,} x --months {months} needs about {needed / 2**30:,.0f} GiB of memory; "
            f"this machine has {available / 2**30:,.0f} GiB (try fewer customers or months)"
        )


def _incident(args) -> int:
    from churn_assets.simulate.incidents import INCIDENTS, apply_incident, reset

    if args.name == "list":
        for name, (description, _) in INCIDENTS.items():
            print(f"{name:<26} {description}")
        return 0
    _, environment = _load()
    if environment.name != "local":
        raise UsageError("incidents change the local sample business only (CHURN_ENV=local)")
    if not _source_exists(environment):
        raise UsageError("the local source is empty: run `churn-assets seed` first")
    database = environment.warehouse.database
    if args.name == "reset":
        reset(database)
        print("Source view restored: analytics.customer_features_monthly is clean again")
        return 0
    if args.name not in INCIDENTS:
        raise UsageError(f"unknown incident {args.name!r}; known: {', '.join(INCIDENTS)}, or reset / list")
    month = _month_arg(args.month, "--month")
    if month is None:
        month = pd_month(
            environment.warehouse.query("SELECT max(snapshot_month) AS m FROM analytics.customer_features_monthly")[
                "m"
            ].iloc[0]
        )
    import duckdb

    try:
        print("Incident applied: " + apply_incident(database, args.name, month, column=args.column))
    except (ValueError, duckdb.Error) as exc:
        raise UsageError(str(exc).strip().splitlines()[0]) from None
    print(
        f"Run the month to see which gate stops it: churn-assets run --from {month:%Y-%m} --to {month:%Y-%m}; "
        "undo with: churn-assets incident reset"
    )
    return 0


def _validate(args) -> int:
    from churn_assets.validation import (
        PredictionInputError,
        check_month_pair,
        format_verdict,
        load_predictions,
        validate_months,
    )

    catalog, environment = _load()
    if args.model not in catalog.models:
        raise UsageError(f"--model: unknown model {args.model!r}; the catalogue has {sorted(catalog.models)}")
    spec = catalog.models[args.model]
    for flag, value in (("--prev-month-preds", args.prev_month_preds), ("--curr-month-preds", args.curr_month_preds)):
        # An empty value is a mistake, not "no previous month" (which would judge no overlap at all).
        if value is not None and not value.strip():
            raise UsageError(f"{flag} is empty; give a .parquet/.csv file or warehouse:<model>/<YYYY-MM>")
    try:
        current = load_predictions(args.curr_month_preds, environment.warehouse)
        previous = load_predictions(args.prev_month_preds, environment.warehouse) if args.prev_month_preds else None
        warnings = check_month_pair(args.prev_month_preds, args.curr_month_preds, previous, current) if previous else []
    except PredictionInputError as exc:
        raise UsageError(str(exc)) from None
    for line in warnings:
        print(line, file=sys.stderr)
    results = validate_months(spec, args.val_model_version, previous, current)
    print(format_verdict(spec, results))
    return 0 if all(r.passed for r in results) else 1


def pd_month(value) -> dt.date:
    import pandas as pd

    return pd.Timestamp(value).date()


def _source_exists(environment) -> bool:
    try:
        return bool(
            environment.warehouse.query("SELECT count(*) AS n FROM analytics.customer_features_monthly")["n"].iloc[0]
        )
    except Exception:  # noqa: BLE001 - no database or no view yet both mean "not seeded"
        return False


def _ensure_home() -> Path:
    """CHURN_HOME, created if needed; one line naming it when it cannot be."""
    from churn_assets.environment import churn_home

    home = churn_home()
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / ".write-test"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"CHURN_HOME={home} cannot be used for local state ({exc.strerror})") from None
    return home


def _dagster_instance():
    """The persistent local Dagster instance (runs show up in `make ui`)."""
    from dagster import DagsterInstance

    from churn_assets.environment import churn_home
    from churn_assets.local_instance import prepare_local_instance

    home = prepare_local_instance(Path(os.environ.get("DAGSTER_HOME") or churn_home() / "dagster"))
    os.environ["DAGSTER_HOME"] = str(home)
    return DagsterInstance.get()


def _run(args) -> int:
    from churn_assets.monthly_run import run_months

    catalog, environment = _load()
    names = list(catalog.models) if args.models is None else [m.strip() for m in args.models.split(",")]
    if not all(names):
        # '' is not "every model" (that is leaving --models out); an empty name is a typo.
        raise UsageError(
            f"--models {args.models!r}: an empty model name; give comma-separated names, e.g. "
            f"--models {','.join(sorted(catalog.models)[:2])}, or leave --models out for every model"
        )
    unknown = [n for n in names if n not in catalog.models]
    if unknown:
        raise UsageError(f"--models: unknown model(s) {unknown}; the catalogue has {sorted(catalog.models)}")
    first, last = _month_arg(args.first, "--from"), _month_arg(args.last, "--to")
    if first and last and first > last:
        raise UsageError(f"--from {first} is after --to {last}")
    if environment.name == "local" or not os.environ.get("DAGSTER_HOME"):
        _ensure_home()  # the warehouse (local) and the Dagster instance (unless DAGSTER_HOME) live there
    try:
        report = run_months(
            catalog,
            environment,
            _dagster_instance(),
            models=names,
            first=first,
            last=last,
            force_snapshot=args.force_snapshot,
            verbose=args.verbose,
            echo=lambda line: print(line, flush=True),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return 0 if report.all_succeeded else 1


# Reads wait this long for a writer (a run's step) to release the warehouse before giving up.
SQL_LOCK_WAIT_SECONDS = 5.0


def _sql(args) -> int:
    import pandas as pd

    _, environment = _load()
    if environment.name != "local":
        raise UsageError("sql queries the local DuckDB warehouse only; use Snowflake's own tools for dev and prod")
    if not args.query.strip():
        raise UsageError(
            'the query is empty; e.g. churn-assets sql "SELECT * FROM churn.published_predictions LIMIT 5"'
        )
    database = Path(environment.warehouse.database)
    if not database.is_file():
        raise UsageError(f"no local warehouse at {database} yet: run `churn-assets seed` (or `make run`) first")
    try:
        frame = query_warehouse_read_only(str(database), args.query)
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 - the database's own message is the useful part
        raise UsageError(str(exc).strip().splitlines()[0]) from None
    with pd.option_context("display.max_rows", 200, "display.width", 200):
        print(frame.to_string(index=False))
    return 0


def query_warehouse_read_only(database: str, query: str):
    """Run `query` on the warehouse file and nothing else: read-only, and with DuckDB's access to
    files and the network switched off (no COPY ... TO a path, no read_text('/etc/...'), no ATTACH),
    locked so the query cannot switch it back on. A writer holding the file is waited for briefly."""
    import duckdb

    from churn_assets.warehouse.duckdb import connect_when_free

    config = {"enable_external_access": False, "lock_configuration": True}
    try:
        conn = connect_when_free(
            database, wait_seconds=SQL_LOCK_WAIT_SECONDS, max_delay=1.0, locks_only=True, read_only=True, config=config
        )
    except duckdb.IOException as exc:
        if not _is_lock_error(exc):
            raise
        raise UsageError(
            f"a run is writing the warehouse (waited {SQL_LOCK_WAIT_SECONDS:.0f} s for its lock); try again "
            "when it has finished"
        ) from None
    with conn:
        result = conn.execute(query)
        if result.description is None:
            raise UsageError("the statement returns no rows; sql runs read-only queries (SELECT, DESCRIBE, ...)")
        return result.df()


def _champion(args) -> int:
    """Only the number on stdout: the pipeline's Train stage hands it to Validation."""
    from churn_assets.warehouse.registry import champion_for

    catalog, environment = _load()
    if args.model not in catalog.models:
        raise UsageError(f"--model: unknown model {args.model!r}; the catalogue has {sorted(catalog.models)}")
    month = _month_arg(args.month, "--month")
    version = champion_for(environment.warehouse, args.model, month)
    if version is None:
        raise UsageError(f"model {args.model!r} has no champion for {month} in CHURN_ENV={environment.name}")
    print(version.version)
    return 0


def _export_predictions(args) -> int:
    import pandas as pd

    from churn_assets.warehouse.lists import month_predictions

    catalog, environment = _load()
    if args.model not in catalog.models:
        raise UsageError(f"--model: unknown model {args.model!r}; the catalogue has {sorted(catalog.models)}")
    month = _month_arg(args.month, "--month")
    out = Path(args.out)
    if out.suffix.lower() not in {".parquet", ".csv"}:
        raise UsageError(f"--out: {out} must end in .parquet or .csv")
    predictions = month_predictions(environment.warehouse, args.model, month)
    if not len(predictions.ids):
        raise UsageError(
            f"no predictions stored for model {args.model!r} and month {month} in CHURN_ENV={environment.name}"
        )
    frame = pd.DataFrame(
        {
            "customer_id": predictions.ids,
            "score": predictions.scores,
            "rank": predictions.ranks,
            "month": month,
            "model_version": predictions.model_version,
        }
    )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out: cannot create the folder {out.parent} ({exc.strerror})") from None
    if out.suffix.lower() == ".parquet":
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False)
    print(f"Wrote {len(frame):,} predictions of {args.model} for {month} (CHURN_ENV={environment.name}) to {out}")
    return 0


def _check(args) -> int:
    from churn_assets.catalog import CatalogError
    from churn_assets.definitions import check_sources
    from churn_assets.warehouse.files import FileSourceError

    catalog, environment = _load()
    try:
        unchecked = check_sources(catalog, environment, types=True)
    except (CatalogError, FileSourceError) as exc:
        raise UsageError(str(exc)) from None
    for line in unchecked:
        print(line)
    checked = len(catalog.sources) - len(unchecked)
    print(
        f"{catalog.path}: {len(catalog.models)} model(s) valid; columns and types checked against "
        f"{checked} of {len(catalog.sources)} source(s) of CHURN_ENV={environment.name}"
    )
    if unchecked:
        print("Not every source could be checked (locally: `churn-assets seed`, or load it with `churn-assets run`).")
        return 1
    return 0


def _migrate(args) -> int:
    _, environment = _load()
    from churn_assets.reasons import REASON_SQL_TYPES
    from churn_assets.warehouse.lists import PUBLISHED

    done = environment.warehouse.migrate_date_columns()
    # The published list's value, expected loss and reasons (NULL for months published before them).
    done += environment.warehouse.add_missing_columns(
        PUBLISHED, {"value": "DOUBLE", "expected_loss": "DOUBLE", **REASON_SQL_TYPES}
    )
    for line in done:
        print(line)
    print(f"Warehouse of CHURN_ENV={environment.name} is up to date ({len(done)} column(s) migrated)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
