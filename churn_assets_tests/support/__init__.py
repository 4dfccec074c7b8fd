"""Helpers shared by tests and benchmarks, never tests themselves."""
