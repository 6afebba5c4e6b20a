#!/usr/bin/env bash
# The epoch time of the seed's MLP (784-256-10, dropout 0.5, Adam, batch 64, Fashion-MNIST) defined in
# Python and trained as TorchScript (docs/torchscript.md), beside the same model built in C++ (the seed
# plugin's MLP, a LibTorch module), in one run: ROUNDS (default 2) alternating runs of EPOCHS (default 3)
# each. Figures are medians of every epoch but each run's first (which warms the allocator and, for
# TorchScript, the graph executor's profiling); the ratio is TorchScript's over the C++ module's.
#   bash benchmarks/torchscript_epoch.sh BIN_DIR [EPOCHS] [ROUNDS]      (BIN_DIR: build/bin)
set -euo pipefail
bin="$1"
epochs="${2:-3}"
rounds="${3:-2}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/torchsystem-torchscript-epoch-XXXXXX")"
trap 'rm -rf "$work"' EXIT
PYTHONPATH="$here/../python:$here/../tests/python" /usr/bin/python3 - "$work/mlp.pt" <<'PYTHON'
import sys
import torch
from interop_test import MLP
from torchsystem_torchscript import save
torch.manual_seed(42)
save(MLP(784, 256, 10, 0.5, torch.nn.ReLU()), sys.argv[1], "MLP",
     {"input_size": 784, "hidden_size": 256, "output_size": 10, "dropout": 0.5, "activation": "ReLU"})
PYTHON
rest='"criterion": {"name": "CrossEntropyLoss"}, "optimizer": {"name": "Adam", "arguments": {"lr": 0.001}},
 "epochs": '"$epochs"', "batch_size": 64, "seed": 42, "store": "store", "data": {"name": "FashionMNIST"}'
echo '{"model": {"name": "MLP", "arguments": {"input_size": 784, "hidden_size": 256, "output_size": 10, "dropout": 0.5, "activation": "ReLU"}}, "plugins": ["seed"], '"$rest"'}' >"$work/module.json"
echo '{"model": {"torchscript": "mlp.pt"}, '"$rest"'}' >"$work/torchscript.json"
: >"$work/seconds"
for _ in $(seq "$rounds"); do
  for kind in module torchscript; do
    rm -rf "$work/store"
    "$bin/torchsystem" train "$work/$kind.json" >/dev/null
    "$bin/torchsystem" checkpoints "$work/store" --json | /usr/bin/python3 -c '
import json, sys
for record in json.load(sys.stdin)[0]["history"][1:]:
    print(sys.argv[1], record["seconds"], record["test_accuracy"])' "$kind" >>"$work/seconds"
  done
done
/usr/bin/python3 - "$work/seconds" "$epochs" "$rounds" <<'PYTHON'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
median = {kind: statistics.median(float(r[1]) for r in rows if r[0] == kind) for kind in ("module", "torchscript")}
accuracy = {kind: [float(r[2]) for r in rows if r[0] == kind][-1] for kind in ("module", "torchscript")}
print(f"seed MLP on Fashion-MNIST, {sys.argv[3]} rounds of {sys.argv[2]} epochs, median epoch (first epochs left out):")
for kind, label in (("module", "C++ module (seed plugin)"), ("torchscript", "TorchScript from Python")):
    print(f"  {label:26} {median[kind]:6.3f} s  {median[kind] / median['module']:5.2f}x  "
          f"test accuracy {100 * accuracy[kind]:.1f}%")
PYTHON
