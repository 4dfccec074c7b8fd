"""Warehouse access: one resource per engine (DuckDB locally, Snowflake in dev/prod)."""

from churn_assets.warehouse.base import Warehouse, WarehouseError
from churn_assets.warehouse.duckdb import DuckDBWarehouse

__all__ = ["DuckDBWarehouse", "SnowflakeWarehouse", "Warehouse", "WarehouseError"]


def __getattr__(name: str):
    # Loaded on first use: only dev and prod need it (it imports no Snowflake library either way).
    if name == "SnowflakeWarehouse":
        from churn_assets.warehouse.snowflake import SnowflakeWarehouse

        return SnowflakeWarehouse
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
