"""Asset keys: `<source>/snapshot` and `<model>/<stage>` (the model name is the prefix and group)."""

from dagster import AssetKey


def snapshot_key(source_name: str) -> AssetKey:
    return AssetKey([source_name, "snapshot"])


def model_key(model_name: str, stage: str) -> AssetKey:
    return AssetKey([model_name, stage])
