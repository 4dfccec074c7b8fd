import pandas as pd

from churn_assets.assets.published import top_table


def test_the_top_of_a_list_shows_customer_ids_as_they_are():
    frame = pd.DataFrame({"rank": [1, 2], "customer_id": [1000520, 1000521], "score": [0.9312345, 0.5]})
    table = top_table(frame)
    assert "| 1000520 " in table and "| 1000521 " in table and "e+06" not in table
    assert "0.9312" in table
    text_ids = pd.DataFrame({"rank": [1], "customer_id": ["7590-VHVEG"], "score": [0.7]})
    assert "7590-VHVEG" in top_table(text_ids)
