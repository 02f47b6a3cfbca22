"""Matplotlib helpers (imported lazily: ``import msnn_tf`` never loads matplotlib)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_regression_summary"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_regression_summary(model, history, x_eval, y_eval, path, title=None) -> str:
    """Writes a 3-panel PNG of a 1-D multi-stage regression and returns its path.

    Panels: (a) data and the final fit; (b) ``|error|`` of the sum of the first ``k`` stages on a
    log scale, one curve per ``k``; (c) loss of each stage against its iterations, log scale.
    """
    plt = _pyplot()
    x_eval = np.asarray(x_eval, dtype=np.float64).reshape(-1, 1)
    y_eval = np.asarray(y_eval, dtype=np.float64).reshape(-1, 1)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    axes[0].plot(x_eval[:, 0], y_eval[:, 0], "b-", lw=2, label="target")
    axes[0].plot(x_eval[:, 0], model.predict(x_eval)[:, 0], "r--", lw=1.5, label=f"{model.num_stages}-stage network")
    axes[0].set_xlabel("x")
    axes[0].set_ylabel("u(x)")
    axes[0].set_title("(a) fit")
    axes[0].legend()
    for k in range(1, model.num_stages + 1):
        error = np.abs(y_eval - model.predict(x_eval, num_stages=k))[:, 0]
        axes[1].semilogy(x_eval[:, 0], np.maximum(error, 1e-18), lw=1, label=f"after stage {k - 1}")
    axes[1].set_xlabel("x")
    axes[1].set_ylabel("|u_g(x) - u(x)|")
    axes[1].set_title("(b) error after each stage")
    axes[1].legend(fontsize=8)
    offset = 0
    for report in history.stages:
        adam = np.asarray(report.adam_losses)
        iterations = offset + np.arange(adam.size)
        losses = adam
        if report.lbfgs_losses.size:
            iterations = np.concatenate([iterations, offset + adam.size + np.asarray(report.lbfgs_iterations_history)])
            losses = np.concatenate([losses, report.lbfgs_losses])
        axes[2].semilogy(iterations, np.maximum(losses, 1e-300), lw=1, label=f"stage {report.stage}")
        offset += report.iterations
    axes[2].set_xlabel("iteration (Adam then L-BFGS, cumulative)")
    axes[2].set_ylabel("normalised loss of the stage")
    axes[2].set_title("(c) training loss per stage")
    axes[2].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return str(path)
