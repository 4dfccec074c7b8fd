"""Business rules as pure functions on DataFrames and dates (no Dagster import).

The same functions serve the asset checks, the CLI and the test suites: one implementation.
"""
