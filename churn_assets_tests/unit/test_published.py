import pandas as pd

from churn_assets.assets.published import top_table


def test_the_top_of_a_list_shows_customer_ids_as_they_are():
    frame = pd.DataFrame({"rank": [1, 2], "customer_id": [1000520, 1000521], "score": [0.9312345, 0.5]})
    table = top_table(frame)
    assert "| 1000520 " in table and "| 1000521 " in table and "e+06" not in table
    assert "0.9312" in table
    text_ids = pd.DataFrame({"rank": [1], "customer_id": ["7590-VHVEG"], "score": [0.7]})
    assert "7590-VHVEG" in top_table(text_ids)


def test_plots_are_svg_images_in_markdown():
    """Every plot is a markdown image whose data URI holds a well-formed SVG (no matplotlib)."""
    import base64
    import re
    import xml.dom.minidom

    import numpy as np

    from churn_assets import plots

    images = [
        plots.score_histogram(np.random.default_rng(1).beta(2, 8, 2_000)),
        plots.roc_curve({"fpr": [0.0, 0.2, 1.0], "tpr": [0.0, 0.7, 1.0]}),
        plots.feature_importance({"tenure_months": 3.0, "plan": 1.0}),
        plots.overlap_over_time(["2025-01", "2025-02"], [0.5, 0.6], 0.3),
    ]
    for markdown in images:
        encoded = re.fullmatch(r"!\[[^\]]*\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", markdown).group(1)
        svg = xml.dom.minidom.parseString(base64.b64decode(encoded)).documentElement
        assert svg.tagName == "svg" and svg.getElementsByTagName("text")
    assert "tenure_months" in base64.b64decode(images[2].split(",")[1][:-1]).decode()
