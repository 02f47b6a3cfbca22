import json

import numpy as np
import pytest

from msnn_tf import cli


def test_demo_quick_writes_table_plot_model_and_history(tmp_path, capsys):
    assert cli.main(["demo", "--quick", "--num-stages", "2", "--num-points", "800", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "train RMS" in out and "final evaluation RMS" in out
    png = tmp_path / "demo.png"
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20000
    history = json.loads((tmp_path / "demo_history.json").read_text())
    assert len(history["stages"]) == 2
    rms = [s["validation_rms"] for s in history["stages"]]
    assert all(np.isfinite(rms)) and rms[1] < rms[0]
    assert (tmp_path / "demo_model.keras").exists()


def test_cli_help_and_unknown_command(capsys):
    assert cli.main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out
    assert cli.main(["frobnicate"]) == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


@pytest.mark.slow
def test_benchmark_quick(tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "tools" / "bench_regression.py"
    spec = importlib.util.spec_from_file_location("bench_regression", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--quick", "--out", str(tmp_path / "bench.json")]) == 0
    result = json.loads((tmp_path / "bench.json").read_text())
    assert np.isfinite(result["multistage"]["eval_rms"]) and result["lbfgs_cost"]["evaluations"] > 0
