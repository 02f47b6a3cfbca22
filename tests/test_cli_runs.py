"""``msnn-tf fit/predict/report``, checkpoints with resume after ``kill -9``, saved settings and
history (issue 17; hostile input: ``test_hostile_input.py``).

Every fit here uses ``--quick`` (300 Adam + 300 L-BFGS steps); tolerances are stated per assertion.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import msnn_tf as msnn
from msnn_tf import cli
from msnn_tf.reporting import TrainingHistory

from cli_support import ENV, ROOT, target
from cli_support import fit_command as _fit_command


def test_fit_writes_a_complete_run_directory(finished_run, capsys):
    code, data, run = finished_run
    assert code == 0
    for name in ("model.keras", "history.json", "losses.csv", "report.txt", "fit.png", "run.json", "saved_model"):
        assert (run / name).exists(), name
    history = json.loads((run / "history.json").read_text())  # strict JSON: json.loads rejects NaN only if asked
    json.dumps(history, allow_nan=False)
    assert history["format"] == "msnn_tf.history" and len(history["stages"]) >= 2
    losses = np.genfromtxt(run / "losses.csv", delimiter=",", names=True, dtype=None, encoding="utf-8")
    assert len(losses) > 100 and np.all(np.isfinite(losses["loss"]))
    regressor = msnn.MultiStageRegressor.load(run / "model.keras")
    import tensorflow as tf

    events = {}
    for path in (run / "tensorboard").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                events.setdefault(value.tag, []).append((event.step, float(tf.make_ndarray(value.tensor))))
    assert {"loss/adam", "loss/lbfgs", "stage/epsilon", "stage/kappa_hat", "stage/final_loss"} <= set(events)
    assert [v for _, v in events["stage/epsilon"]] == [s.epsilon for s in regressor.history.stages]  # exact
    steps = [step for step, _ in events["loss/adam"]]
    assert steps == sorted(steps) and all(np.isfinite(v) for _, v in events["loss/lbfgs"])
    x = np.linspace(-1.0, 1.0, 1001)[:, None]
    rms = regressor.evaluate(x, target(x))["rms"]
    assert rms < 1e-6 and rms < 0.01 * regressor.history.stages[0].train_rms  # --quick: stage 1 gains > 100x
    assert regressor.settings.adam_steps == 300 and len(regressor.history.stages) == len(history["stages"])


def test_predict_is_bit_identical_to_the_python_api(finished_run, tmp_path):
    _, data, run = finished_run
    out = tmp_path / "prediction.csv"
    assert cli.main(["predict", str(run), str(data), "-o", str(out)]) == 0
    written = np.loadtxt(out, delimiter=",", skiprows=1)
    x = np.loadtxt(data, delimiter=",", skiprows=1)[:, :1]
    expected = msnn.load_model(run / "model.keras").predict(x)[:, 0]
    assert np.array_equal(written[:, 1], expected)  # tolerance 0: repr() round-trips float64
    assert cli.main(["predict", str(run), str(data), "-o", str(out)]) == 2  # never overwritten silently
    assert cli.main(["predict", str(run), str(data), "-o", str(out), "--overwrite"]) == 0


def test_report_prints_the_stage_table(finished_run, capsys):
    _, _, run = finished_run
    capsys.readouterr()
    assert cli.main(["report", str(run)]) == 0
    out = capsys.readouterr().out
    assert "train RMS" in out and "stage(s) kept" in out


def test_help_lists_every_command_without_importing_tensorflow():
    code = ("import sys, msnn_tf.cli as c\n"
            "try:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('TF' if 'tensorflow' in sys.modules else 'no TF')")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    elapsed = time.perf_counter() - start
    assert result.stdout.strip().endswith("no TF"), result.stdout + result.stderr
    for command in ("demo", "fit", "predict", "report", "reproduce"):
        assert command in result.stdout
    assert elapsed < 5.0  # measured 0.13 s; the bound only guards against importing TensorFlow (4 s)


def test_history_round_trip_keeps_every_number(finished_run, tmp_path):
    _, _, run = finished_run
    history = TrainingHistory.load(run / "history.json")
    history.save(tmp_path / "again.json")
    again = TrainingHistory.load(tmp_path / "again.json")
    for a, b in zip(history.stages, again.stages):
        assert a.stage == b.stage and a.train_rms == b.train_rms and a.epsilon == b.epsilon  # exact
        np.testing.assert_array_equal(a.adam_losses, b.adam_losses)


@pytest.mark.slow  # the kill -9 test below checks the same in the default suite (~14 s saved)
def test_resume_in_process_equals_the_uninterrupted_run(finished_run, tmp_path):
    """The run directory copied with its stage-0 checkpoint only, resumed with --resume, equals the
    uninterrupted run (tolerance 0)."""
    _, data, whole = finished_run
    partial = tmp_path / "partial"
    regressor = msnn.MultiStageRegressor.load(whole / "model.keras")
    regressor.model.pop_stage()
    regressor.history.stages[:] = regressor.history.stages[:1]
    regressor.save(partial / "model.keras")
    (partial / "run.json").write_text((whole / "run.json").read_text())
    assert cli.main(_fit_command(data, partial, "--resume")[3:]) == 0
    x_eval = np.linspace(-1.0, 1.0, 333)[:, None]
    np.testing.assert_array_equal(msnn.MultiStageRegressor.load(partial / "model.keras").predict(x_eval),
                                  msnn.MultiStageRegressor.load(whole / "model.keras").predict(x_eval))


def test_kill_9_mid_stage_then_resume_equals_an_uninterrupted_run(finished_run, tmp_path):
    """A real subprocess, killed with SIGKILL while stage 1 trains (stage 0 checkpointed), resumed with
    --resume: its predictions equal those of an uninterrupted run with the same seed (tolerance 0)."""
    code, data, whole = finished_run
    assert code == 0
    env = ENV
    killed = tmp_path / "killed"
    process = subprocess.Popen(_fit_command(data, killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (killed / "losses.csv").exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed"  # losses.csv: stage 0's last file
    process.send_signal(signal.SIGKILL)
    process.wait()
    kept = TrainingHistory.load(killed / "history.json")
    assert [s.stage for s in kept.stages] == [0]  # stage 1 was under way: only it is lost
    assert cli.main(_fit_command(data, killed, "--resume")[3:]) == 0  # resumed in-process
    x_eval = np.linspace(-1.0, 1.0, 777)[:, None]
    resumed, uninterrupted = (msnn.MultiStageRegressor.load(d / "model.keras") for d in (killed, whole))
    assert resumed.model.num_stages == uninterrupted.model.num_stages == 2
    np.testing.assert_array_equal(resumed.predict(x_eval), uninterrupted.predict(x_eval))
    assert [s.train_rms for s in resumed.history.stages] == [s.train_rms for s in uninterrupted.history.stages]


def test_pinn_save_load_continues(tmp_path):
    from msnn_tf import pinn
    from msnn_tf.plotting import plot_pinn_summary

    problem = pinn.Problem(domain=pinn.Interval(0.0, 1.0), residual=lambda x, u, d: d["x"] - u, derivatives=["x"],
                           conditions=[pinn.PointValues([[0.0]], [[1.0]])], exact=lambda x: np.exp(x))
    solver = msnn.MultiStagePINN(problem, adam_steps=200, lbfgs_iterations=100, verbose=0,
                                 jit_compile=False)  # compiling costs more than these 300 steps
    solver.fit(num_stages=1)
    solver.save(tmp_path / "pinn.keras")
    back = msnn.MultiStagePINN.load(tmp_path / "pinn.keras", problem)
    assert back.settings == solver.settings and len(back.history.stages) == 1
    x = np.linspace(0.0, 1.0, 51)[:, None]
    np.testing.assert_array_equal(back.predict(x), solver.predict(x))  # tolerance 0: weights bit for bit
    back.fit(num_stages=1)
    assert back.evaluate()["rms"] < 1e-12 and back.evaluate(x)["max"] < 1e-11  # a solved stage: ~1e-15 measured
    png = plot_pinn_summary(back, tmp_path / "pinn.png", title="u' = u")
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and Path(png).stat().st_size > 20000
    other = pinn.Problem(domain=pinn.Interval(0.0, 2.0), residual=lambda x, u, d: d["x"] - u, derivatives=["x"],
                         conditions=[pinn.PointValues([[0.0]], [[1.0]])])
    with pytest.raises(ValueError, match="problem has 1 on"):
        msnn.MultiStagePINN.load(tmp_path / "pinn.keras", other)


def test_2d_regression_map_plot(tmp_path):
    from msnn_tf.plotting import plot_regression_2d

    model = msnn.StagedModel(2, lower=-1.0, upper=1.0)
    model.add_stage(msnn.build_stage_network(2, width=8), epsilon=1.0)
    x = np.random.default_rng(0).uniform(-1.0, 1.0, (500, 2))
    png = plot_regression_2d(model, x, np.sin(x[:, 0]) * x[:, 1], tmp_path / "map.png")
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and Path(png).stat().st_size > 20000
