"""The pipeline's Validation stage (pytest suite and `churn-assets validate`): one implementation
with the asset checks, passing on honest predictions and failing, gate by gate, on bad ones."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from churn_assets.catalog import DEFAULT_CATALOG
from churn_assets.cli import main
from churn_assets.rules.months import add_months
from churn_assets_tests.support.pipeline import END_MONTH, churn_home, query

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def files(completed_home, tmp_path_factory):
    """Honest predictions of the last two months as files, and the version that made the last."""
    folder = tmp_path_factory.mktemp("predictions")
    paths = {}
    for name, month in (("prev", add_months(END_MONTH, -1)), ("curr", END_MONTH)):
        frame = query(completed_home, "SELECT * FROM churn.predictions WHERE model = 'churn' AND month = ?", [month])
        paths[name] = folder / f"{name}.parquet"
        frame.to_parquet(paths[name])
        paths[name + "_frame"] = frame
    paths["version"] = int(paths["curr_frame"]["model_version"].iloc[0])
    paths["folder"] = folder
    return paths


def bad_file(files, name, change):
    frame = files["curr_frame"].copy()
    frame = change(frame)
    path = files["folder"] / f"{name}.csv"
    frame.to_csv(path, index=False)
    return str(path)


def validate(home, files, curr, version=None, extra_env=None):
    args = ["validate", "--prev-month-preds", str(files["prev"]), "--curr-month-preds", curr]
    args += ["--val-model-version", str(version if version is not None else files["version"])]
    with churn_home(home):
        old = {k: os.environ.get(k) for k in (extra_env or {})}
        os.environ.update(extra_env or {})
        try:
            return main(args)
        finally:
            for k, v in old.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


def test_honest_predictions_pass_every_gate(completed_home, files, capsys):
    assert validate(completed_home, files, str(files["curr"])) == 0
    out = capsys.readouterr().out
    assert "VERDICT: PASSED" in out
    for gate in ["model_version", "top_k_overlap", "predicted_rate", "score_psi", "coverage", "list_capacity"]:
        assert f"\n{gate}" in out


def shuffle_scores(frame):
    frame["score"] = np.random.default_rng(0).permutation(frame["score"].to_numpy())
    frame["rank"] = frame["score"].rank(ascending=False, method="first").astype(int)
    return frame


def inflate_scores(frame):
    frame["score"] = np.clip(frame["score"] * 4 + 0.1, 0, 1)
    return frame


@pytest.mark.parametrize(
    "name, change, version, failing",
    [
        ("scrambled", shuffle_scores, None, "top_k_overlap"),
        ("duplicated", lambda f: pd.concat([f, f.head(5)]), None, "coverage"),
        ("invalid_scores", lambda f: f.assign(score=f["score"].where(f.index % 100 != 0, np.nan)), None, "coverage"),
        ("inflated", inflate_scores, None, "predicted_rate"),
        ("shifted", inflate_scores, None, "score_psi"),
        ("wrong_version", lambda f: f, 999, "model_version"),
    ],
)
def test_each_gate_fails_on_bad_predictions(completed_home, files, capsys, name, change, version, failing):
    path = bad_file(files, name, change)
    assert validate(completed_home, files, path, version=version) == 1
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith(failing))
    assert "FAIL" in line and "VERDICT: FAILED" in out


def test_list_capacity_gate_fails_when_the_list_outgrows_the_team(completed_home, files, tmp_path, capsys):
    catalog = yaml.safe_load(DEFAULT_CATALOG.read_text())
    catalog["models"]["churn"]["gates"]["list_capacity"] = 10
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(catalog))
    assert validate(completed_home, files, str(files["curr"]), extra_env={"CHURN_MODELS": str(path)}) == 1
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("list_capacity"))
    assert "FAIL" in line and "capacity 10" in line


def test_warehouse_references_and_bad_inputs(completed_home, files, capsys):
    with churn_home(completed_home):
        code = main(
            [
                "validate",
                "--prev-month-preds",
                f"warehouse:churn/{add_months(END_MONTH, -1):%Y-%m}",
                "--curr-month-preds",
                f"warehouse:churn/{END_MONTH:%Y-%m}",
                "--val-model-version",
                str(files["version"]),
            ]
        )
        assert code == 0
        assert main(["validate", "--curr-month-preds", "/nonexistent.parquet"]) == 2
        assert main(["validate", "--curr-month-preds", "warehouse:churn/2031-01"]) == 2
    assert "no such file" in capsys.readouterr().err


def run_stage(home, files, curr, version):
    env = {**os.environ, "CHURN_HOME": str(home)}
    junit = files["folder"] / f"junit-{Path(curr).stem}.xml"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "churn_assets_tests/validation",
            "-vv",
            f"--junitxml={junit}",
            f"--val-model-version={version}",
            f"--prev-month-preds={files['prev']}",
            f"--curr-month-preds={curr}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result, junit


def test_the_pipeline_validation_command_passes_and_fails(completed_home, files):
    ok, junit = run_stage(completed_home, files, str(files["curr"]), files["version"])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "6 passed" in ok.stdout and junit.exists()

    bad, junit = run_stage(completed_home, files, bad_file(files, "scrambled_stage", shuffle_scores), files["version"])
    assert bad.returncode == 1
    assert "FAILED churn_assets_tests/validation/test_gates.py::test_gate[top_k_overlap]" in bad.stdout
    assert "top_k_overlap" in junit.read_text()
