"""Writes scikit-learn's bundled tables as CSV files for `downhill train --data FILE.csv`.

    python3 examples/sklearn_tables.py [OUT_DIR]     (needs scikit-learn; default OUT_DIR: data/sklearn)

wine.csv, breast_cancer.csv and digits.csv are classification tables (integer class in the
last column, named `target`); diabetes.csv is a regression table (`--loss mse`). Each has a
header line with scikit-learn's feature names. Nothing is shuffled or scaled here: downhill
splits and normalises.
"""

import csv
import os
import sys

from sklearn import datasets


def write(path, bunch):
    names = [str(n) for n in getattr(bunch, "feature_names", [f"x{i}" for i in range(bunch.data.shape[1])])]
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(names + ["target"])
        for row, target in zip(bunch.data, bunch.target):
            out.writerow([repr(float(v)) for v in row] + [target.item()])
    print(f"{path}: {bunch.data.shape[0]} rows, {bunch.data.shape[1]} features")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join("data", "sklearn")
    os.makedirs(out, exist_ok=True)
    write(os.path.join(out, "wine.csv"), datasets.load_wine())
    write(os.path.join(out, "breast_cancer.csv"), datasets.load_breast_cancer())
    write(os.path.join(out, "digits.csv"), datasets.load_digits())
    write(os.path.join(out, "diabetes.csv"), datasets.load_diabetes(scaled=False))


if __name__ == "__main__":
    main()
