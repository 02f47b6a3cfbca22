"""Shared fixtures. The `slow` marker is registered in pytest.ini and excluded by default."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def trained_run():
    """``trained_run(name)``: the ``(solver, history, x)`` of a run of ``golden_runs.RUNS``, trained
    once per test session (the golden tests and the solvers' own tests share it)."""
    import golden_runs

    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = golden_runs.RUNS[name]()
        return cache[name]

    return get


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """``(exit code, data file, run directory)`` of an uninterrupted ``msnn-tf fit --quick`` (two stages,
    the second trained), run once per session in-process (the kill test runs it as a subprocess)."""
    from cli_support import fit_command, target, write_csv
    from msnn_tf import cli

    folder = tmp_path_factory.mktemp("run")
    x = np.linspace(-1.0, 1.0, 300)
    data = write_csv(folder / "data.csv", x, target(x))
    command = fit_command(data, folder / "run", "--tensorboard", str(folder / "run" / "tensorboard"))[3:]
    return cli.main(command), data, folder / "run"
