"""Warehouse access: one resource per engine (DuckDB locally, Snowflake in dev/prod)."""

from churn_assets.warehouse.base import Warehouse, WarehouseError
from churn_assets.warehouse.duckdb import DuckDBWarehouse

__all__ = ["DuckDBWarehouse", "Warehouse", "WarehouseError"]
