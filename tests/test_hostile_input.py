"""Hostile input through the command line and the Python API (issue 17, item 5).

Each case gets one clear line naming the file, row, column or argument (exit code 2 on the command
line, ``ValueError`` in Python), and nothing saved is lost. Tolerances are stated per assertion.
"""

import json
import shutil
import time
import tracemalloc
import warnings

import numpy as np
import pytest

import msnn_tf as msnn
from msnn_tf import cli
from msnn_tf.reporting import TrainingHistory
from msnn_tf.staged_model import ExportedModel
from msnn_tf.tabular import read_table

from cli_support import target, write_csv


@pytest.mark.parametrize("content, message", [
    ("", "is empty"),
    ("x,u\n1,2\n", "1 data row"),
    ("x;u\n1;2\n3;4\n", "semicolon"),
    ("x\tu\n1\t2\n3\t4\n", "tab"),
    ("x,u\n1,2\n3,abc\n", "row 3, column 'u': 'abc' is not a number"),
    ("x,u\n1,2\n3,nan\n", "row 3, column 'u': 'nan' is not finite"),
    ("x,u\n1,2\n3,inf\n", "not finite"),
    ("x,u\n1,2\n3\n", "row 3: 1 value(s)"),
    ("x,u\n1,2\n1,3\n2,4\n", "rows 2 and 3 have the same inputs"),
])
def test_hostile_data_files_get_one_line_and_exit_code_2(tmp_path, capsys, content, message):
    data = tmp_path / "data.csv"
    data.write_text(content)
    assert cli.main(["fit", str(data), "--out", str(tmp_path / "run"), "--quick"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_bad_columns_and_existing_output_directory(finished_run, tmp_path, capsys):
    _, data, run = finished_run
    assert cli.main(["fit", str(data), "--out", str(tmp_path / "r"), "--output", "v"]) == 2
    assert "no column 'v'" in capsys.readouterr().err
    assert cli.main(["fit", str(data), "--out", str(run), "--quick"]) == 2  # never overwritten without --overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert (run / "model.keras").exists()


def test_damaged_model_files_are_named_in_the_error(finished_run, tmp_path, capsys):
    _, data, run = finished_run
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes((run / "model.keras").read_bytes()[:2000])
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"not a zip file at all")
    for bad in (truncated, garbage, tmp_path / "missing.keras"):
        with pytest.raises(ValueError, match=str(bad.name)):
            msnn.MultiStageRegressor.load(bad)
        assert cli.main(["predict", str(bad), str(data)]) == 2
        assert bad.name in capsys.readouterr().err


def test_newer_format_versions_are_refused(finished_run, tmp_path, capsys):
    _, data, run = finished_run
    history = json.loads((run / "history.json").read_text())
    history["version"] = 99
    (tmp_path / "history.json").write_text(json.dumps(history))
    with pytest.raises(ValueError, match="version 99"):
        TrainingHistory.load(tmp_path / "history.json")
    newer = tmp_path / "run"
    newer.mkdir()
    run_file = json.loads((run / "run.json").read_text())
    (newer / "run.json").write_text(json.dumps({**run_file, "version": 99}))
    assert cli.main(["fit", str(data), "--out", str(newer), "--resume", "--quick"]) == 2
    assert "version 99" in capsys.readouterr().err


def test_existing_prediction_file_is_not_overwritten(finished_run, tmp_path, capsys):
    _, data, run = finished_run
    out = tmp_path / "p.csv"
    out.write_text("keep me\n")
    assert cli.main(["predict", str(run), str(data), "-o", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err and out.read_text() == "keep me\n"
    assert cli.main(["predict", str(run), str(data), "-o", str(out), "--overwrite"]) == 0
    assert out.read_text().startswith("x,prediction\n")


def test_predict_from_the_savedmodel_equals_the_python_api(finished_run, tmp_path, capsys):
    # The export (run/saved_model, read by TensorFlow alone) gives the values the .keras model gives
    # (tolerance 0: the same graph of float64 operations).
    _, data, run = finished_run
    x = np.random.default_rng(3).uniform(-1.0, 1.0, 1000)
    points = write_csv(tmp_path / "points.csv", x, np.zeros_like(x), names=("x", "unused"))
    assert cli.main(["predict", str(run / "saved_model"), str(points), "-o", str(tmp_path / "p.csv")]) == 0
    _, written = read_table(tmp_path / "p.csv")
    expected = msnn.MultiStageRegressor.load(run / "model.keras").predict(x[:, None])
    np.testing.assert_array_equal(written[:, 1:], expected)
    np.testing.assert_array_equal(ExportedModel(run / "saved_model").predict(x[:, None]), expected)


def test_savedmodel_without_variables_is_named(finished_run, tmp_path, capsys):
    _, data, run = finished_run
    broken = tmp_path / "saved_model"
    shutil.copytree(run / "saved_model", broken)
    shutil.rmtree(broken / "variables")
    with pytest.raises(ValueError, match="variables are missing"):
        ExportedModel(broken)
    assert cli.main(["predict", str(broken), str(data)]) == 2
    err = capsys.readouterr().err
    assert str(broken) in err and "variables are missing" in err and err.count("\n") == 1
    (broken / "variables").mkdir()
    (broken / "variables" / "variables.index").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a loadable SavedModel"):
        ExportedModel(broken)
    with pytest.raises(ValueError, match="no saved_model.pb"):
        ExportedModel(tmp_path)
    assert (run / "saved_model" / "variables" / "variables.index").exists()  # the original is untouched


def test_unsorted_x_plans_the_stages_sorted_x_plans(tmp_path):
    # Rows in random order: the same eps (RMS, order-free up to round-off) and dominant frequency (read
    # after sorting) for stage 1, from stage-0 fits whose sums differ in order only (tolerance 1e-6
    # relative: 100 Adam steps amplify the sums' round-off).
    x = np.linspace(-1.0, 1.0, 400)[:, None]
    order = np.random.default_rng(0).permutation(len(x))
    settings = dict(width=8, adam_steps=(100, 5), lbfgs_iterations=0, verbose=0, jit_compile=False,
                    stage_solver="adam_lbfgs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 5 Adam steps: stage 1 is discarded, its plan is what counts
        sorted_run = msnn.MultiStageRegressor(**settings).fit(x, target(x), num_stages=2)
        shuffled = msnn.MultiStageRegressor(**settings).fit(x[order], target(x)[order], num_stages=2)
    a, b = sorted_run.stages[1], shuffled.stages[1]
    assert b.epsilon == pytest.approx(a.epsilon, rel=1e-6)
    assert b.dominant_frequency == pytest.approx(a.dominant_frequency, rel=1e-6)
    assert b.num_points == a.num_points == 400


@pytest.mark.parametrize("kwargs, message", [
    (dict(x=np.array([[0.0], [np.nan]]), y=np.zeros((2, 1))), "`x`"),
    (dict(x=np.zeros((3, 1)), y=np.array([[0.0], [np.inf], [1.0]])), "`y`"),
    (dict(x=np.zeros((3, 1)), y=np.zeros((4, 1))), "3"),
    (dict(x=np.zeros((0, 1)), y=np.zeros((0, 1))), "`x`"),
])
def test_python_api_names_the_bad_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        msnn.MultiStageRegressor(verbose=0).fit(**kwargs)


def test_a_million_rows_are_read_with_bounded_memory_and_predicted(finished_run, tmp_path):
    # 10^6 rows: NumPy's C parser, streaming: peak traced memory below 64 MB (the values are 16 MB;
    # the row-by-row reader took ~150 bytes per number). Predictions of all rows equal the Python API's.
    _, _, run = finished_run
    x = np.linspace(-1.0, 1.0, 10**6)
    big = write_csv(tmp_path / "big.csv", x, target(x))
    tracemalloc.start()
    start = time.perf_counter()
    names, values = read_table(big)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert names == ["x", "u"] and values.shape == (10**6, 2) and np.array_equal(values[:, 0], x)  # %.17g: exact
    assert peak < 64e6, peak
    assert elapsed < 30.0  # measured ~1 s; guards against the row-by-row path (~5 s and ~300 MB)
    assert cli.main(["predict", str(run), str(big), "--inputs", "x", "-o", str(tmp_path / "p.csv")]) == 0
    _, written = read_table(tmp_path / "p.csv")
    expected = msnn.MultiStageRegressor.load(run / "model.keras").predict(x[::997, None])
    np.testing.assert_array_equal(written[::997, 1:], expected)


@pytest.mark.slow  # stage 0 (300 Adam + 300 L-BFGS steps) on 10^6 points: ~250 s on 2 cores
def test_a_million_rows_fit(tmp_path):
    x = np.linspace(-1.0, 1.0, 10**6)
    big = write_csv(tmp_path / "big.csv", x, target(x))
    assert cli.main(["fit", str(big), "--out", str(tmp_path / "run"), "--quick", "--num-stages", "1",
                     "--verbose", "0"]) == 0
    history = TrainingHistory.load(tmp_path / "run" / "history.json")
    assert history.stages[0].num_points == 10**6 and history.stages[0].train_rms < 1e-2


def test_points_to_predict_at_need_inputs_only(finished_run, tmp_path, capsys):
    # A file of inputs only, even one row, is what predict reads; the Python API gives the same value (tolerance 0).
    _, _, run = finished_run
    points = tmp_path / "points.csv"
    points.write_text("x\n0.25\n")
    assert cli.main(["predict", str(run), str(points)]) == 0
    printed = float(capsys.readouterr().out.strip())
    assert printed == msnn.MultiStageRegressor.load(run / "model.keras").predict(np.array([[0.25]]))[0, 0]
    (tmp_path / "empty.csv").write_text("x\n")
    assert cli.main(["predict", str(run), str(tmp_path / "empty.csv")]) == 2
    assert "0 data row(s); at least 1" in capsys.readouterr().err


def test_exported_model_takes_what_the_staged_model_takes(finished_run):
    _, _, run = finished_run
    exported = ExportedModel(run / "saved_model")
    assert (exported.input_dim, exported.output_dim) == (1, 1)
    assert exported.predict(np.zeros((0, 1))).shape == (0, 1)
    x = np.linspace(-1.0, 1.0, 7)
    np.testing.assert_array_equal(exported.predict(x), exported.predict(x[:, None]))  # 1-D input, tolerance 0
    with pytest.raises(ValueError, match=r"shape \(N, 1\)"):
        exported.predict(np.zeros((3, 2)))


def test_fast_and_row_by_row_csv_readers_agree_on_odd_headers(tmp_path):
    odd = tmp_path / "odd.csv"
    odd.write_text("a\u2028b,c\n1,2\n3,4\n")  # a line separator inside the header: split by the row reader
    with pytest.raises(ValueError):
        read_table(odd)
    header_only = tmp_path / "header.csv"
    header_only.write_text("x,u\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy warning before the clear error
        with pytest.raises(ValueError, match="0 data row"):
            read_table(header_only)
