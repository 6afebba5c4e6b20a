#!/usr/bin/env bash
# Reading a 100 MB CSV file (480,000 rows of 10 float64 features and a target, as Python's repr writes
# them) through the project's reader (C++, libcsv) against Python's readers of the same file in one run:
# pandas.read_csv (Debian's python3-pandas, its C engine; skipped when pandas is not installed),
# numpy.loadtxt (NumPy's C reader since 1.23) and Python's csv module into a NumPy array. Figures are
# medians of REPEATS (default 3; one run for the csv module, which takes many seconds); ratios are against
# pandas.read_csv.
#   bash benchmarks/csv_read.sh build/bin/data_read [REPEATS]
set -euo pipefail
program="$1"
repeats="${2:-3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/torchsystem-csv-read-XXXXXX")"
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$work/data.csv" <<'PYTHON'
import sys
import numpy as np
generator = np.random.default_rng(11)
values = generator.standard_normal((480_000, 11))
header = ",".join([f"x{index}" for index in range(10)] + ["y"])
np.savetxt(sys.argv[1], values, delimiter=",", header=header, comments="", fmt="%r")
PYTHON
cpp="$("$program" csv "$work/data.csv" y "$repeats")"
/usr/bin/python3 - "$work/data.csv" "$repeats" "$cpp" <<'PYTHON'
import csv, json, os, statistics, sys, time
import numpy as np
path, repeats, cpp = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])

def timed(read, times):
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        result = read()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result

def with_csv_module():
    with open(path, newline="") as file:
        rows = csv.reader(file)
        next(rows)
        return np.array([[float(cell) for cell in row] for row in rows])

results = {}
try:
    import pandas
    results["pandas.read_csv"], frame = timed(lambda: pandas.read_csv(path, engine="c"), repeats)
    assert frame.shape == (480_000, 11)
except ImportError:
    print("pandas is not installed (Debian's python3-pandas): its row is left out")
results["numpy.loadtxt"], array = timed(lambda: np.loadtxt(path, delimiter=",", skiprows=1), 1)
assert array.shape == (480_000, 11)
results["csv module + numpy"], _ = timed(with_csv_module, 1)
baseline_name = "pandas.read_csv" if "pandas.read_csv" in results else "numpy.loadtxt"
baseline = results[baseline_name]
print(f"CSV file of {os.path.getsize(path) / 1e6:.1f} MB (480,000 rows x 11 columns), median of {repeats}:")
print(f"  {'':28} {'seconds':>8}  {'vs ' + baseline_name:>18}")
for label, value in [("read_csv (C++, libcsv)", statistics.median(cpp["read"]))] + list(results.items()):
    print(f"  {label:28} {value:8.3f}  {value / baseline:17.2f}x")
PYTHON
