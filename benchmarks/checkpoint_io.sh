#!/usr/bin/env bash
# Save and load of a 100 MB checkpoint: the store (C++) against Python's torch.save and torch.load with
# load_state_dict (Debian's PyTorch, same LibTorch build) and cp, on one file system, in one run.
# Figures are medians of REPEATS (default 5); ratios are against torch.save/torch.load. The store's save
# flushes the file and its directory to disk (fsync), which torch.save does not: "torch.save + fsync" is
# Python with the same durability.
#   bash benchmarks/checkpoint_io.sh build/bin/checkpoint_io [REPEATS]
set -euo pipefail
program="$1"
repeats="${2:-5}"
work="$(mktemp -d "${TMPDIR:-/tmp}/torchsystem-checkpoint-io-XXXXXX")"
trap 'rm -rf "$work"' EXIT
cpp="$("$program" "$work/store" "$repeats")"
/usr/bin/python3 - "$work" "$repeats" "$cpp" <<'PYTHON'
import json, os, statistics, subprocess, sys, time
import torch
work, repeats, cpp = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
model = torch.nn.Linear(5000, 5000)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
path = os.path.join(work, "python.pth")
saves, loads, copies, durable = [], [], [], []
for _ in range(repeats):
    started = time.perf_counter()
    with open(os.path.join(work, "durable.pth"), "wb") as file:
        torch.save({"epoch": 1, "nn": model.state_dict(), "optimizer": optimizer.state_dict()}, file)
        file.flush()
        os.fsync(file.fileno())
    durable.append(time.perf_counter() - started)
    started = time.perf_counter()
    torch.save({"epoch": 1, "nn": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
    saved = time.perf_counter()
    checkpoint = torch.load(path, map_location="cpu")
    model.load_state_dict(checkpoint["nn"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    loaded = time.perf_counter()
    subprocess.run(["cp", cpp["path"], os.path.join(work, "copy.pth")], check=True)
    copied = time.perf_counter()
    saves.append(saved - started); loads.append(loaded - saved); copies.append(copied - loaded)
median = statistics.median
python_save, python_load = median(saves), median(loads)
print(f"checkpoint of {cpp['bytes'] / 1e6:.1f} MB (Linear(5000, 5000), SGD), median of {repeats}:")
print(f"  {'':30} {'seconds':>8}  {'vs Python':>9}")
for label, value, baseline in [
        ("save, C++ store (with fsync)", median(cpp["save"]), python_save),
        ("torch.save (no fsync)", python_save, python_save),
        ("torch.save + fsync", median(durable), python_save),
        ("load, C++ store (CRC-checked)", median(cpp["load"]), python_load),
        ("torch.load + load_state_dict", python_load, python_load),
        ("cp of the C++ file", median(copies), python_save)]:
    print(f"  {label:30} {value:8.3f}  {value / baseline:8.2f}x")
PYTHON
