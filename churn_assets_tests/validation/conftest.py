"""The pipeline's Validation stage, as the team runs it:

    python -m pytest churn_assets_tests/validation -vv --junitxml=validation_test_results.xml \
        --val-model-version=V --prev-month-preds=P --curr-month-preds=C [--val-model=churn]

P and C are prediction files (Parquet or CSV) or warehouse references warehouse:<model>/<YYYY-MM>.
"""

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("churn validation")
    group.addoption(
        "--val-model-version", type=int, default=None, help="model version the current predictions must come from"
    )
    group.addoption(
        "--prev-month-preds", default=None, help="previous month's predictions (file or warehouse:<model>/<YYYY-MM>)"
    )
    group.addoption(
        "--curr-month-preds", default=None, help="current month's predictions (file or warehouse:<model>/<YYYY-MM>)"
    )
    group.addoption("--val-model", default="churn", help="catalogue model whose thresholds apply")


@pytest.fixture(scope="session")
def gate_results(request):
    """Every gate's result, computed once by the same functions as the asset checks."""
    from churn_assets.catalog import load_catalog
    from churn_assets.environment import load_environment
    from churn_assets.validation import (
        PredictionInputError,
        check_month_pair,
        format_verdict,
        load_predictions,
        validate_months,
    )

    options = request.config.option
    if not options.curr_month_preds:
        raise pytest.UsageError(
            "the Validation stage needs --curr-month-preds (and usually --prev-month-preds, --val-model-version)"
        )
    spec = load_catalog().models[options.val_model]
    warehouse = load_environment().warehouse
    try:
        current = load_predictions(options.curr_month_preds, warehouse)
        previous = load_predictions(options.prev_month_preds, warehouse) if options.prev_month_preds else None
        if previous is not None:
            for line in check_month_pair(options.prev_month_preds, options.curr_month_preds, previous, current):
                print(line)
    except PredictionInputError as exc:
        raise pytest.UsageError(str(exc)) from None
    results = validate_months(spec, options.val_model_version, previous, current)
    print("\n" + format_verdict(spec, results))
    return {r.name: r for r in results}
