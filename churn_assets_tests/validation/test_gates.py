"""One test per gate: each fails with the gate's own explanation (value, threshold, at fault)."""

import pytest

from churn_assets.rules.gates import BUSINESS_GATES


@pytest.mark.parametrize("gate", ["model_version", *BUSINESS_GATES])
def test_gate(gate_results, gate):
    result = gate_results[gate]
    assert result.passed, (
        f"{gate}: {result.summary} (value {result.value}, threshold {result.threshold}) {result.details or ''}"
    )
