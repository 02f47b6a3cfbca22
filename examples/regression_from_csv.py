"""1-D regression from a CSV file to machine precision, saved and loaded again.

Run: ``python examples/regression_from_csv.py [DATA.csv] [--quick]``. Without a file it writes one
(``sin(2x + 1) + 0.2 exp(1.3x)`` at 2000 points on [-1, 1]). The CSV has a header row; every column but
the last is an input, the last is the output (as ``msnn-tf fit`` reads it).
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

import msnn_tf as msnn
from msnn_tf.tabular import read_table, select_columns


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", help="CSV with a header row (default: a generated one)")
    parser.add_argument("--quick", action="store_true", help="few iterations")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="msnn_example_"))
    path = Path(args.data) if args.data else folder / "data.csv"
    if not args.data:
        x = np.linspace(-1.0, 1.0, 2000)
        np.savetxt(path, np.c_[x, np.sin(2 * x + 1) + 0.2 * np.exp(1.3 * x)], delimiter=",", header="x,u",
                   comments="", fmt="%.17g")
    names, values = read_table(path)
    x, y, inputs, output = select_columns(names, values)
    settings = dict(adam_steps=300, lbfgs_iterations=300) if args.quick else {}
    regressor = msnn.MultiStageRegressor(verbose=0 if args.quick else 1, **settings)
    history = regressor.fit(x, y, num_stages=3)
    print(history.table())
    regressor.save(folder / "model.keras")
    again = msnn.MultiStageRegressor.load(folder / "model.keras")
    errors = again.evaluate(x, y)
    print(f"{output}({', '.join(inputs)}): RMS {errors['rms']:.2e}, max {errors['max']:.2e}; model in {folder}")
    return errors


if __name__ == "__main__":
    main()
    sys.exit(0)
