"""The real Dagster webserver on the project: the asset graph over GraphQL, and the lineage page
rendered by headless Chromium (Debian's package, installed by `make test`)."""

import json
import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

from churn_assets.catalog import load_catalog
from churn_assets_tests.support.ui import CHECK_STATUSES, chromium, graphql, shown_status

STAGES = ["training_set", "model", "predictions", "published_predictions", "monthly_report"]


def test_graphql_asset_graph_has_every_model_chain_and_blocking_gates(webserver):
    url, _ = webserver
    data = graphql(
        url,
        """{ assetNodes { assetKey { path } groupName dependencyKeys { path }
        assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }""",
    )
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    for model in load_catalog().models:
        chain = ["customers/snapshot"] + [f"{model}/{s}" for s in STAGES]
        for upstream, downstream in zip(chain, chain[1:]):
            parents = {"/".join(d["path"]) for d in nodes[downstream]["dependencyKeys"]}
            assert upstream in parents, (upstream, downstream)
        assert nodes[f"{model}/published_predictions"]["groupName"] == model
        # What a month reads from the month before is lineage too (each on its own previous month).
        for stage in ("model", "predictions"):
            parents = {"/".join(d["path"]) for d in nodes[f"{model}/{stage}"]["dependencyKeys"]}
            assert f"{model}/{stage}" in parents, (stage, parents)
        checks = {c["name"]: c["blocking"] for c in nodes[f"{model}/predictions"]["assetChecksOrError"]["checks"]}
        assert checks == {
            "top_k_overlap": True,
            "predicted_rate": True,
            "score_psi": True,
            "coverage": True,
            "list_capacity": True,
        }
        model_checks = {c["name"]: c["blocking"] for c in nodes[f"{model}/model"]["assetChecksOrError"]["checks"]}
        assert model_checks == {"holdout_auc": False, "not_worse_than_champion": False}
    assert "customers/snapshot" in {"/".join(d["path"]) for d in nodes["customers/snapshot"]["dependencyKeys"]}
    contract = nodes["customers/snapshot"]["assetChecksOrError"]["checks"]
    assert contract == [{"name": "data_contract", "blocking": True}]


def test_the_lineage_page_renders_the_asset_graph(webserver, tmp_path):
    from PIL import Image

    url, _ = webserver
    # The UI greets a new local instance with a community pop-up over the graph; mark it seen.
    graphql(url, "mutation { setNuxSeen }")
    page = f"{url}/locations/churn_assets/asset-groups/churn"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1400,900",
        "--virtual-time-budget=25000",
    ]
    dom = subprocess.run(
        [chromium(), *flags, "--dump-dom", f"{url}/assets?view=lineage"], capture_output=True, text=True, timeout=180
    )
    for name in ["snapshot", "training_set", "published_predictions", "monthly_report", "downgrade", "upsell"]:
        assert name in dom.stdout, name

    shot = tmp_path / "lineage.png"
    subprocess.run([chromium(), *flags, f"--screenshot={shot}", page], capture_output=True, timeout=180, check=True)
    image = Image.open(shot).convert("RGB")
    assert image.size == (1400, 900)
    colors = image.getcolors(maxcolors=1_000_000)
    assert len(colors) > 50, "the screenshot is (nearly) a single colour: nothing rendered"
    background = max(colors)[0]
    assert background < 0.97 * image.size[0] * image.size[1], "the page is blank"
    if os.environ.get("CHURN_SCREENSHOT_DIR"):  # keep the picture for a person to look at
        shutil.copy(shot, Path(os.environ["CHURN_SCREENSHOT_DIR"]) / "lineage.png")


def test_the_model_plots_are_markdown_images_as_the_readme_says(webserver):
    """README (UI section): plots are markdown metadata, shown behind [Show Markdown] in 1.13."""
    url, _ = webserver
    data = graphql(
        url,
        """{ assetOrError(assetKey: {path: ["churn", "model"]}) { ... on Asset { assetMaterializations(limit: 1) {
        metadataEntries { label __typename ... on MarkdownMetadataEntry { mdStr } } } } } }""",
    )
    (materialization,) = data["assetOrError"]["assetMaterializations"]
    entries = {e["label"]: e for e in materialization["metadataEntries"]}
    for label in ("roc_curve", "feature_importance_plot"):
        assert entries[label]["__typename"] == "MarkdownMetadataEntry"
        assert entries[label]["mdStr"].startswith("![") and "data:image/svg+xml;base64," in entries[label]["mdStr"]


def test_the_checks_list_shows_each_gates_latest_outcome(webserver, tmp_path):
    """After every month ran (the first ones with no list to judge), each gate of the predictions
    shows "Passed" where a user looks first, as its latest month passed; not "Skipped"."""
    url, _ = webserver
    request = urllib.request.Request(
        url + "/graphql",
        data=json.dumps({"query": CHECK_STATUSES, "variables": {"key": {"path": ["churn", "predictions"]}}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        node = json.loads(response.read())["data"]["assetNodeOrError"]
    checks = {c["name"]: c for c in node["assetChecksOrError"]["checks"]}
    assert set(checks) == {"top_k_overlap", "predicted_rate", "score_psi", "coverage", "list_capacity"}
    for name, check in checks.items():
        assert check["executionForLatestMaterialization"]["status"] == "SUCCEEDED", (name, check)
        assert shown_status(check) == "Passed", (name, check)

    # What the page itself shows, rendered by Chromium.
    graphql(url, "mutation { setNuxSeen }")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
    flags += [f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,900", "--virtual-time-budget=25000"]
    dom = subprocess.run(
        [chromium(), *flags, "--dump-dom", f"{url}/assets/churn/predictions?view=checks"],
        capture_output=True,
        text=True,
        timeout=180,
    ).stdout
    text = " ".join(re.sub(r"<[^>]+>", " ", dom.split("<body", 1)[-1]).split())
    listed = text[text.index("Checks (5)") :]
    for name in checks:
        assert f"{name} {name} Succeeded" in listed, listed[:1500]
    assert "Skipped" not in listed, listed[:1500]
