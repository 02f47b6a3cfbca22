"""The ``msnn-tf`` command (argparse subcommands; TensorFlow is imported only when a command runs).

``demo`` (a multi-stage regression with a table and a plot), ``fit DATA --out RUN_DIR`` (a data file
to a run directory, checkpointed per stage, ``--resume`` after a kill), ``predict MODEL DATA``,
``report RUN_DIR`` and ``reproduce FIGURE|all``. Exit codes: 0 success, 2 bad usage or bad input (one
line on stderr, no traceback), 1 a training failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

__all__ = ["UsageError", "main"]

DEMO_TARGET = "sin(2x + 1) + 0.2 exp(1.3x)"


def _demo_target(x):
    import numpy as np

    return np.sin(2.0 * x + 1.0) + 0.2 * np.exp(1.3 * x)


def demo(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="msnn-tf demo", description=f"Multi-stage regression of {DEMO_TARGET} on [-1, 1].")
    parser.add_argument("--out", default="msnn_demo_output", help="output folder (default: %(default)s)")
    parser.add_argument("--num-stages", type=int, default=4, help="stages to train (default: %(default)s)")
    parser.add_argument("--num-points", type=int, default=5000, help="uniform training points (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="few iterations, for a smoke test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1))
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import numpy as np

    import msnn_tf as msnn
    from msnn_tf.plotting import plot_regression_summary

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    x = np.linspace(-1.0, 1.0, args.num_points)[:, None]
    x_eval = np.linspace(-1.0, 1.0, 8000)[:, None]
    settings = dict(seed=args.seed, verbose=args.verbose)
    if args.quick:
        settings.update(adam_steps=300, lbfgs_iterations=300)
    regressor = msnn.MultiStageRegressor(**settings)
    start = time.perf_counter()
    history = regressor.fit(x, _demo_target(x), num_stages=args.num_stages, validation_data=(x_eval, _demo_target(x_eval)))
    wall = time.perf_counter() - start
    error = _demo_target(x_eval) - regressor.predict(x_eval)
    print()
    print(f"target {DEMO_TARGET}: {args.num_points} training points, 8000 evaluation points on [-1, 1]")
    print(history.table())
    print(f"final evaluation RMS {float(np.sqrt(np.mean(error ** 2))):.3e}, max {float(np.max(np.abs(error))):.3e}, "
          f"wall time {wall:.1f} s")
    png = plot_regression_summary(regressor.model, history, x_eval, _demo_target(x_eval), out / "demo.png",
                                  title=f"multi-stage regression of {DEMO_TARGET}")
    regressor.save(out / "demo_model.keras")
    history.save(out / "demo_history.json")
    print(f"wrote {png}, {out / 'demo_model.keras'} and {out / 'demo_history.json'}")
    return 0


class UsageError(ValueError):
    """Bad usage or bad input: exit code 2, one line on stderr."""


RUN_FORMAT = "msnn_tf.run"
RUN_VERSION = 1


def _check_output(path: Path, overwrite: bool, what: str) -> None:
    if path.exists() and not overwrite:
        raise UsageError(f"{what} {str(path)!r} exists; pass --overwrite to replace it")


def _read_xy(path, inputs, output):
    """``(x, y, input names, output name)`` of a data file."""
    from msnn_tf.tabular import read_table, select_columns

    names, values = read_table(path)
    return select_columns(names, values, inputs, output, source=repr(str(path)))


def _check_duplicates(x, y, source):
    import numpy as np

    order = np.lexsort(x.T[::-1])
    xs, ys = x[order], y[order, 0]
    same = np.all(xs[1:] == xs[:-1], axis=1)
    conflict = same & (ys[1:] != ys[:-1])
    if conflict.any():
        i = int(np.argmax(conflict))
        rows = sorted((int(order[i]) + 2, int(order[i + 1]) + 2))  # file rows: the header is row 1
        raise UsageError(f"{source}: rows {rows[0]} and {rows[1]} have the same inputs {xs[i].tolist()} but different "
                         f"outputs ({ys[i]!r} and {ys[i + 1]!r}); a function has one value per input")


def _names(text):
    return None if text is None else [n.strip() for n in text.split(",") if n.strip()]


def fit_command(args) -> int:
    """``msnn-tf fit DATA --out RUN_DIR``: a multi-stage regression of a data file, written as a run directory."""
    from msnn_tf.jsonio import check_version, read_json, write_json

    out = Path(args.out)
    run_file = out / "run.json"
    if args.resume:
        if not run_file.is_file():
            raise UsageError(f"--resume: {str(out)!r} is not a run directory (no run.json)")
        run = read_json(run_file)
        if not isinstance(run, dict) or run.get("format") != RUN_FORMAT:
            raise UsageError(f"--resume: {str(run_file)!r} is not an msnn-tf run file")
        check_version(run.get("version"), RUN_VERSION, f"--resume: {str(run_file)!r}", "run")
    elif out.exists() and any(out.iterdir()) and not args.overwrite:
        raise UsageError(f"output directory {str(out)!r} exists and is not empty; pass --overwrite to replace its "
                         "files or --resume to continue its run")
    x, y, inputs, output = _read_xy(args.data, _names(args.inputs), args.output)
    _check_duplicates(x, y, repr(str(args.data)))
    validation = None
    if args.validation:
        xv, yv, _, _ = _read_xy(args.validation, inputs, output)
        validation = (xv, yv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np

    import msnn_tf as msnn
    from msnn_tf.plotting import plot_regression_2d, plot_regression_summary

    settings = dict(seed=args.seed, verbose=args.verbose, stage_solver=args.stage_solver)
    if args.quick:
        settings.update(adam_steps=300, lbfgs_iterations=300)
    initial_model = None
    # What a resumed run must share with the run it continues (written to run.json when a run starts).
    started = {"data": str(Path(args.data).resolve()), "inputs": inputs, "output": output, "seed": args.seed,
               "quick": bool(args.quick), "stage_solver": args.stage_solver}
    if args.resume:
        for key, now in started.items():
            if run.get(key) != now:
                raise UsageError(f"--resume: the run was started with {key} {run.get(key)!r}, not {now!r}")
        if (out / "model.keras").is_file():
            regressor = msnn.MultiStageRegressor.load(out / "model.keras", verbose=args.verbose)
            initial_model = regressor.model
        else:  # killed before its first stage ended
            regressor = msnn.MultiStageRegressor(**settings)
    else:
        out.mkdir(parents=True, exist_ok=True)
        write_json(run_file, {"format": RUN_FORMAT, "version": RUN_VERSION, **started, "num_stages": args.num_stages,
                              "validation": args.validation})
        regressor = msnn.MultiStageRegressor(**settings)
    start = time.perf_counter()
    try:
        history = regressor.fit(x, y, num_stages=args.num_stages, target_rms=args.target_rms, validation_data=validation,
                                callbacks=[msnn.Checkpoint(out, regressor)]
                                + ([msnn.TensorBoard(args.tensorboard)] if args.tensorboard else []),
                                initial_model=initial_model)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if not any(s.accepted for s in history.stages):
        print(f"msnn-tf fit: no stage was accepted ({history.message})", file=sys.stderr)
        return 1
    export = out / "saved_model"  # model.keras and history.json: written by the Checkpoint callback
    if export.exists():
        import shutil

        shutil.rmtree(export)
    regressor.export(export)
    png = None
    if x.shape[1] == 1:
        order = np.argsort(x[:, 0])
        png = plot_regression_summary(regressor.model, history, x[order], y[order], out / "fit.png",
                                      title=f"multi-stage regression of {output}({', '.join(inputs)})")
    elif x.shape[1] == 2:
        png = plot_regression_2d(regressor.model, x, y, out / "fit.png", history=history,
                                 title=f"multi-stage regression of {output}({', '.join(inputs)})")
    print(history.table())
    rms = regressor.evaluate(x, y)
    print(f"training data RMS {rms['rms']:.3e}, max {rms['max']:.3e}; {time.perf_counter() - start:.1f} s; wrote "
          f"{out / 'model.keras'}, {export}, {out / 'history.json'}, {out / 'losses.csv'}" + (f", {png}" if png else ""))
    return 0


def predict_command(args) -> int:
    """``msnn-tf predict MODEL DATA [-o OUT.csv]``."""
    model_path = Path(args.model)
    exported = model_path.is_dir() and (model_path / "saved_model.pb").exists()
    if model_path.is_dir() and not exported:
        model_path = model_path / "model.keras"
    import numpy as np

    from msnn_tf.tabular import read_table, write_table

    names, values = read_table(args.data, min_columns=1, min_rows=1)  # points to predict at: inputs only
    if args.output_file is not None:
        _check_output(Path(args.output_file), args.overwrite, "output file")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import msnn_tf as msnn

    if exported:  # a SavedModel (e.g. RUN_DIR/saved_model): TensorFlow alone evaluates it
        from msnn_tf.staged_model import ExportedModel

        model = ExportedModel(model_path)
    else:
        model = msnn.load_model(model_path)
    inputs = _names(args.inputs)
    if inputs is None:
        metadata_run = model_path.resolve().parent / "run.json"
        if metadata_run.is_file():
            from msnn_tf.jsonio import read_json

            inputs = read_json(metadata_run).get("inputs")
        else:
            inputs = names[:model.input_dim]
    missing = [n for n in inputs if n not in names]
    if missing:
        raise UsageError(f"{str(args.data)!r}: no column(s) {missing}; the columns are {names}")
    if len(inputs) != model.input_dim:
        raise UsageError(f"the model takes {model.input_dim} input(s), got columns {inputs}")
    x = values[:, [names.index(n) for n in inputs]]
    prediction = model.predict(x)
    if args.output_file is None:
        for row in prediction:
            print(",".join(repr(float(v)) for v in row))
        return 0
    target = Path(args.output_file)
    write_table(target, [*inputs, "prediction"], np.hstack([x, prediction]))
    print(f"wrote {len(x)} prediction(s) to {target}")
    return 0


def report_command(args) -> int:
    """``msnn-tf report RUN_DIR``: the per-stage table of a finished or interrupted run."""
    from msnn_tf.reporting import TrainingHistory

    run = Path(args.run_dir)
    path = run / "history.json" if run.is_dir() else run
    if not path.is_file():
        raise UsageError(f"{str(run)!r} holds no history.json (a run directory of `msnn-tf fit`?)")
    history = TrainingHistory.load(path)
    print(history.table())
    print(f"{len(history.accepted_stages)} stage(s) kept; {history.message or 'run interrupted or under way'}")
    return 0


def reproduce_command(args) -> int:
    """``msnn-tf reproduce FIGURE|all [--quick]``: runs the reproduction scripts of the source tree."""
    import subprocess

    folder = Path(__file__).resolve().parents[1] / "reproductions"
    if not folder.is_dir():
        raise UsageError(f"the reproduction scripts are not installed (no {str(folder)!r}): run from a source checkout")
    scripts = sorted(p.stem for p in folder.glob("*.py") if p.stem != "common")
    wanted = scripts if args.figure == "all" else [s for s in scripts if s == args.figure or s.startswith(args.figure + "_")]
    if not wanted:
        raise UsageError(f"unknown figure {args.figure!r}; choose 'all' or one of {scripts}")
    failed = 0
    for name in wanted:
        command = [sys.executable, str(folder / f"{name}.py")] + (["--quick"] if args.quick else [])
        if args.out:
            command += ["--out", str(Path(args.out) / name)]
        print(f"msnn-tf reproduce: {' '.join(command)}", flush=True)
        failed += subprocess.call(command) != 0
    return 1 if failed else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="msnn-tf", description="Multi-stage neural networks of machine precision "
                                     "(Wang & Lai, J. Comput. Phys. 2024).")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo_parser = commands.add_parser("demo", help=f"multi-stage regression of {DEMO_TARGET}: table and PNG",
                                      add_help=False)
    demo_parser.add_argument("rest", nargs=argparse.REMAINDER, help="options of the demo (msnn-tf demo --help)")
    fit = commands.add_parser("fit", help="fit a CSV or NPZ data file; write a run directory",
                              description="Multi-stage regression of a data file. Writes RUN_DIR/{model.keras, "
                                          "saved_model/, history.json, losses.csv, report.txt, fit.png}; every "
                                          "finished stage is checkpointed, so --resume continues a killed run.")
    fit.add_argument("data", help="CSV with a header row, or .npz")
    fit.add_argument("--out", required=True, help="run directory")
    fit.add_argument("--inputs", help="comma-separated input columns (default: all but the output)")
    fit.add_argument("--output", help="output column (default: the last)")
    fit.add_argument("--num-stages", type=int, default=4, help="stages in all (default: %(default)s)")
    fit.add_argument("--target-rms", type=float, help="stop once the RMS error is at or below this")
    fit.add_argument("--validation", help="validation data file (same columns)")
    fit.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    fit.add_argument("--stage-solver", default="auto", choices=("auto", "adam_lbfgs", "least_squares"),
                     help="stages after the first: trained or solved (default: %(default)s, chosen from the data)")
    fit.add_argument("--quick", action="store_true", help="few iterations (a smoke test)")
    fit.add_argument("--resume", action="store_true", help="continue the run in --out after its last finished stage")
    fit.add_argument("--overwrite", action="store_true", help="replace the files of an existing --out")
    fit.add_argument("--tensorboard", metavar="LOG_DIR", help="also write TensorBoard summaries (losses, eps, f_d, "
                     "kappa_hat per stage) to LOG_DIR")
    fit.add_argument("--verbose", type=int, default=1, choices=(0, 1))
    predict = commands.add_parser("predict", help="predictions of a saved model (bit-identical to the Python API)")
    predict.add_argument("model", help="a .keras file, a run directory or a SavedModel directory (run/saved_model)")
    predict.add_argument("data", help="CSV or .npz with the input columns")
    predict.add_argument("-o", "--output-file", help="CSV to write (default: print to stdout)")
    predict.add_argument("--inputs", help="comma-separated input columns (default: the run's, else the first ones)")
    predict.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    report = commands.add_parser("report", help="per-stage table of a finished or interrupted run")
    report.add_argument("run_dir", help="run directory (or its history.json)")
    reproduce = commands.add_parser("reproduce", help="run reproduction scripts of the paper's figures")
    reproduce.add_argument("figure", help="e.g. fig05 or fig05_multistage_regression, or 'all'")
    reproduce.add_argument("--quick", action="store_true", help="small, fast runs")
    reproduce.add_argument("--out", help="folder for the results (default: each script's own)")
    return parser


def main(argv=None) -> int:
    """Entry point of ``msnn-tf``; returns the exit code (0 success, 2 bad usage or input, 1 training failure)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if not argv:
        parser.print_help(sys.stderr)
        return 2
    if argv[0] == "demo":
        return demo(argv[1:])
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse: --help (0) or bad usage (2, its message already printed)
        return int(exit_.code or 0)
    handlers = {"fit": fit_command, "predict": predict_command, "report": report_command, "reproduce": reproduce_command}
    try:
        return handlers[args.command](args)
    except ValueError as error:  # UsageError and the library's input checks: one line, no traceback
        print(f"msnn-tf {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
