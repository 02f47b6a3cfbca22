"""Matplotlib helpers (imported lazily: ``import msnn_tf`` never loads matplotlib)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_pinn_summary", "plot_regression_2d", "plot_regression_summary"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_regression_summary(model, history, x_eval, y_eval, path, title=None) -> str:
    """Writes a 6-panel PNG of a 1-D multi-stage regression and returns its path.

    Panels: (a) data and the final fit; (b) ``|error|`` of the sum of the first ``k`` stages on a
    log scale, one curve per ``k``; (c) loss of each stage against its iterations, log scale;
    (d) amplitude spectrum of the residue each stage was given (the one after the previous stages,
    whose peak is the stage's ``f_d``, eq. 2.8); (e) each stage's ``eps`` (eq. 2.3) against the
    iteration at which it started, with the RMS error after it; (f) RMS error after each stage
    (training data, and validation data when the history has them).
    """
    from msnn_tf.spectral import amplitude_spectra

    plt = _pyplot()
    x_eval = np.asarray(x_eval, dtype=np.float64).reshape(-1, 1)
    y_eval = np.asarray(y_eval, dtype=np.float64).reshape(-1, 1)
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    axes = axes.ravel()
    axes[0].plot(x_eval[:, 0], y_eval[:, 0], "b-", lw=2, label="target")
    axes[0].plot(x_eval[:, 0], model.predict(x_eval)[:, 0], "r--", lw=1.5, label=f"{model.num_stages}-stage network")
    axes[0].set(xlabel="x", ylabel="u(x)", title="(a) fit")
    axes[0].legend()
    # The model's k-th stage is the k-th kept one of the history (discarded stages keep their numbers).
    kept = [r.stage for r in history.stages if r.accepted] + list(range(model.num_stages))
    scaled = np.asarray(model.scale_inputs(x_eval))  # f_d is read in the input scaled to [-1, 1] (eq. 2.8)
    for k in range(0, model.num_stages + 1):
        residue = (y_eval - model.predict(x_eval, num_stages=k))[:, 0]
        if k:
            axes[1].semilogy(x_eval[:, 0], np.maximum(np.abs(residue), 1e-18), lw=1, label=f"after stage {kept[k - 1]}")
        if k < model.num_stages and np.all(np.isfinite(residue)) and np.any(residue):
            frequencies, amplitudes = amplitude_spectra(scaled, residue)[0]
            axes[3].semilogy(frequencies, np.maximum(amplitudes, 1e-300), lw=1, label=f"given to stage {kept[k]}")
    axes[1].set(xlabel="x", ylabel="|u_g(x) - u(x)|", title="(b) error after each stage")
    axes[1].legend(fontsize=8)
    frequencies_read = [max(r.dominant_frequency, default=0.0) for r in history.stages]
    axes[3].set_xlim(0.0, max([20.0] + [8.0 * f for f in frequencies_read]))  # around the f_d the stages read
    axes[3].set(xlabel="frequency (cycles per unit of x scaled to [-1, 1])", ylabel="amplitude",
                title="(d) spectrum of each stage's residue")
    if model.num_stages:
        axes[3].legend(fontsize=8)
    _stage_losses(axes[2], history)
    axes[2].set_title("(c) training loss per stage")
    offset, starts, epsilons, errors, stages = 0, [], [], [], []
    scale = float(np.asarray(getattr(model, "output_scale", [1.0]))[0])  # eps is in normalised output units
    for report in history.stages:
        starts.append(offset)
        epsilons.append(report.epsilon * scale)
        errors.append(report.train_rms)
        stages.append(report.stage)
        offset += report.iterations
    if stages:
        axes[4].semilogy(starts, epsilons, "o-", label="eps of the stage (eq. 2.3, data units)")
        axes[4].semilogy(starts, np.maximum(errors, 1e-18), "s--", label="train RMS after it")
        axes[4].legend(fontsize=8)
        axes[5].semilogy(stages, np.maximum(errors, 1e-18), "o-", label="train RMS")
        validation = [r.validation_rms for r in history.stages]
        if all(v is not None for v in validation):
            axes[5].semilogy(stages, np.maximum(validation, 1e-18), "s--", label="validation RMS")
        axes[5].set_xticks(stages)
        axes[5].legend(fontsize=8)
    axes[4].set(xlabel="iteration at which the stage starts", ylabel="magnitude", title="(e) eps per stage vs iterations")
    axes[5].set(xlabel="stage", ylabel="RMS error", title="(f) error after each stage")
    return _save(plt, fig, path, title, dpi=110)


def _save(plt, fig, path, title, dpi) -> str:
    """Titles, lays out, writes and closes ``fig``; returns the path as a string."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return str(path)


def _stage_losses(ax, history) -> None:
    """Each stage's normalised loss against cumulative iterations (regression or PINN reports)."""
    offset = 0
    for report in history.stages:
        if hasattr(report, "adam_losses"):
            losses = np.asarray(report.adam_losses)
            iterations = offset + np.arange(losses.size)
            if np.asarray(report.lbfgs_losses).size:
                iterations = np.concatenate([iterations, offset + losses.size + np.asarray(report.lbfgs_iterations_history)])
                losses = np.concatenate([losses, report.lbfgs_losses])
        else:
            iterations, losses = offset + np.asarray(report.loss_iterations), np.asarray(report.losses)
        if losses.size:
            ax.semilogy(iterations, np.maximum(losses, 1e-300), lw=1, label=f"stage {report.stage}")
            offset = int(iterations[-1])
    ax.set(xlabel="iteration (stages in sequence)", ylabel="normalised loss of the stage", title="training loss per stage")
    if history.stages:
        ax.legend(fontsize=8)


def _map(fig, ax, x, values, title, axis_names=("x", "y")) -> None:
    points = ax.tricontourf(x[:, 0], x[:, 1], values, levels=40, cmap="viridis")
    fig.colorbar(points, ax=ax)
    ax.set(xlabel=axis_names[0], ylabel=axis_names[1], title=title)


def plot_regression_2d(model, x, y, path, title=None, history=None) -> str:
    """Writes maps of a 2-D regression (data, ``log10 |error|`` of the final model, and the stage losses
    when ``history`` is given) at scattered or gridded points ``x (N, 2)``; returns the path."""
    plt = _pyplot()
    x = np.asarray(x, dtype=np.float64).reshape(-1, 2)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    error = np.abs(y - model.predict(x)[:, 0])
    fig, axes = plt.subplots(1, 3 if history is not None else 2, figsize=(16 if history is not None else 11, 4.6))
    _map(fig, axes[0], x, y, "data")
    _map(fig, axes[1], x, np.log10(np.maximum(error, 1e-18)), f"log10 |error| (RMS {np.sqrt(np.mean(error**2)):.1e})")
    if history is not None:
        _stage_losses(axes[2], history)
    return _save(plt, fig, path, title, dpi=120)


def plot_pinn_summary(solver, path, title=None) -> str:
    """Writes a 4-panel PNG of a :class:`~msnn_tf.MultiStagePINN` in 1-D or 2-D and returns its path.

    Panels: (a) the solution (1-D: with the exact one when the problem has it; 2-D: a map); (b) the
    error against the exact solution after each stage (1-D) or of the final model (2-D map), or the
    equation residual without an exact solution; (c) ``|r|`` of the equation residual after each stage
    (1-D) or of the final model (2-D); (d) the loss of each stage against its iterations.
    """
    plt = _pyplot()
    problem, model = solver.problem, solver.model
    d = problem.domain.dim
    if d not in (1, 2):
        raise ValueError(f"plot_pinn_summary draws 1-D and 2-D problems, got d={d}")
    lower, upper = problem.domain.lower, problem.domain.upper
    if d == 1:
        x = np.linspace(lower[0], upper[0], 2001)[:, None]
    else:
        axes_points = [np.linspace(lo, hi, 121) for lo, hi in zip(lower, upper)]
        x = np.stack(np.meshgrid(*axes_points, indexing="ij"), axis=-1).reshape(-1, 2)
    exact = None if problem.exact is None else np.asarray(problem.exact(x), dtype=np.float64).reshape(len(x), -1)[:, 0]
    names = problem.domain.axis_names
    fig, axes = plt.subplots(1, 4, figsize=(21, 4.6))
    count = model.num_stages
    if d == 1:
        axes[0].plot(x[:, 0], solver.predict(x)[:, 0], "r-", lw=1.5, label=f"{count}-stage network")
        if exact is not None:
            axes[0].plot(x[:, 0], exact, "k--", lw=1, label="exact")
        axes[0].set(xlabel=names[0], ylabel="u", title="(a) solution")
        axes[0].legend()
        for k in range(1, count + 1):
            if exact is not None:
                axes[1].semilogy(x[:, 0], np.maximum(np.abs(exact - solver.predict(x, num_stages=k)[:, 0]), 1e-18), lw=1,
                                 label=f"after stage {k - 1}")
            axes[2].semilogy(x[:, 0], np.maximum(np.abs(solver.residual(x, num_stages=k)[:, 0]), 1e-18), lw=1,
                             label=f"after stage {k - 1}")
        axes[1].set(xlabel=names[0], ylabel="|u_exact - u|", title="(b) error after each stage")
        axes[2].set(xlabel=names[0], ylabel="|r|", title="(c) equation residual after each stage")
        for ax in axes[1:3]:
            if count and ax.lines:
                ax.legend(fontsize=8)
    else:
        _map(fig, axes[0], x, solver.predict(x)[:, 0], "(a) solution", names)
        if exact is not None:
            error = np.abs(exact - solver.predict(x)[:, 0])
            _map(fig, axes[1], x, np.log10(np.maximum(error, 1e-18)),
                 f"(b) log10 |error| (RMS {np.sqrt(np.mean(error**2)):.1e})", names)
        else:
            axes[1].set_axis_off()
        residual = np.abs(solver.residual(x)[:, 0])
        _map(fig, axes[2], x, np.log10(np.maximum(residual, 1e-18)), "(c) log10 |r|", names)
    _stage_losses(axes[3], solver.history)
    axes[3].set_title("(d) training loss per stage")
    return _save(plt, fig, path, title, dpi=110)
