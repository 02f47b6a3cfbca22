"""The PDE test set (``msnn_tf.pinn.benchmarks``) solved with the defaults, one process per problem.

For each problem: ``MultiStagePINN(problem, stage_solver=SOLVER)`` and ``fit()`` (default stages), then the
RMS and max error against the exact solution on a cell-centred grid that the collocation points (Latin
hypercube) and the uniform analysis grid do not contain (200 points per axis in 2-D, 40 in 3-D), per
stage (taken when the stage ends, inside the timed ``fit``: a later solved stage may rescale the earlier
ones) and at the end, the wall time of ``fit`` (compilation included) and the peak memory of the process.
``--solver auto`` (default) is the acceptance run; ``--solver adam_lbfgs`` gives the trained stages' errors.

Usage::

    python tools/pde_suite.py [--cases poisson_2d ...] [--solver auto|adam_lbfgs|least_squares]
                              [--out results/pde_suite_auto.json] [--update docs/pde_suite.md] [--quick]

``--update FILE`` rewrites the table between ``<!-- pde:SOLVER:begin -->`` and ``<!-- pde:SOLVER:end -->``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

CONDITIONS = {
    "poisson_2d": "Dirichlet",
    "poisson_mixed_2d": "Dirichlet + Neumann",
    "helmholtz_2d": "Dirichlet + Robin",
    "heat_periodic_1d": "initial + periodic",
    "advection_diffusion_2d": "Dirichlet (layer width 0.05)",
    "burgers_1d": "initial + Dirichlet (Cole-Hopf)",
    "poisson_3d": "Dirichlet",
}
TIME_GOALS = {"poisson_3d": 900.0}  # seconds; every other problem 300 s


def off_grid(domain, per_axis: int):
    import numpy as np

    axes = [lo + (np.arange(per_axis) + 0.5) * (hi - lo) / per_axis for lo, hi in zip(domain.lower, domain.upper)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, domain.dim)


def run_case(name: str, solver_name: str, quick: bool) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import warnings

    import numpy as np

    import msnn_tf as msnn
    from msnn_tf.pinn import benchmarks

    warnings.simplefilter("ignore", RuntimeWarning)
    problem = benchmarks.BENCHMARKS[name]()
    small = dict(adam_steps=100, lbfgs_iterations=100, least_squares_width=200) if quick else {}
    solver = msnn.MultiStagePINN(problem, stage_solver=solver_name, verbose=0, **small)
    x_eval = off_grid(problem.domain, 200 if problem.domain.dim == 2 else 40)
    exact = problem.exact(x_eval)
    errors = {}

    class StageErrors(msnn.StageCallback):
        # At each stage's end: a later solved stage may rescale the earlier ones (frozen_scale).
        def on_stage_end(self, stage, report):
            errors[stage] = exact - solver.model.predict(x_eval)

    start = time.perf_counter()
    history = solver.fit(num_stages=2 if quick else 3, callbacks=[StageErrors()])
    wall = time.perf_counter() - start
    stages = []
    for report in history.stages:
        error = errors[report.stage]
        stages.append({"stage": report.stage, "solver": "least_squares" if report.adam_steps == 0 and report.stage > 0
                       else "adam_lbfgs", "accepted": bool(report.accepted), "rms": float(np.sqrt(np.mean(error**2))),
                       "max": float(np.max(np.abs(error))), "residual_rms_after": float(report.residual_rms_after),
                       "num_collocation": int(report.num_collocation), "wall_time_s": float(report.wall_time),
                       "frozen_scale": float(report.frozen_scale),
                       "message": report.message})
    error = exact - solver.predict(x_eval)
    rms, worst = float(np.sqrt(np.mean(error**2))), float(np.max(np.abs(error)))
    goal = benchmarks.GOALS[name]
    time_goal = TIME_GOALS.get(name, 300.0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"case": name, "solver": solver_name, "dimension": problem.domain.dim, "conditions": CONDITIONS[name],
            "rms": rms, "max": worst, "wall_time_s": wall, "peak_memory_mb": peak, "goal_rms": goal,
            "goal_time_s": time_goal, "met": bool(rms <= goal and wall <= time_goal), "stages": stages,
            "message": history.message}


def table(rows) -> str:
    lines = ["| problem | conditions | d | RMS error per stage (accepted) | final RMS (max) | goal | wall time | peak memory |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['case']} | | | failed: {row['error']} | | | | |")
            continue
        per_stage = ", ".join(f"{s['rms']:.1e}" + ("" if s["accepted"] else " (discarded)")
                              + (" LS" if s["solver"] == "least_squares" else "") for s in row["stages"])
        lines.append(f"| {row['case']} | {row['conditions']} | {row['dimension']} | {per_stage} | {row['rms']:.1e} "
                     f"({row['max']:.1e}) | {row['goal_rms']:.0e} in {row['goal_time_s']:.0f} s: "
                     f"{'met' if row['met'] else '**not met**'} | {row['wall_time_s']:.0f} s | "
                     f"{row['peak_memory_mb'] / 1024:.1f} GB |")
    return "\n".join(lines)


def main(argv=None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from msnn_tf.pinn.benchmarks import BENCHMARKS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(BENCHMARKS), choices=list(BENCHMARKS))
    parser.add_argument("--solver", default="auto", choices=("auto", "adam_lbfgs", "least_squares"))
    parser.add_argument("--out", default=None, help="JSON results (default results/pde_suite_SOLVER.json)")
    parser.add_argument("--update", default=None, help="markdown file whose pde:SOLVER table to rewrite")
    parser.add_argument("--quick", action="store_true", help="tiny budgets (smoke test; goals not expected)")
    parser.add_argument("--merge", nargs="+", default=None,
                        help="build the table from these result files (later files win) instead of running")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_case(args.one, args.solver, args.quick)))
        return 0
    if args.merge:
        found = {}
        for name in args.merge:
            for row in json.loads(Path(name).read_text())["cases"]:
                found[row["case"]] = row
        rows = [found[name] for name in BENCHMARKS if name in found]
        update(args.update, args.solver, rows)
        return 0
    rows = []
    for name in args.cases:
        command = [sys.executable, __file__, "--one", name, "--solver", args.solver] + (["--quick"] if args.quick else [])
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            rows.append({"case": name, "error": (done.stderr.strip().splitlines() or ["?"])[-1]})
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"{name:>23}: RMS {row['rms']:.2e} (max {row['max']:.2e}) in {row['wall_time_s']:6.1f} s, "
              f"{row['peak_memory_mb'] / 1024:.1f} GB; per stage "
              + ", ".join(f"{s['rms']:.1e}{'' if s['accepted'] else ' (discarded)'}" for s in row["stages"])
              + f"; goal <= {row['goal_rms']:.0e}: {'met' if row['met'] else 'NOT met'}", flush=True)
    out = Path(args.out or f"results/pde_suite_{args.solver}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": sys.version.split()[0]}
    out.write_text(json.dumps({"machine": machine, "quick": args.quick, "cases": rows}, indent=1))
    print(f"wrote {out}")
    update(args.update, args.solver, rows)
    return 0 if all(r.get("met") for r in rows) or args.quick else 1


def update(filename, solver: str, rows) -> None:
    """Rewrites the ``pde:SOLVER`` table of ``filename`` (nothing for ``None``)."""
    if not filename:
        return
    path = Path(filename)
    text = path.read_text()
    begin, end = f"<!-- pde:{solver}:begin -->", f"<!-- pde:{solver}:end -->"
    if begin not in text or end not in text:
        raise SystemExit(f"{path} has no {begin} ... {end} markers")
    head, rest = text.split(begin, 1)
    path.write_text(head + begin + "\n" + table(rows) + "\n" + end + rest.split(end, 1)[1])
    print(f"updated {path}")


if __name__ == "__main__":
    sys.exit(main())
