"""The stakeholders' report: a published month links its whole list (CSV) and says who enters and
leaves; a blocked month gets its page too, saying NOT PUBLISHED, which gate blocked it with its
value against the threshold, and which list stays in force. The blocked page is checked in a real
browser (headless Chromium) as a stakeholder opens it."""

import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd

from churn_assets.reports import Link, Page, Section, Strong, Table, paragraph, to_html, to_markdown
from churn_assets.rules.months import add_months
from churn_assets.simulate.incidents import apply_incident
from churn_assets_tests.support.pipeline import END_MONTH, query, run_pipeline
from churn_assets_tests.support.ui import chromium


def test_a_published_month_links_its_whole_list_and_who_enters_and_leaves(history_home):
    folder = history_home / "reports" / "churn"
    month = add_months(END_MONTH, -1)  # the last month history_home ran
    page = (folder / f"{month}.html").read_text()
    full = pd.read_csv(folder / f"{month}.csv")
    published = query(
        history_home,
        "SELECT customer_id, rank FROM churn.published_predictions WHERE model = 'churn' AND month = ?",
        [month],
    )
    assert sorted(full["customer_id"]) == sorted(published["customer_id"]) and list(full["rank"]) == sorted(
        full["rank"]
    )
    previous = query(
        history_home,
        "SELECT customer_id FROM churn.published_predictions WHERE model = 'churn' AND month = ?",
        [add_months(month, -1)],
    )["customer_id"]
    assert set(full.loc[full["on_previous_list"] == "yes", "customer_id"]) == set(full["customer_id"]) & set(previous)
    leaving = pd.read_csv(folder / f"{month}-leaving.csv")
    assert set(leaving["customer_id"]) == set(previous) - set(full["customer_id"])
    assert f"<a href='{month}.csv'>All {len(full):,} customers as CSV</a>" in page
    assert f"Entering the list ({(full['on_previous_list'] == 'no').sum():,}" in page
    assert f"Leaving the list ({len(leaving):,}" in page
    assert " UTC</td>" in page and "+00:00" not in page  # published at, as a person reads it


def test_a_blocked_month_has_its_not_published_page(history_copy, tmp_path):
    from PIL import Image

    apply_incident(str(history_copy / "warehouse.duckdb"), "scrambled-ids", END_MONTH)
    report = run_pipeline(history_copy, first=END_MONTH, last=END_MONTH)
    assert report.months[0].models[0].status.startswith("NOT published: churn/predictions:top_k_overlap")
    folder = history_copy / "reports" / "churn"
    in_force = add_months(END_MONTH, -1)
    path = folder / f"{END_MONTH}.html"
    page = path.read_text()
    gates = query(
        history_copy,
        "SELECT value, threshold FROM churn.gate_results WHERE asset = 'churn/predictions' AND gate = 'top_k_overlap' "
        "AND month = ?",
        [END_MONTH],
    )
    assert f"<h1>churn: NOT PUBLISHED for {END_MONTH}</h1>" in page
    value = float(gates["value"].iloc[0])
    assert f"<td>top_k_overlap</td><td>{value:.4f}</td>" in page  # the value, next to its threshold
    assert f"The business keeps the list of {in_force}: <a href='{in_force}.html'>its report</a>" in page
    assert not (folder / f"{END_MONTH}.csv").exists()

    shot = tmp_path / "blocked.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
    flags += [f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,700"]
    dom = subprocess.run([chromium(), *flags, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120)
    assert "NOT PUBLISHED" in dom.stdout and "top_k_overlap" in dom.stdout
    subprocess.run(
        [chromium(), *flags, f"--screenshot={shot}", path.as_uri()], capture_output=True, timeout=120, check=True
    )
    image = Image.open(shot).convert("RGB")
    colors = image.getcolors(maxcolors=1_000_000)
    assert len(colors) > 20 and max(colors)[0] < 0.98 * image.size[0] * image.size[1], "the page rendered blank"
    if os.environ.get("CHURN_SCREENSHOT_DIR"):  # keep the picture for a person to look at
        shutil.copy(shot, Path(os.environ["CHURN_SCREENSHOT_DIR"]) / "blocked_month_report.png")


def test_the_page_shows_values_as_text_never_as_markup():
    """The template escapes every value: a customer id or a model name cannot inject markup."""
    hostile_id, model = "<script>alert(1)</script>", "churn' onload='x"
    page = Page(
        f"{model}: monthly list for 2026-11-01",
        [
            Section(None, [paragraph(Strong("NOT PUBLISHED"), ": <b>not bold</b> ", Link("its report", "a.html"))]),
            Section("Top 20 customers", [Table(("rank", "customer_id"), [(1, hostile_id), (2, "0001|2")])]),
        ],
    )
    html = to_html(f"{model} — 2026-11-01", page)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<td>0001|2</td>" in html  # ids verbatim
    assert "churn&#39; onload=&#39;x: monthly list" in html and "<b>" not in html
    assert "<strong>NOT PUBLISHED</strong>" in html and "<a href='a.html'>its report</a>" in html
    # The UI's markdown: a `|` in an id stays in its cell.
    assert "| 2 | 0001\\|2 |" in to_markdown(page)
