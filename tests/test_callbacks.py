"""Keras-style stage callbacks on both solvers: hooks in order, plans and reports that match the
history, ``stop_training`` at a stage boundary and within an optimizer block, ``verbose`` in ``fit``."""

import numpy as np
import pytest

import msnn_tf as msnn

import golden_runs

SMALL = dict(width=8, adam_steps=200, lbfgs_iterations=200, seed=0, jit_compile=False)  # no XLA: compiling costs more than 200 steps


def data():
    x = np.linspace(-1, 1, 200)[:, None]
    return x, golden_runs.target(x)


class StopAfterTwo(msnn.StageCallback):
    def on_stage_end(self, stage, report):
        if stage == 1:
            self.stop_training = True


class Recorder(msnn.StageCallback):
    def __init__(self):
        super().__init__()
        self.events, self.plans, self.reports, self.blocks, self.history = [], [], [], [], None

    def on_fit_begin(self):
        self.events.append("fit_begin")

    def on_stage_begin(self, stage, plan):
        self.events.append(("stage_begin", stage))
        self.plans.append(plan)

    def on_block_end(self, stage, logs):
        self.blocks.append((stage, dict(logs)))

    def on_stage_end(self, stage, report):
        self.events.append(("stage_end", stage))
        self.reports.append(report)

    def on_fit_end(self, history):
        self.events.append("fit_end")
        self.history = history


def test_regressor_callbacks_record_the_run_and_stop_after_stage_one():
    """A recorder's plans and reports match the history; StopAfterTwo ends training after stage 1 of 4;
    stop_training is reset when a fit begins (as Keras does), so a second fit also trains two stages."""
    x, y = data()
    stopper = StopAfterTwo()
    regressor = msnn.MultiStageRegressor(**dict(SMALL, lbfgs_iterations=(0, 200)))  # L-BFGS blocks: stage 1's
    for _ in range(2):
        recorder = Recorder()
        history = regressor.fit(x, y, num_stages=4, callbacks=[recorder, stopper], verbose=0)
        assert [s.stage for s in history.stages] == [0, 1] and all(s.accepted for s in history.stages)
        assert history.message == "stopped by a callback after stage 1" and stopper.stop_training
    assert recorder.events == ["fit_begin", ("stage_begin", 0), ("stage_end", 0), ("stage_begin", 1), ("stage_end", 1),
                               "fit_end"]
    assert recorder.history is history and recorder.reports == history.stages
    for plan, report in zip(recorder.plans, history.stages):
        assert (plan.stage, plan.width, plan.depth, plan.num_points) == (report.stage, report.width, report.depth,
                                                                           report.num_points)
        # Exact: the report takes epsilon, f_d and kappa_hat from the plan.
        assert plan.epsilon == report.epsilon and plan.dominant_frequency == report.dominant_frequency
        assert plan.kappa_hat == report.kappa_hat and plan.solver == "adam_lbfgs"
        assert plan.to_dict()["stage"] == plan.stage
    # One block report per 500 Adam steps (here the single block of 200) and per L-BFGS block.
    adam_blocks = [(stage, logs["iteration"]) for stage, logs in recorder.blocks if logs["solver"] == "adam"]
    assert adam_blocks == [(0, 200), (1, 200)]
    lbfgs_last = [logs["iteration"] for stage, logs in recorder.blocks if logs["solver"] == "lbfgs" and stage == 1][-1]
    assert lbfgs_last == history.stages[1].lbfgs_iterations


def test_pinn_callbacks_record_the_run_and_stop_after_stage_one():
    recorder = Recorder()
    # The default solver: stage 0 trained, stage 1 solved (16 features: not at round-off, which would stop
    # the fit by itself).
    solver = msnn.MultiStagePINN(golden_runs.ode_problem(), adam_steps=100, lbfgs_iterations=100, least_squares_width=16,
                                 verbose=0)
    history = solver.fit(num_stages=3, callbacks=[recorder, StopAfterTwo()])
    assert [s.stage for s in history.stages] == [0, 1] and solver.model.num_stages == 2
    assert history.message == "stopped by a callback after stage 1"
    assert recorder.reports == history.stages and len(recorder.plans) == 2
    for plan, report in zip(recorder.plans, history.stages):
        assert (plan.epsilon, plan.extras["gamma"], plan.extras["gamma_g"], plan.num_points) == (
            report.epsilon, report.gamma, report.gamma_g, report.num_collocation)
        assert plan.extras["residual_rms"] == report.residual_rms
        if plan.solver == "adam_lbfgs":
            assert plan.kappa_hat == report.kappa_hat
        else:  # a solved stage's plan leaves kappa_hat to the solve: the chosen candidate's
            assert plan.kappa_hat is None
            assert report.kappa_hat == solver.model.stage_networks[plan.stage].layers[0].kappa_hat
    assert [plan.solver for plan in recorder.plans] == ["adam_lbfgs", "least_squares"]


def test_stop_training_within_a_block_ends_the_stage_and_keeps_it():
    class StopAtFirstBlock(msnn.StageCallback):
        def on_block_end(self, stage, logs):
            self.stop_training = True

    x, y = data()
    regressor = msnn.MultiStageRegressor(width=8, adam_steps=1200, lbfgs_iterations=500, verbose=0)
    history = regressor.fit(x, y, num_stages=3, callbacks=[StopAtFirstBlock()])
    (report,) = history.stages
    # Adam runs in blocks of 500 steps: the first block ends it, and L-BFGS does not start.
    assert (report.adam_steps, report.lbfgs_iterations) == (500, 0) and report.accepted
    assert regressor.model.num_stages == 1 and history.message == "stopped by a callback after stage 0"


def test_verbose_in_fit_overrides_the_constructor(capsys):
    x, y = data()
    msnn.MultiStageRegressor(verbose=1, **SMALL).fit(x, y, num_stages=1, verbose=0)
    assert capsys.readouterr().out == ""
    msnn.MultiStageRegressor(verbose=0, **SMALL).fit(x, y, num_stages=1, verbose=1)
    out = capsys.readouterr().out
    assert "MultiStageRegressor: 1 stage(s), 200 points, d=1" in out
    assert "stage 0: epsilon 1.000e+00" in out and "stage 0 | adam     200/200" in out and "train RMS" in out


@pytest.mark.parametrize("callbacks", [[object()], "progress", [msnn.StageCallback, None]])
def test_bad_callbacks_are_rejected(callbacks):
    x, y = data()
    with pytest.raises(ValueError, match="callbacks"):
        msnn.MultiStageRegressor(**SMALL).fit(x, y, num_stages=1, callbacks=callbacks, verbose=0)
    with pytest.raises(ValueError, match="verbose"):
        msnn.MultiStagePINN(golden_runs.ode_problem()).fit(num_stages=1, verbose=2)
