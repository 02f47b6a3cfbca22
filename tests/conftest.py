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
