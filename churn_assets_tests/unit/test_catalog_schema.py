"""The published JSON Schema of the catalogue (churn_assets/models.schema.json): generated from the
pydantic schema, current, and as strict as the loader on what an editor can see."""

import copy
import json

import jsonschema
import pytest
import yaml

from churn_assets.catalog import DEFAULT_CATALOG, CatalogError, load_catalog
from churn_assets.catalog_reference import SCHEMA_PATH, render_schema


def as_an_editor_reads_it(data):
    """A catalogue as JSON values: an editor's YAML 1.2 reads `2024-09-01` as text, not a date."""
    return json.loads(json.dumps(data, default=str))


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture
def raw():
    return yaml.safe_load(DEFAULT_CATALOG.read_text())


def test_the_published_schema_is_generated_from_the_code():
    assert SCHEMA_PATH.read_text() == render_schema(), "churn_assets/models.schema.json is stale: run `make docs`"


def test_the_shipped_catalogue_names_the_schema_on_its_first_line():
    first = DEFAULT_CATALOG.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=models.schema.json"
    assert (DEFAULT_CATALOG.parent / "models.schema.json") == SCHEMA_PATH


def test_the_shipped_catalogue_is_valid(validator, raw):
    assert list(validator.iter_errors(as_an_editor_reads_it(raw))) == []


def test_anchors_under_free_keys_are_valid(validator, raw):
    raw["x-gates"] = {"min_auc": 0.75}
    assert list(validator.iter_errors(as_an_editor_reads_it(raw))) == []


@pytest.mark.parametrize(
    "change, where",
    [
        (lambda r: r["models"]["churn"].update(exclusion=r["models"]["churn"].pop("exclusions")), "exclusion"),
        (lambda r: r["models"]["churn"]["gates"].update(max_pis=0.3), "max_pis"),
        (lambda r: r["sources"]["customers"].update(not_nul=["do_not_contact"]), "not_nul"),
        (lambda r: r.update(partition_start=r.pop("partitions_start")), "partition_start"),
        (lambda r: r["models"]["churn"]["exclusions"][0].update(equal="cancelled"), "equal"),
        (lambda r: r["models"]["churn"]["params"].update(n_estimator=10), "n_estimator"),
        (lambda r: r["models"]["churn"]["params"].update(n_estimators="many"), "many"),
        (lambda r: r["models"]["churn"]["gates"].update(min_auc=1.5), "1.5"),
        (lambda r: r["models"]["churn"].update(list_top_fraction=0), "0"),
        (lambda r: r["models"]["churn"].update(refit_on_all_months="yes"), "yes"),
        (lambda r: r["models"].update({"churn-2": r["models"]["churn"]}), "churn-2"),
        (lambda r: r.update(partitions_start="2024-01-15"), "2024-01-15"),
    ],
)
def test_typos_and_wrong_values_are_refused_by_the_schema_and_the_loader(tmp_path, validator, raw, change, where):
    data = copy.deepcopy(raw)
    change(data)
    errors = list(validator.iter_errors(as_an_editor_reads_it(data)))
    assert errors and where in " ".join(e.message for e in errors)

    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CatalogError):
        load_catalog(path)


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda r: r["models"]["churn"].update(gates="strict"), "model 'churn', key 'gates': must be a mapping"),
        (lambda r: r["models"]["churn"]["exclusions"].append("x"), "model 'churn', exclusion 3: must be a mapping"),
        (lambda r: r["sources"].update(customers="x"), "source 'customers': must be a mapping, got text 'x'"),
        (lambda r: r.update(models={}), "top level, key 'models': declares no model"),
        (lambda r: r["models"]["churn"]["params"].update(max_depth=True), "key 'params.max_depth': must be a whole"),
        (lambda r: r["models"]["churn"]["gates"].pop("min_auc"), "model 'churn', gates, key 'min_auc': is required"),
        # Both were TypeError tracebacks of the hand-written reader.
        (lambda r: r["models"]["churn"].update(label_values={"Yes": [1], "No": 0}), "must map source values to 1"),
        (lambda r: r["models"]["churn"].update(label_values={"Yes": "1", "No": 0}), "must map source values to 1"),
        (lambda r: r["models"]["churn"]["gates"].update({1: 0.5}), "gates, key '1': unknown key; valid keys: "),
        (
            lambda r: r["sources"]["customers"]["value_ranges"].update(tenure_months=["a", 1]),
            "key 'value_ranges': tenure_months: bounds must be numbers or null, got 'a'",
        ),
    ],
)
def test_structural_errors_name_the_mapping_and_the_key(tmp_path, raw, change, expected):
    data = copy.deepcopy(raw)
    change(data)
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CatalogError) as error:
        load_catalog(path)
    assert str(error.value).startswith(f"{path}: ") and "\n" not in str(error.value)
    assert expected in str(error.value)


def test_an_empty_file_is_one_line(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text("# nothing yet\n")
    with pytest.raises(CatalogError, match="top level: must be a mapping, got null$"):
        load_catalog(path)


def test_params_keep_the_types_written():
    """A number parameter written 5 stays the integer 5: params are part of a version's fingerprint."""
    params = load_catalog().models["churn"].params
    assert type(params["min_child_weight"]) is int and type(params["learning_rate"]) is float
