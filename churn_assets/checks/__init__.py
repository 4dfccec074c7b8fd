"""Gates: rules and data contracts turned into Dagster asset check results."""
