"""Golden tests: five fixed-seed runs reproduce the histories and predictions recorded on main at
9f1f4cf, before the stage engine (``tests/golden_runs.py``), and the public API keeps its names.

Integers, booleans, strings and nulls must match exactly, floats to a relative tolerance of 1e-12
(the runs are bit-for-bit repeatable on one machine; 1e-12 leaves room for summation-order changes
that move a final digit, not for a changed algorithm, which moves the losses at 1e-3 or more).
"""

import dataclasses
import inspect
import json
import math

import pytest

import msnn_tf as msnn
from msnn_tf import pinn

import golden_runs

RTOL = 1e-12


def assert_matches(golden, current, path="$"):
    """``current`` holds everything ``golden`` holds (extra keys allowed), floats to RTOL."""
    if isinstance(golden, dict):
        assert isinstance(current, dict), f"{path}: expected a dict, got {current!r}"
        for key, value in golden.items():
            assert key in current, f"{path}: missing key {key!r}"
            assert_matches(value, current[key], f"{path}.{key}")
    elif isinstance(golden, list):
        assert isinstance(current, list) and len(current) == len(golden), (
            f"{path}: expected a list of {len(golden)}, got {current if not isinstance(current, list) else len(current)}")
        for i, (g, c) in enumerate(zip(golden, current)):
            assert_matches(g, c, f"{path}[{i}]")
    elif isinstance(golden, float):
        assert isinstance(current, (float, int)) and not isinstance(current, bool), f"{path}: {current!r} is not a number"
        assert math.isclose(golden, current, rel_tol=RTOL, abs_tol=0.0), f"{path}: {current!r} != {golden!r} (rtol {RTOL})"
    else:
        assert type(current) is type(golden) and current == golden, f"{path}: {current!r} != {golden!r}"


@pytest.mark.parametrize("name", sorted(golden_runs.RUNS))
def test_run_reproduces_the_recorded_history_and_predictions(name, trained_run):
    golden = json.loads((golden_runs.GOLDEN_DIR / f"{name}.json").read_text())
    solver, history, x = trained_run(name)
    assert_matches(golden, golden_runs.snapshot(solver, history, x))


def _signature(function):
    return [[p.name, p.kind.name, repr(p.default) if p.default is not inspect.Parameter.empty else None]
            for p in inspect.signature(function).parameters.values()]


#: Keyword arguments added since the recording, with their defaults (issue 16: inverse problems;
#: issue 19: stop rule of trained stages, 1-D solved stages).
ADDED = {
    "pinn.Problem.__init__": {"parameters": "None", "constraints": "None", "symmetry": "None",
                              "parameter_scales": "None"},  # issue 16: stage 0's eps_lambda
    "MultiStagePINN.__init__": {"parameter_network": "'auto'", "stop_rule": "'auto'", "min_block_gain": "2.0",
                                "strategy": "None",  # issue 17: tf.distribute
                                "gauss_newton_steps": "4",  # issue 18: nonlinear solved stages
                                "rescale_frozen_stages": "True",  # issue 18: solved stages rescale the frozen ones
                                "levenberg_marquardt_iterations": "0"},  # issue 16: Gauss-Newton after trained stages
    "MultiStageRegressor.__init__": {"stop_rule": "'auto'", "min_block_gain": "2.0", "min_least_squares_features": "64",
                                     "strategy": "None"},
    "StagedModel.__init__": {"stage_parameters": "None", "metadata": "None"},
    "MultiStageRegressor.fit": {"initial_model": "None"},  # issue 17: resume
}

#: Defaults changed on purpose since the recording: ``{function: {argument: (recorded, current)}}``
#: (issue 19: the PINN solves its stages >= 1 by least squares where it can, as the regressor did in 2-D;
#: issue 18: the features of a solved PINN stage follow the dimension).
CHANGED_DEFAULTS = {
    "MultiStagePINN.__init__": {"stage_solver": ("'adam_lbfgs'", "'auto'"), "least_squares_width": ("1000", "'auto'")},
}


def test_public_api_keeps_the_recorded_names():
    """``__all__`` keeps every recorded name, constructors keep their signatures (plus exactly the
    keywords of ``ADDED``), ``fit`` keeps its own plus the added ``callbacks`` and ``verbose``, and
    reports keep every field name."""
    golden = json.loads((golden_runs.GOLDEN_DIR / "api.json").read_text())
    assert set(golden["msnn_tf.__all__"]) <= set(msnn.__all__)
    assert set(golden["msnn_tf.pinn.__all__"]) <= set(pinn.__all__)
    functions = {
        "MultiStageRegressor.__init__": msnn.MultiStageRegressor.__init__,
        "MultiStageRegressor.fit": msnn.MultiStageRegressor.fit,
        "MultiStagePINN.__init__": msnn.MultiStagePINN.__init__,
        "MultiStagePINN.fit": msnn.MultiStagePINN.fit,
        "pinn.Problem.__init__": pinn.Problem.__init__,
        "StagedModel.__init__": msnn.StagedModel.__init__,
    }
    for name, function in functions.items():
        current = _signature(function)
        changed = CHANGED_DEFAULTS.get(name, {})
        assert all(p[2] == changed[p[0]][1] for p in current if p[0] in changed), (name, current)
        current = [[p[0], p[1], changed[p[0]][0]] if p[0] in changed else p for p in current]
        added = [p for p in current if p[0] in ADDED.get(name, {})]
        assert {p[0]: p[2] for p in added} == ADDED.get(name, {}), (name, added)
        current = [p for p in current if p not in added]
        if name.endswith(".fit"):
            added = [p for p in current if p[0] in ("callbacks", "verbose")]
            assert [p[0] for p in added] == ["callbacks", "verbose"] and all(p[2] == "None" for p in added), added
            current = [p for p in current if p not in added]
        assert current == golden["signatures"][name], name
    reports = {"StageReport": msnn.StageReport, "PINNStageReport": pinn.PINNStageReport,
               "TrainingHistory": msnn.TrainingHistory, "PINNHistory": pinn.PINNHistory}
    for name, cls in reports.items():
        fields = [f.name for f in dataclasses.fields(cls)]
        assert set(golden["report_fields"][name]) <= set(fields), (name, set(golden["report_fields"][name]) - set(fields))
