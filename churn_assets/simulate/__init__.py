"""Simulated subscription business used to seed a local DuckDB warehouse."""

from churn_assets.simulate.business import simulate_business
from churn_assets.simulate.seed import VIEW, seed_duckdb

__all__ = ["VIEW", "seed_duckdb", "simulate_business"]
