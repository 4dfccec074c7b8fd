"""The local Dagster instance: the repo's dagster.yaml plus one consolidated SQLite event log.

The default SQLite event log is sharded per run, and the alert sensor pages through every check
evaluation with a cursor, which needs one log (as PostgreSQL gives dev and prod). Its path must
be absolute, so the file is written per instance folder instead of living in the repo.
"""

from pathlib import Path

import yaml

from churn_assets.environment import REPO_ROOT

# First line of every dagster.yaml this module writes: only such a file is ever rewritten.
MARKER = "# Written by churn_assets/local_instance.py from the repo's dagster.yaml; edit that one instead."


def prepare_local_instance(folder: Path) -> Path:
    """Write `folder/dagster.yaml` for a local instance in `folder` and return the folder.

    A dagster.yaml this module did not write (a deployment's, with PostgreSQL storage and its
    run launcher) is left exactly as it is and used: DAGSTER_HOME may point at a real instance."""
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    existing = folder / "dagster.yaml"
    if existing.exists() and not existing.read_text().startswith(MARKER):
        return folder
    source = REPO_ROOT / "dagster.yaml"
    config = yaml.safe_load(source.read_text()) if source.exists() else {}
    config["event_log_storage"] = {
        "module": "dagster.core.storage.event_log",
        "class": "ConsolidatedSqliteEventLogStorage",
        "config": {"base_dir": str(folder / "history")},
    }
    existing.write_text(MARKER + "\n" + yaml.safe_dump(config, sort_keys=False))
    return folder


if __name__ == "__main__":  # `python -m churn_assets.local_instance DIR` (used by `make ui`)
    import sys

    print(prepare_local_instance(Path(sys.argv[1])))
