"""churn_assets: the monthly life of customer classification models as Dagster assets."""

__version__ = "0.1.0"

from churn_assets.definitions import defs  # noqa: E402  (the code location's entry point)

__all__ = ["defs", "__version__"]
