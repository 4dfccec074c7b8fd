import copy

import pytest
import yaml

from churn_assets.catalog import DEFAULT_CATALOG, CatalogError, load_catalog


@pytest.fixture
def raw():
    return yaml.safe_load(DEFAULT_CATALOG.read_text())


def write(tmp_path, data):
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_shipped_catalogue_loads():
    catalog = load_catalog()
    churn = catalog.models["churn"]
    assert churn.label == "churned_within_3m" and churn.horizon_months == 3
    assert set(churn.categorical_features) <= set(churn.features)
    assert churn.gates.min_top_k_overlap > 0


def test_catalogue_path_comes_from_the_environment(tmp_path, raw, monkeypatch):
    raw["models"]["churn"]["gates"]["min_auc"] = 0.55
    monkeypatch.setenv("CHURN_MODELS", str(write(tmp_path, raw)))
    assert load_catalog().models["churn"].gates.min_auc == 0.55


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda r: r["models"]["churn"].update(label="x; drop table y"), "model 'churn', key 'label'"),
        (lambda r: r["models"]["churn"]["features"].append("a b"), "key 'features'"),
        (lambda r: r["models"]["churn"].update(source="nowhere"), "unknown source 'nowhere'"),
        (lambda r: r["models"]["churn"]["gates"].update(min_auc=1.5), "key 'min_auc': must be between 0 and 1"),
        (lambda r: r["models"]["churn"]["gates"].update(min_top_k_overlap=True), "got a boolean"),
        (lambda r: r["models"]["churn"].update(horizon_months=0), "key 'horizon_months'"),
        (lambda r: r["models"]["churn"].pop("label"), "key 'label': is required"),
        (lambda r: r["models"]["churn"]["features"].append("churned_within_3m"), "leak"),
        (lambda r: r["models"]["churn"]["params"].update(seed=3), "set by the pipeline"),
        (
            lambda r: r["sources"]["customers"].update(relation="analytics.v; drop"),
            "source 'customers', key 'relation'",
        ),
        (lambda r: r.update(partitions_start="2024-01-15"), "first day of a month"),
        (lambda r: r["models"]["churn"]["categorical_features"].append("not_a_feature"), "not listed in features"),
    ],
)
def test_bad_catalogues_are_refused_naming_file_model_and_key(tmp_path, raw, change, expected):
    data = copy.deepcopy(raw)
    change(data)
    path = write(tmp_path, data)
    with pytest.raises(CatalogError) as error:
        load_catalog(path)
    assert str(path) in str(error.value)
    assert expected in str(error.value)


def test_unparseable_yaml_is_a_catalogue_error(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text("models: [unclosed")
    with pytest.raises(CatalogError, match="not valid YAML"):
        load_catalog(path)


def test_a_model_declared_twice_is_refused(tmp_path):
    text = DEFAULT_CATALOG.read_text()
    churn_entry = text[text.index("  churn:\n") : text.index("  downgrade:\n")]
    path = tmp_path / "models.yaml"
    path.write_text(text + "\n" + churn_entry)
    with pytest.raises(CatalogError, match="duplicate key 'churn'"):
        load_catalog(path)


def test_the_shipped_catalogue_has_three_models_on_one_source():
    catalog = load_catalog()
    assert {"churn", "downgrade", "upsell"} <= set(catalog.models)
    assert {m.source.name for m in catalog.models.values()} == {"customers"}
    assert catalog.models["downgrade"].horizon_months == 1
