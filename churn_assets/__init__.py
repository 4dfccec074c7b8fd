"""churn_assets: the monthly life of customer classification models as Dagster assets."""

import os

# OpenMP threads (XGBoost, scikit-learn) spin while they wait by default: on a machine where
# another process holds a core, training with 2 threads was measured 60x slower than with 1
# (25 s vs 0.4 s). Passive waiting removes that (0.39 s) and costs nothing when the machine is idle.
# Set before any OpenMP runtime loads; an explicit OMP_WAIT_POLICY still wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from dagster import Definitions, definitions  # noqa: E402

__version__ = "0.1.0"


_built: dict[tuple, Definitions] = {}


@definitions
def defs() -> Definitions:
    """The code location's entry point, built when Dagster loads it (not at import): the
    catalogue and CHURN_ENV are read then, a bad one is reported by the loader, and importing the
    package (e.g. for the CLI) costs only Dagster's own import.

    Dagster calls this more than once while loading a location (to find it, then to rebuild the
    repository); the build is kept per settings and catalogue file, so it runs once."""
    from churn_assets.catalog import catalog_path
    from churn_assets.definitions import build_definitions

    catalog = catalog_path()
    stat = catalog.stat() if catalog.exists() else None
    key = (
        tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("CHURN_"))),
        str(catalog.resolve()),
        (stat.st_mtime_ns, stat.st_size) if stat else None,
    )
    if key not in _built:
        _built[key] = build_definitions()
    return _built[key]


__all__ = ["__version__", "defs"]
