"""churn_assets: the monthly life of customer classification models as Dagster assets."""

import os

# OpenMP threads (XGBoost, scikit-learn) spin while they wait by default: on a machine where
# another process holds a core, training with 2 threads was measured 60x slower than with 1
# (25 s vs 0.4 s). Passive waiting removes that (0.39 s) and costs nothing when the machine is idle.
# Set before any OpenMP runtime loads; an explicit OMP_WAIT_POLICY still wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from dagster import Definitions, definitions  # noqa: E402

__version__ = "0.1.0"


@definitions
def defs() -> Definitions:
    """The code location's entry point, built when Dagster loads it (not at import): the
    catalogue and CHURN_ENV are read then, a bad one is reported by the loader, and importing the
    package (e.g. for the CLI) costs only Dagster's own import."""
    from churn_assets.definitions import build_definitions

    return build_definitions()


__all__ = ["__version__", "defs"]
