"""churn_assets: the monthly life of customer classification models as Dagster assets."""

from dagster import Definitions, definitions

__version__ = "0.1.0"


@definitions
def defs() -> Definitions:
    """The code location's entry point, built when Dagster loads it (not at import): the
    catalogue and CHURN_ENV are read then, a bad one is reported by the loader, and importing the
    package (e.g. for the CLI) costs only Dagster's own import."""
    from churn_assets.definitions import build_definitions

    return build_definitions()


__all__ = ["__version__", "defs"]
