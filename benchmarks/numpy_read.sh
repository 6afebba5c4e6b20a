#!/usr/bin/env bash
# Reading Fashion-MNIST as a NumPy archive (x_train 60,000 x 784 float32, y_train, x_test, y_test: 219 MB,
# stored as numpy.savez writes it, and deflated as numpy.savez_compressed does): the project's reader
# (C++) against numpy.load of the same file with every array materialized, in one run. Figures are medians
# of REPEATS (default 5); ratios are against numpy.load.
#   bash benchmarks/numpy_read.sh build/bin/data_read [REPEATS]
set -euo pipefail
program="$1"
repeats="${2:-5}"
work="$(mktemp -d "${TMPDIR:-/tmp}/torchsystem-numpy-read-XXXXXX")"
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$work" <<'PYTHON'
import gzip, os, sys
import numpy as np
work, root = sys.argv[1], "/usr/share/datasets/fashion-mnist"
def idx(name, offset):
    with gzip.open(os.path.join(root, name + ".gz")) as file:
        return np.frombuffer(file.read(), np.uint8, offset=offset)
arrays = {"x_train": (idx("train-images-idx3-ubyte", 16).reshape(-1, 784) / 255).astype(np.float32),
          "y_train": idx("train-labels-idx1-ubyte", 8).astype(np.int64),
          "x_test": (idx("t10k-images-idx3-ubyte", 16).reshape(-1, 784) / 255).astype(np.float32),
          "y_test": idx("t10k-labels-idx1-ubyte", 8).astype(np.int64)}
np.savez(os.path.join(work, "stored.npz"), **arrays)
np.savez_compressed(os.path.join(work, "deflated.npz"), **arrays)
PYTHON
for kind in stored deflated; do
  cpp="$("$program" npz "$work/$kind.npz" "$repeats")"
  /usr/bin/python3 - "$work/$kind.npz" "$repeats" "$cpp" "$kind" <<'PYTHON'
import json, os, statistics, sys, time
import numpy as np
path, repeats, cpp, kind = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
loads = []
for _ in range(repeats):
    started = time.perf_counter()
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in ["x_train", "y_train", "x_test", "y_test"]}
    loads.append(time.perf_counter() - started)
assert sum(array.nbytes for array in arrays.values()) == cpp["bytes"]
median = statistics.median
print(f"{kind} archive of {os.path.getsize(path) / 1e6:.1f} MB ({cpp['bytes'] / 1e6:.1f} MB of arrays), median of {repeats}:")
print(f"  {'':28} {'seconds':>8}  {'vs numpy.load':>13}")
for label, value in [("read_npz (C++)", median(cpp["read"])), ("numpy.load", median(loads))]:
    print(f"  {label:28} {value:8.3f}  {value / median(loads):12.2f}x")
PYTHON
done
