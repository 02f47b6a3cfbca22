"""The four scripts of ``examples/`` run in their quick mode and reach what their quick mode can
(bounds measured on 2 cores, stated per example with a margin)."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(["--quick"])


# CI's 10-minute budget keeps one example in the default suite (8 s); the others (14 s, 13 s and 47 s
# on 2 cores; their workflows are also covered by test_cli_runs.py and test_time_to_precision.py) run
# with `pytest -m slow`.
@pytest.mark.parametrize("name, key, bound", [
    pytest.param("regression_from_csv", "rms", 1e-12, marks=pytest.mark.slow),  # measured 2.6e-16
    ("regression_2d", "rms", 1e-10),  # off-grid; measured 1.8e-13
    pytest.param("forward_pinn", "rms", 1e-10, marks=pytest.mark.slow),
    pytest.param("inverse_burgers", "lambda_error", 1e-8, marks=pytest.mark.slow),
])
def test_example_runs_and_reaches_its_quick_accuracy(name, key, bound):
    errors = run_example(name)
    assert errors[key] < bound, errors
