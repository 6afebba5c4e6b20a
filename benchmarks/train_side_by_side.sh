#!/usr/bin/env bash
# The main job beside the same training as a plain PyTorch loop (benchmarks/train_pytorch.py, Debian's
# python3-torch), one after the other on this machine, and beside the epoch's matrix products alone
# (matmul_limit): the floor no loop over these shapes can go under.
#
#   bash benchmarks/train_side_by_side.sh BIN_DIR [EPOCHS]      (BIN_DIR: build/bin)
#
# Python is given its best setting: each of its thread settings, with a fresh gather per epoch and with
# buffers reused across epochs as the C++ job does, is measured and the fastest is the
# baseline. Epoch times are medians over the epochs; accuracies are on the full test set after EPOCHS.
set -euo pipefail
bin="$1"
epochs="${2:-3}"
root=/usr/share/datasets/fashion-mnist
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/torchsystem-side-by-side-XXXXXX")"
trap 'rm -rf "$work"' EXIT

cpp_run() {  # label, then environment assignments; prints "label median_seconds accuracy"
  local label="$1"
  shift
  rm -rf "$work/store"
  cat >"$work/config.json" <<JSON
{"model": {"name": "MLP", "arguments": {"input_size": 784, "hidden_size": 256, "output_size": 10, "dropout": 0.5, "activation": "ReLU"}},
 "criterion": {"name": "CrossEntropyLoss"}, "optimizer": {"name": "Adam", "arguments": {"lr": 0.001}},
 "epochs": $epochs, "batch_size": 64, "seed": 42, "store": "store", "data": {"name": "FashionMNIST", "root": "$root"}, "plugins": ["seed"]}
JSON
  env "$@" "$bin/torchsystem" train "$work/config.json" >/dev/null
  "$bin/torchsystem" checkpoints "$work/store" --json | /usr/bin/python3 -c '
import json, statistics, sys
history = json.load(sys.stdin)[0]["history"]
print(sys.argv[1], statistics.median(r["seconds"] for r in history), history[-1]["test_accuracy"])' "$label"
}

python_run() {  # label, threads, shuffle (fresh or reuse), then environment assignments
  local label="$1" threads="$2" shuffle="$3"
  shift 3
  env "$@" /usr/bin/python3 "$here/train_pytorch.py" "$root" "$epochs" "$threads" "$shuffle" | /usr/bin/python3 -c '
import json, statistics, sys
history = [json.loads(line) for line in sys.stdin]
print(sys.argv[1], statistics.median(r["seconds"] for r in history), history[-1]["test_accuracy"])' "$label"
}

{
  cpp_run "C++ job (default: 1 LibTorch thread)"
  cpp_run "C++ job, 2 LibTorch threads" TORCHSYSTEM_THREADS=2
  python_run "PyTorch, 1 thread" 1 fresh
  python_run "PyTorch, 2 threads" 2 fresh
  python_run "PyTorch, 2 threads, OPENBLAS_NUM_THREADS=1" 2 fresh OPENBLAS_NUM_THREADS=1
  python_run "PyTorch, 1 thread, OPENBLAS_NUM_THREADS=1" 1 fresh OPENBLAS_NUM_THREADS=1
  python_run "PyTorch, 1 thread, reused shuffle buffers" 1 reuse
  python_run "PyTorch, 2 threads, OPENBLAS=1, reused buffers" 2 reuse OPENBLAS_NUM_THREADS=1
  echo "limit $("$bin/matmul_limit" 1 3) -"
} >"$work/results"

/usr/bin/python3 - "$work/results" "$epochs" <<'PYTHON'
import sys
rows = [line.rstrip("\n").rsplit(" ", 2) for line in open(sys.argv[1])]
limit = float(next(seconds for label, seconds, _ in rows if label == "limit"))
runs = [(label, float(seconds), float(accuracy)) for label, seconds, accuracy in rows if label != "limit"]
python_best = min((run for run in runs if run[0].startswith("PyTorch")), key=lambda run: run[1])
cpp = runs[0]
print(f"Fashion-MNIST, the seed's MLP, Adam, batch 64, {sys.argv[2]} epochs; median epoch time:")
for label, seconds, accuracy in runs:
    print(f"  {label:48} {seconds:6.3f} s  {seconds / python_best[1]:5.2f}x Python's best  "
          f"{seconds / limit:5.2f}x the limit  test accuracy {100 * accuracy:.1f}%")
print(f"  {'matrix products alone (the limit)':48} {limit:6.3f} s")
print(f"C++ job / Python's best ({python_best[0]}): {cpp[1] / python_best[1]:.2f}")
print(f"C++ job / the limit: {cpp[1] / limit:.2f}")
PYTHON
