"""Solver settings: checked once with errors naming the argument, per-stage values, the seed rule,
JSON round trips."""

import json

import numpy as np

import pytest

import msnn_tf as msnn
from msnn_tf.engine import PINNSettings, RegressionSettings

import golden_runs


def test_per_stage_values_and_seed_rule():
    settings = PINNSettings(width=(10, 20), epsilon=[1e-3, 1e-5], gamma=(0.3, 0.6), seed=7)
    assert [settings.value("width", k) for k in range(3)] == [10, 20, 20]
    # Hand-set epsilon and kappa are for stages >= 1: their sequences start at stage 1.
    assert [settings.value("epsilon", k) for k in (1, 2, 3)] == [1e-3, 1e-5, 1e-5]
    assert [settings.value("gamma", k) for k in (0, 1, 2)] == [0.3, 0.6, 0.6]
    assert settings.value("decay_rate", 4) == 0.5 and settings.stage_seed(3) == 3007


@pytest.mark.parametrize("cls", [RegressionSettings, PINNSettings])
def test_settings_round_trip_through_json(cls):
    settings = cls(width=(12, 30), learning_rate=[1e-3, 5e-4], seed=3)
    text = json.dumps(settings.to_dict())
    assert cls.from_dict(json.loads(text)) == settings and settings.width == (12, 30)


@pytest.mark.parametrize("name, value", [
    ("width", 0), ("width", (20, 2.5)), ("adam_steps", -1), ("adam_steps", 1.5), ("learning_rate", 0.0),
    ("learning_rate", float("nan")), ("lbfgs_iterations", -3), ("num_collocation", 0), ("num_collocation", 10.7),
    ("decay_rate", 0.0), ("decay_rate", 1.5), ("decay_steps", -10.0), ("kappa_factor", float("inf")),
    ("points_safety", 0.0), ("max_collocation", 0), ("grid_points", 1.5), ("depth", (3, 0)),
    ("least_squares_width", 0), ("least_squares_width", "wide"), ("least_squares_width", 2.5),
])
def test_pinn_solver_checks_every_setting(name, value):
    """Sizes that ``int()`` would silently truncate, and rates outside their ranges, are errors that
    name the argument."""
    with pytest.raises(ValueError, match=f"`{name}`"):
        msnn.MultiStagePINN(golden_runs.ode_problem(), **{name: value})


def test_settings_are_readable_on_the_solvers():
    regressor = msnn.MultiStageRegressor(width=(12, 40), verbose=0)
    assert regressor.width == (12, 40) and regressor.settings.width == (12, 40) and regressor.seed == 0
    solver = msnn.MultiStagePINN(golden_runs.ode_problem(), epsilon=[1e-3], verbose=0)
    assert solver.epsilon == (1e-3,) and solver.settings.value("epsilon", 1) == 1e-3
    with pytest.raises(AttributeError):
        regressor.no_such_setting


def test_grid_settings_cannot_change_after_the_solver_is_built():
    solver = msnn.MultiStagePINN(golden_runs.ode_problem(), verbose=0)
    with pytest.raises(ValueError, match="grid_points"):
        solver.settings = solver.settings.replace(grid_points=101)
    with pytest.raises(ValueError, match="settings"):
        solver.settings = {"width": 10}
    solver.settings = solver.settings.replace(width=12)
    assert solver.width == 12 and solver.objective.settings.width == 12


@pytest.mark.parametrize("dimension, expected", [(1, 1000), (2, 2500), (3, 3000)])
def test_auto_least_squares_width_follows_the_dimension(dimension, expected):
    from msnn_tf import pinn

    box = pinn.Box([0.0] * dimension, [1.0] * dimension)
    problem = pinn.Problem(box, lambda x, u, d: d.laplacian(), ["xx", "yy", "zz"][:dimension],
                           [pinn.DirichletBoundary(lambda x: np.zeros(len(x)), points_per_face=10)])
    assert msnn.MultiStagePINN(problem, verbose=0).objective.least_squares_width == expected
    assert msnn.MultiStagePINN(problem, least_squares_width=300, verbose=0).objective.least_squares_width == 300
