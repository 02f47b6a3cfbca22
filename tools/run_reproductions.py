"""Runs every reproduction script (full size or ``--quick``) one at a time and rebuilds the table.

Usage::

    python tools/run_reproductions.py [--quick] [--only fig05 reference] [--table-only]

Full-size runs write ``reproductions/results/<name>/{<name>.png, metrics.json}``; the table between
the markers in ``reproductions/README.md`` is rebuilt from those ``metrics.json`` files (full-size
runs only). ``--quick`` runs write to a temporary folder and leave the table alone.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPRODUCTIONS = ROOT / "reproductions"
RESULTS = REPRODUCTIONS / "results"
README = REPRODUCTIONS / "README.md"
BEGIN, END = "<!-- table:begin -->", "<!-- table:end -->"

# name -> (what the paper reports, how to read the measured headline from metrics.json)
SCRIPTS = {
    "fig01_single_vs_two_stage": (
        "two stages in float32 reach ~1e-7; single network plateaus ~1e-4",
        lambda m: f"two-stage float32 RMS {m['final_rms_error']:.1e} ({m['weights']['two-stage']} weights); single 3x30: "
                  f"Adam {m['single_adam_rms_error']:.1e}, L-BFGS {m['single_lbfgs_rms_error']:.1e} ({m['weights']['single, Adam']} weights)"),
    "fig02_spectral_bias": (
        "m=3 fits, m=15 partly, m=30 fails; f_d(m=30) ~ 5.5",
        lambda m: "relative RMS " + ", ".join(f"m={k}: {v:.1e}" for k, v in m["relative_rms_error"].items())
                  + f"; f_d(m=30) = {m['dominant_frequency_m30']:.2f}"),
    "fig03_sin_and_kappa": (
        "sin alone and kappa alone fail; sin + kappa_hat=35 matches a Fourier-feature network",
        lambda m: "; ".join(f"{k}: {v:.1e}" for k, v in m["rms_error"].items())),
    "fig04_kappa_sweep": (
        "optimum in pi f_d < kappa_hat < N_d/6 = 50; overfitting at kappa_hat >= 60",
        lambda m: f"best kappa_hat {m['best_kappa_hat']:g} (validation RMS {m['final_rms_error']:.1e}; pi f_d = "
                  f"{m['pi_f_d']:.1f}); validation > 10x best at kappa_hat {m['overfitting_kappa_hats']}"),
    "fig05_multistage_regression": (
        "4 stages near 1e-16; eps ~ exp(-sqrt(n)/25); alpha ~ 1/6",
        lambda m: f"4-stage RMS {m['final_rms_error']:.1e} (max {m['final_max_error']:.1e}); c = {m['exp_sqrt_fit_c']:.0f}; "
                  f"alpha = {m['alpha']:.3f}; single stage {m['single_stage_final_rms']:.1e} after "
                  f"{m['single_stage_iterations']} Adam steps (log-log slope {m['single_stage_loglog_slope']:.2f})"),
    "fig06_2d_regression": (
        "2-D: alpha ~ 1/6; eps ~ exp(-n^(1/3)/7)",
        lambda m: f"{len([s for s in m['stages'] if s['accepted']])}-stage RMS {m['final_rms_error']:.1e} (max "
                  f"{m['final_max_error']:.1e}) on a {m['evaluation_grid']}^2 grid, trained on {m['grid']}^2; "
                  f"alpha = {m['alpha']:.3f}; c = {m['exp_cube_root_fit_c']:.1f}"),
    "fig15_single_network_plateau": (
        "plateau independent of units, layers, data, optimizer (8 seeds)",
        lambda m: f"mean plateau RMS {m['final_rms_error']:.1e} .. {m['final_max_error']:.1e} over all sweeps "
                  f"({m['num_seeds']} seeds); Adam {m['optimizers']['Adam']:.1e}, L-BFGS {m['optimizers']['L-BFGS']:.1e}"),
    "fig16_data_magnitude": (
        "without normalisation, data far from magnitude 1 are not fitted",
        lambda m: "relative RMS raw / normalised: " + ", ".join(
            f"A={r['magnitude']:g}: {r['raw']:.0e}/{r['normalised']:.0e}" for r in m["sweep"])),
    "reference_regression": (
        "reference script: 2.95e-9 RMS (max 1.4e-8), ~40 min",
        lambda m: f"hand-set {m['runs']['hand-set']['rms_error']:.1e} ({m['runs']['hand-set']['wall_time_s']:.0f} s); "
                  f"automatic {m['runs']['automatic']['rms_error']:.1e} (max {m['runs']['automatic']['max_error']:.1e}, "
                  f"{m['runs']['automatic']['wall_time_s']:.0f} s)"),
    "fig07_pinn_residual_vs_error": (
        "residual and error share f_d ~ 1.5; eps_1 ~ eps_r / (2 pi f_d)",
        lambda m: f"f_d residual {m['dominant_frequency_residual']:.2f} / error {m['dominant_frequency_error']:.2f}; "
                  f"eq. 3.9 estimate {m['eq_3_9_estimate']:.1e} vs true {m['final_rms_error']:.1e} "
                  f"({m['estimate_over_true']:.2f}x)"),
    "fig08_algorithm2_poisson": (
        "Algorithm 2: eps = 1.41e-3 vs exact 1.43e-3 (acceptance: within 5% of 1.43e-3)",
        lambda m: f"amplitude {m['epsilon_amplitude']:.4e} (exact 1/(2(6 pi)^2) = {m['exact_amplitude']:.4e}; "
                  f"{abs(m['epsilon_amplitude'] / 1.43e-3 - 1):.1%} from 1.43e-3), RMS {m['epsilon_rms']:.2e}; paper's stopping "
                  f"rule alone: {m['paper_rule_epsilon_amplitude']:.1e} (R = {m['paper_rule_ratio']:.1f}); training panels not reproduced"),
    "fig09_equation_weight": (
        "eq. 3.32: gamma ~ 2e-6; Algorithm 3 (N_0 = 500): gamma ~ 1e-4, best error; optimum at 0.1 < R_c < 5 "
        "(acceptance: Algorithm 3 within 10x of 1e-4)",
        lambda m: f"Algorithm 3 gamma {m['gamma_algorithm_3']:.1e} ({len(m['algorithm_3_rounds'])} rounds) -> RMS error "
                  f"{m['final_rms_error']:.1e}; eq. 3.32 gamma {m['gamma_eq_3_32']:.1e}; sweep RMS error "
                  + ", ".join(f"{r['gamma']:.0e}: {r['rms_error']:.1e} (R_c {r['R_c']:.1e})" for r in m["sweep"])),
    "fig10_collocation_resampling": (
        "fixed points fail below N_crit ~ 3100; resampled Adam (SGD) does not; L-BFGS worst",
        lambda m: f"gamma {m['gamma']:.1e} (Algorithm 3); RMS error by N_c: " + "; ".join(
            f"{name.split(' (')[0] + (' SGD' if 'SGD' in name else (' GD' if 'GD' in name else ''))}: "
            + ", ".join(f"{r['num_collocation']}: {r['rms_error']:.1e}" for r in rows) for name, rows in m["results"].items())),
    "fig11_12_multistage_gpinn": (
        "3-stage gPINN at double round-off; alpha: PINN ~1/7, gPINN ~1/8 (acceptance: <= 1e-14 in < 10 min)",
        lambda m: f"gPINN 3-stage RMS {m['final_rms_error']:.1e} (max {m['final_max_error']:.1e}) in {m['wall_time_s']:.0f} s; "
                  f"PINN {m['pinn_final_rms_error']:.1e}; single network ({m['single_stage_weights']} weights vs "
                  f"{m['multi_stage_weights']}) {m['single_stage_rms_error']:.1e}; alpha "
                  + ", ".join(f"{k} {v:.3f}" for k, v in m["alpha"].items())),
    "fig13_diffusion_2d": (
        "~1e-11 after 3 stages with RAR + gPINN, 7 orders below one stage (acceptance: <= 1e-11)",
        lambda m: f"{len(m['stages'])}-stage RMS {m['final_rms_error']:.1e} (max {m['final_max_error']:.1e}); "
                  f"one stage {m['single_stage_rms_error']:.1e} (RAR once per stage; Chebyshev-weighted losses, gamma eq. 3.32 "
                  f"with the eq. 3.19 magnitude; widths 20, 20, 50; t trained to 1.05)"),
    "fig14_burgers_inverse": (
        "stage 2: lambda and U errors ~1e-12, a low-frequency error from lambda dominates; a one-network third "
        "stage does not improve; two networks (eq. 4.8) reach ~machine precision (acceptance: |lambda - 1/2| and "
        "U RMS <= 1e-12 in < 30 min)",
        lambda m: "per stage |lambda - 1/2| / sqrt(L_s) / U RMS: " + "; ".join(
            f"{s['stage'] + 1}: {s['lambda_error']:.1e} / {s['sqrt_L_s']:.1e} / {s['true_rms']:.1e}" for s in m["stages"])
                  + f" (networks {[s['networks'] for s in m['stages']]})"
                  + ("" if m["one_network_last_stage"] is None else
                     f"; one-network last stage {m['one_network_last_stage']['lambda_error']:.1e} / "
                     f"{m['one_network_last_stage']['true_rms']:.1e}")),
    "fig17_burgers_exact": (
        "exact self-similar Burgers profiles: lambda = 1/2 smooth; lambda = 0.4: cusp in U''' and "
        "discontinuous U'''' at 0",
        lambda m: f"eq. (D.5) residual of the exact profiles RMS {m['profiles']['0.5']['residual_rms']:.1e} (1/2), "
                  f"{m['profiles']['0.4']['residual_rms']:.1e} (0.4); U''''(-1e-6, +1e-6): "
                  + ", ".join(f"{lam}: ({v['u4_at_minus_and_plus_1e-6'][0]:.3g}, {v['u4_at_minus_and_plus_1e-6'][1]:.3g})"
                              for lam, v in m["profiles"].items())),
    "reference_pinn": (
        "reference JAX script: 1.06e-15 RMS (max 2.2e-15), 23 min (acceptance: mirrored <= 2e-15)",
        lambda m: f"hand-set {m['runs']['hand-set']['rms_error']:.1e} ({m['runs']['hand-set']['wall_time_s']:.0f} s, "
                  f"kappa {m['hand_set_kappa']}); automatic {m['runs']['automatic']['rms_error']:.1e} "
                  f"({m['runs']['automatic']['wall_time_s']:.0f} s)"),
}


def load_script(name: str):
    path = REPRODUCTIONS / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(REPRODUCTIONS))
    spec.loader.exec_module(module)
    return module


def table() -> str:
    lines = ["| figure | paper | measured (full size) | wall time | machine | command |", "|---|---|---|---|---|---|"]
    for name, (paper, headline) in SCRIPTS.items():
        path = RESULTS / name / "metrics.json"
        command = f"`python reproductions/{name}.py`"
        if not path.exists():
            lines.append(f"| {name} | {paper} | not run yet | | | {command} |")
            continue
        metrics = json.loads(path.read_text())
        measured = headline(metrics) if not metrics.get("quick") else "quick run only"
        lines.append(f"| {name} | {paper} | {measured} | {metrics['wall_time_s']:.0f} s | {metrics.get('machine', '')} | {command} |")
    return "\n".join(lines)


def rebuild_readme() -> None:
    text = README.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    README.write_text(text[:start] + "\n" + table() + "\n" + text[end:])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="run every script in --quick mode (seconds each)")
    parser.add_argument("--only", nargs="*", default=None, help="name prefixes of the scripts to run")
    parser.add_argument("--table-only", action="store_true", help="only rebuild the README table")
    args = parser.parse_args(argv)
    if not args.table_only:
        names = [n for n in SCRIPTS if args.only is None or any(n.startswith(p) for p in args.only)]
        temporary = tempfile.mkdtemp(prefix="msnn_repro_") if args.quick else None
        for name in names:
            start = time.perf_counter()
            argv_script = ["--quick", "--out", str(Path(temporary) / name)] if args.quick else []
            status = load_script(name).main(argv_script)
            print(f"[{name}] exit {status} in {time.perf_counter() - start:.0f} s", flush=True)
            if status != 0:
                return status
        if args.quick:
            print(f"quick results in {temporary}")
            return 0
    rebuild_readme()
    print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
