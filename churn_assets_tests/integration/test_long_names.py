"""Names at the catalogue's bound run end to end (issue 27): a model and a source whose names have
the longest length the catalogue accepts snapshot, train, publish and write their report through
the real CLI, so every table, file and Dagster key made from them is valid."""

from churn_assets.catalog import MAX_NAME_LENGTH
from churn_assets_tests.support.pipeline import cli, query, shipped_catalogue_with

MODEL = ("churn_" + "x" * MAX_NAME_LENGTH)[:MAX_NAME_LENGTH]
SOURCE = ("customers_" + "y" * MAX_NAME_LENGTH)[:MAX_NAME_LENGTH]


def longest_names(data):
    """The shipped catalogue with `churn` and its source renamed to names of the longest length."""
    data["sources"] = {SOURCE: data["sources"]["customers"]}
    data["models"] = {MODEL: {**data["models"]["churn"], "source": SOURCE}}


def test_a_model_and_a_source_with_the_longest_names_publish_and_report(fresh_home, tmp_path):
    catalogue = shipped_catalogue_with(tmp_path, longest_names)
    env = {"CHURN_MODELS": str(catalogue)}
    checked = cli(fresh_home, "check", env_extra=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # 2024-09 .. 2024-12: the first month whose label window has closed is trained, gated and published.
    run = cli(fresh_home, "run", "--to", "2024-12", env_extra=env, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    published = query(
        fresh_home,
        "SELECT count(*) AS n FROM churn.published_predictions WHERE model = ? AND month = '2024-12-01'",
        [MODEL],
    )["n"].iloc[0]
    assert published > 0, run.stdout
    assert query(fresh_home, f"SELECT count(*) AS n FROM churn.snapshot_{SOURCE}")["n"].iloc[0] > 0
    report = fresh_home / "reports" / MODEL / "2024-12-01.html"
    assert report.is_file() and MODEL in report.read_text()
    assert (fresh_home / "reports" / MODEL / "2024-12-01.csv").is_file()
