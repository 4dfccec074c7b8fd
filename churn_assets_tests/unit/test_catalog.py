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
    path, message = refusal(tmp_path, raw, change)
    assert str(path) in message
    assert expected in message


def refusal(tmp_path, raw, change):
    """The catalogue file written after `change`, and the CatalogError message loading it gives."""
    data = copy.deepcopy(raw)
    change(data)
    path = write(tmp_path, data)
    with pytest.raises(CatalogError) as error:
        load_catalog(path)
    return path, str(error.value)


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


# -- The strict catalogue: a typo never changes what is published silently ---------------------


@pytest.mark.parametrize(
    "change, expected",
    [
        # The finding that published 11 do-not-contact and 27 cancelled customers with every gate green.
        (
            lambda r: r["models"]["churn"].update(exclusion=r["models"]["churn"].pop("exclusions")),
            "model 'churn', key 'exclusion': unknown key; did you mean 'exclusions'?",
        ),
        (
            lambda r: r["models"]["churn"]["gates"].update(max_top_k_overlpa=0.9),
            "gates, key 'max_top_k_overlpa': unknown key; did you mean 'max_top_k_overlap'?",
        ),
        (
            lambda r: r["models"]["churn"]["gates"].update(max_pis=0.3),
            "key 'max_pis': unknown key; did you mean 'max_psi'?",
        ),
        (
            lambda r: r["sources"]["customers"].update(not_nul=["do_not_contact"]),
            "source 'customers', key 'not_nul': unknown key; did you mean 'not_null'?",
        ),
        (
            lambda r: r.update(partition_start="2024-01-01"),
            "top level, key 'partition_start': unknown key; did you mean 'partitions_start'?",
        ),
        (
            lambda r: r["models"]["churn"]["exclusions"][0].update(equal="cancelled"),
            "exclusion 1, key 'equal': unknown key; did you mean 'equals'?",
        ),
        (
            lambda r: r["models"]["churn"]["params"].update(n_estimator=10),
            "'n_estimator' is not a parameter of xgboost.XGBClassifier; did you mean 'n_estimators'?",
        ),
        (
            lambda r: r["models"]["churn"]["params"].update(n_estimators="many"),
            "key 'params.n_estimators': must be a whole number, got text 'many'",
        ),
        (lambda r: r["models"]["churn"]["params"].update(objective="reg:squarederror"), "set by the pipeline"),
        (lambda r: r["models"]["churn"]["gates"].update(list_capacity=8000.5), "must be a whole number"),
        (lambda r: r["sources"]["customers"].update(max_row_count_change=0), "must be a ratio above 0"),
        (lambda r: r["models"].update(Churn=r["models"]["churn"]), "differ only in case (their tables would clash)"),
        (
            lambda r: r["sources"]["customers"].update(files="../../etc/*", relation=None),
            "leads outside the catalogue's folder",
        ),
        (lambda r: r["sources"]["customers"].update(separator=";;"), "must be one character"),
        (lambda r: r["models"]["churn"].update(refit_on_all_months="yes"), "must be a boolean, got text"),
        (lambda r: r["models"]["churn"]["gates"].update(min_holdout_positives=0), "must be a positive integer"),
        (lambda r: r["sources"]["customers"]["value_ranges"].update(tenure_months=[10, 1]), "min 10 is above max 1"),
    ],
)
def test_typos_and_wrong_values_are_refused_with_the_nearest_key(tmp_path, raw, change, expected):
    path, message = refusal(tmp_path, raw, change)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert expected in message


# -- Held-out inputs (issue 27): refused at load, before `check` or `run` touches a warehouse --------


def add_exclusion(column):
    return lambda r: r["models"]["churn"]["exclusions"].append({"column": column, "equals": 1, "reason": "x"})


@pytest.mark.parametrize(
    "change, expected",
    [
        # Another model's label as a numeric feature: `run` failed with "missing required columns".
        (
            lambda r: r["models"]["churn"]["features"].append("upgraded_next_month"),
            "model 'churn', key 'features': upgraded_next_month is the label of model 'upsell'",
        ),
        # ... as a categorical feature, written in another case (DuckDB and Snowflake ignore case).
        (
            lambda r: (
                r["models"]["churn"]["features"].append("Downgraded_Next_Month"),
                r["models"]["churn"]["categorical_features"].append("Downgraded_Next_Month"),
            ),
            "model 'churn', key 'features': Downgraded_Next_Month is the label of model 'downgrade'",
        ),
        (
            add_exclusion("churned_within_3m"),
            "model 'churn', exclusion 3, key 'column': churned_within_3m is the label",
        ),
        (add_exclusion("upgraded_next_month"), "model 'churn', exclusion 3, key 'column': upgraded_next_month is"),
        # A label column of the source that no model uses yet is a label all the same.
        (
            lambda r: (
                r["sources"]["customers"]["label_columns"].append("renewed_next_month"),
                r["models"]["upsell"]["features"].append("renewed_next_month"),
            ),
            "model 'upsell', key 'features': renewed_next_month is a label column of source 'customers'",
        ),
        (
            lambda r: r["sources"]["customers"]["required_columns"].append("churned_within_3m"),
            "source 'customers', key 'required_columns': churned_within_3m is a label column",
        ),
    ],
)
def test_a_label_is_never_an_input(tmp_path, raw, change, expected):
    path, message = refusal(tmp_path, raw, change)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert expected in message
    assert "not known when a month is scored" in message


@pytest.mark.parametrize(
    "change, expected",
    [
        # The 300-character model that published its list and then failed writing its report.
        (
            lambda r: r["models"].update({"m" * 300: r["models"].pop("churn")}),
            f"model '{'m' * 300}', key 'name': is 300 characters long; names are at most 63",
        ),
        (
            lambda r: r["models"].update({"m" * 64: r["models"].pop("churn")}),
            "key 'name': is 64 characters long; names are at most 63",
        ),
        (
            lambda r: r.update(sources={"s" * 64: r["sources"]["customers"]}),
            f"source '{'s' * 64}', key 'name': is 64 characters long; names are at most 63",
        ),
        (
            lambda r: r["sources"].update(Customers=r["sources"]["customers"]),
            "top level, key 'sources': 'customers' and 'Customers' differ only in case (their tables would clash)",
        ),
        (lambda r: r["models"].update({"churn-2": r["models"]["churn"]}), "'churn-2' is not a plain SQL identifier"),
    ],
)
def test_names_are_bounded_and_plain(tmp_path, raw, change, expected):
    path, message = refusal(tmp_path, raw, change)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert expected in message


def test_a_name_of_the_longest_length_loads_and_every_name_made_from_it_fits(tmp_path, raw):
    """The bound keeps the longest names derived from a model or source name valid: tables in a
    real DuckDB file and on Snowflake (255 characters, the load table's prefix and suffix
    included), the report folder and its files (255 bytes each)."""
    import duckdb

    from churn_assets.catalog import MAX_NAME_LENGTH
    from churn_assets.warehouse.snapshots import snapshot_table, training_set_table
    from churn_assets.warehouse.snowflake import LOAD_TABLE_PREFIX

    model, source = "m" * MAX_NAME_LENGTH, "s" * MAX_NAME_LENGTH
    data = copy.deepcopy(raw)
    data["sources"] = {source: data["sources"]["customers"]}
    data["models"] = {model: {**data["models"]["churn"], "source": source}}
    catalog = load_catalog(write(tmp_path, data))
    assert catalog.models[model].source.name == source

    tables = [training_set_table(model), snapshot_table(source), f"source_{source}"]
    # Snowflake's load table: LOAD_TABLE_PREFIX + table + "_" + 12 hex digits (warehouse/snowflake.py).
    assert max(len(f"{LOAD_TABLE_PREFIX}{t}_{'0' * 12}") for t in tables) <= 255
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        for table in tables:
            conn.execute(f"CREATE TABLE {table} AS SELECT 1 AS x")
        assert conn.execute(f"SELECT x FROM {training_set_table(model)}").fetchone() == (1,)
    report = tmp_path / "reports" / model / "2026-11-01-leaving.csv.tmp"  # reports.py: <model>/<month>...
    report.parent.mkdir(parents=True)
    report.write_text("customer_id\n")
    assert report.read_text() == "customer_id\n"


def test_yaml_11_booleans_stay_text_and_merge_keys_work(tmp_path):
    text = DEFAULT_CATALOG.read_text()
    # Unquoted Yes/No (YAML 1.1 booleans), an anchor under a free `x-` key, and a merge key.
    text = text.replace(
        "    label: churned_within_3m\n",
        "    label: churned_within_3m\n    label_values: {Yes: 1, No: 0}\n",
        1,
    )
    text = text.replace("models:\n", "x-gates: &strict\n  min_auc: 0.75\n  max_psi: 0.2\n\nmodels:\n", 1)
    text = text.replace("      min_auc: 0.70\n", "      <<: *strict\n", 1)
    path = tmp_path / "models.yaml"
    path.write_text(text)
    churn = load_catalog(path).models["churn"]
    assert churn.label_values == {"Yes": 1, "No": 0}
    assert (churn.gates.min_auc, churn.gates.max_psi) == (0.75, 0.25)  # the model's own max_psi wins over the merge
    assert churn.exclusions[1].equals is True  # `true` is still a boolean

    # A key given twice is still refused, merge keys or not.
    path.write_text(text.replace("      max_psi: 0.25\n", "      max_psi: 0.25\n      max_psi: 0.3\n", 1))
    with pytest.raises(CatalogError, match="duplicate key 'max_psi'"):
        load_catalog(path)


def test_lenient_values_that_mean_one_thing_are_accepted(tmp_path, raw):
    data = copy.deepcopy(raw)
    data["models"]["churn"]["gates"]["list_capacity"] = 8000.0
    data["sources"]["customers"]["max_row_count_change"] = 2.5  # a business that more than doubles
    data["models"]["downgrade"]["gates"]["max_top_k_overlap"] = None
    catalog = load_catalog(write(tmp_path, data))
    assert catalog.models["churn"].gates.list_capacity == 8000
    assert catalog.sources["customers"].max_row_count_change == 2.5
    data["sources"]["customers"]["max_row_count_change"] = None  # the rule switched off
    assert load_catalog(write(tmp_path, data)).sources["customers"].max_row_count_change is None


def test_partitions_start_written_as_a_datetime_is_refused(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text(
        DEFAULT_CATALOG.read_text().replace("partitions_start: 2024-09-01", "partitions_start: 2024-09-01 00:00:00")
    )
    with pytest.raises(CatalogError, match="key 'partitions_start': .* is a date and time"):
        load_catalog(path)


def test_a_catalogue_path_that_is_a_folder_is_one_line(tmp_path):
    with pytest.raises(CatalogError, match="is a folder"):
        load_catalog(tmp_path)


def test_every_xgboost_parameter_the_catalogue_accepts_is_one_xgboost_has():
    import inspect

    import xgboost

    from churn_assets.catalog import PIPELINE_PARAMS, XGBOOST_PARAMS

    accepted = set(inspect.signature(xgboost.XGBModel.__init__).parameters)
    assert set(XGBOOST_PARAMS) <= accepted, set(XGBOOST_PARAMS) - accepted
    assert not set(XGBOOST_PARAMS) & PIPELINE_PARAMS


def test_the_catalogue_reference_in_the_docs_is_generated_from_the_code():
    from churn_assets.catalog_reference import REFERENCE_PATH, render

    assert REFERENCE_PATH.read_text() == render(), "docs/catalogue.md is stale: run `make docs`"


def test_every_key_of_the_schema_reaches_the_specs():
    """The schema (and so the reference) and the specs cannot drift: each section passes every key
    it declares to its spec by name (`Section.as_kwargs`), so a key accepted is never ignored."""
    from dataclasses import fields

    from churn_assets.catalog import SECTIONS, Catalog, Exclusion, Gates, ModelSpec, SourceSpec

    specs = (Catalog, SourceSpec, ModelSpec, Gates, Exclusion)
    for (section, schema), spec in zip(SECTIONS.items(), specs, strict=True):
        missing = set(schema.model_fields) - {f.name for f in fields(spec)}
        assert not missing, f"{section}: declared but not in {spec.__name__}: {missing}"


# -- Values against the source's column types ---------------------------------------------------


def typed_sample():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "do_not_contact": [True, False, False],
            "account_status": ["active", "cancelled", "active"],
            "churned_within_3m": pd.array([0, 1, None], dtype="Int64"),
            "tenure_months": [1, 5, 30],
        }
    )
    return {c: frame[c] for c in frame}


def check_churn(catalog, sample):
    from churn_assets.catalog import check_against_source

    catalog = type(catalog)(catalog.path, catalog.partitions_start, catalog.sources, {"churn": catalog.models["churn"]})
    check_against_source(catalog, "customers", set(catalog.models["churn"].features) | set(sample), None, sample)


@pytest.mark.parametrize(
    "change, expected",
    [
        # The quoted 'true' that matched nobody and listed 10 do-not-contact customers.
        (
            lambda r: r["models"]["churn"]["exclusions"][1].update(equals="true"),
            "key 'exclusions' (column do_not_contact): equals 'true' is text but the column holds boolean values",
        ),
        (lambda r: r["models"]["churn"]["exclusions"][1].update(equals="yes"), "only true/false are booleans"),
        (lambda r: r["models"]["churn"]["exclusions"][0].update(equals=1), "1 is a number but the column holds text"),
        (
            lambda r: r["models"]["churn"].update(label_values={True: 1, False: 0}),
            "is a boolean but the column holds number values (label churned_within_3m)",
        ),
        (
            lambda r: r["sources"]["customers"]["allowed_values"].update(account_status=[1, 2]),
            "key 'allowed_values' (account_status): 1 is a number but the column holds text",
        ),
        (
            lambda r: r["sources"]["customers"]["value_ranges"].update(account_status=[0, 1]),
            "key 'value_ranges' (account_status): the column holds text values",
        ),
    ],
)
def test_values_that_do_not_fit_the_column_type_are_refused(tmp_path, raw, change, expected):
    data = copy.deepcopy(raw)
    change(data)
    catalog = load_catalog(write(tmp_path, data))
    with pytest.raises(CatalogError) as error:
        check_churn(catalog, typed_sample())
    assert expected in str(error.value)


def test_values_that_fit_pass_and_text_labels_need_label_values(raw):
    import pandas as pd

    catalog = load_catalog()
    check_churn(catalog, typed_sample())  # the shipped catalogue fits its source
    sample = typed_sample()
    sample["churned_within_3m"] = pd.Series(["Yes", "No", None])
    with pytest.raises(CatalogError, match="label churned_within_3m holds text"):
        check_churn(catalog, sample)


def test_check_names_label_values_the_catalogue_does_not_map(tmp_path, raw):
    import pandas as pd

    data = copy.deepcopy(raw)
    data["models"]["churn"]["label_values"] = {"Yes": 1, "No": 0}
    catalog = load_catalog(write(tmp_path, data))
    sample = typed_sample()
    sample["churned_within_3m"] = pd.Series(["Yes", " Yes ", "No", None])
    with pytest.raises(CatalogError, match=r"holds values it does not map: \[\"' Yes '\"\]"):
        check_churn(catalog, sample)


def test_label_values_not_mapped_are_named():
    import pandas as pd

    spec = load_catalog().models["churn"]
    mapped = type(spec)(**{**spec.__dict__, "label_values": {"Yes": 1, "No": 0}})
    assert mapped.label_as_int(pd.Series(["Yes", "No", None])).tolist()[:2] == [1.0, 0.0]
    with pytest.raises(ValueError, match=r"2 values of label churned_within_3m .* e\.g\. ' Yes'"):
        mapped.label_as_int(pd.Series(["Yes", " Yes", " Yes", None]))
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        spec.label_as_int(pd.Series([0, 1, 2]))


# -- The model's code identity --------------------------------------------------------------------


def test_the_model_code_version_follows_the_code_not_its_comments():
    from churn_assets.code_version import MODEL_CODE, PACKAGE, code_hash, model_code_version

    sources = {name: (PACKAGE / name).read_text() for name in MODEL_CODE}
    version = model_code_version()
    assert version.startswith(code_hash(sources) + "-xgb")
    commented = {**sources, "modeling.py": "# a new comment\n" + sources["modeling.py"].replace("\n\n\n", "\n\n\n\n")}
    assert code_hash(commented) == code_hash(sources)
    changed = {
        **sources,
        "modeling.py": sources["modeling.py"].replace('"tree_method": "hist"', '"tree_method": "approx"'),
    }
    assert changed != sources and code_hash(changed) != code_hash(sources)


def test_the_package_version_has_one_source():
    import re
    from importlib import metadata
    from pathlib import Path

    import churn_assets

    assert metadata.version("churn_assets") == churn_assets.__version__
    setup = (Path(churn_assets.__file__).parents[1] / "setup.py").read_text()
    assert not re.search(r'version="\d', setup)
