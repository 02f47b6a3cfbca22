"""The four scripts of ``examples/`` run in their quick mode and reach what their quick mode can
(bounds measured on 2 cores, stated per example with a margin). The inverse-problem example runs
with ``-m slow``."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(["--quick"])


@pytest.mark.parametrize("name, key, bound", [
    ("regression_from_csv", "rms", 1e-12),   # a solved stage 1 reaches round-off even after a short stage 0
    ("regression_2d", "rms", 1e-10),         # off-grid; measured 1.8e-13
    ("forward_pinn", "rms", 1e-10),
    # ~55 s (a stage 0 with fourth derivatives of U, then three solves): in the slow suite, for CI's budget
    pytest.param("inverse_burgers", "lambda_error", 1e-8, marks=pytest.mark.slow),
])
def test_example_runs_and_reaches_its_quick_accuracy(name, key, bound):
    errors = run_example(name)
    assert errors[key] < bound, errors
