#!/usr/bin/env bash
# Data parallel on this machine: the main job (the seed's MLP on Fashion-MNIST, examples/configs/seed.json)
# as 1 process x 1 thread, 1 process x 2 threads, 2 processes x 1 thread (`--nproc 2`), and the job's
# default (1 LibTorch thread, OpenBLAS's 2), each from a fresh store in a temporary directory (TMPDIR,
# default /tmp). "x N threads" is N LibTorch threads and 1 OpenBLAS thread per process. The settings take
# turns for ROUNDS rounds, so that the machine's noise falls on all of them alike. An epoch's time is the
# job's own ("seconds" in the checkpoint's history: training only); the first epoch of each run, which
# pays for its buffers' pages, is left out. The all-reduce time per optimizer step is what the 2-process
# job prints (its wait for the slower rank included). The reference beside it is PyTorch's own Gloo
# all-reduce of the same 203,532 floats between 2 processes (python3-torch), measured in the same run.
#   bash benchmarks/distributed.sh build/bin [EPOCHS=3] [ROUNDS=3] [BATCH=64]
set -euo pipefail
bin="$1"
epochs="${2:-3}"
rounds="${3:-3}"
batch="${4:-64}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/torchsystem-distributed-XXXXXX")"
trap 'rm -rf "$work"' EXIT

run() {  # run SETTING THREADS BLAS_THREADS [--nproc N]: one fresh job; appends its epoch times and all-reduce figures
  local setting="$1" threads="$2" blas="$3"
  shift 3
  local store="$work/$setting"
  rm -rf "$store"
  python3 - "$root/examples/configs/seed.json" "$work/$setting.json" "$store" "$epochs" "$batch" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config.update(store=sys.argv[3], epochs=int(sys.argv[4]), batch_size=int(sys.argv[5]))
json.dump(config, open(sys.argv[2], "w"))
PY
  TORCHSYSTEM_THREADS="$threads" OPENBLAS_NUM_THREADS="$blas" OMP_NUM_THREADS="$blas" "$bin/torchsystem" train "$work/$setting.json" "$@" >"$work/$setting.log" 2>&1 ||
    { cat "$work/$setting.log"; exit 1; }
  python3 - "$store" >>"$work/$setting.seconds" <<'PY'
import glob, json, sys
(path,) = glob.glob(sys.argv[1] + "/*.json")
for record in json.load(open(path))["extra"]["history"][1:]:
    print(record["seconds"])
PY
  grep -o 'all-reduce [0-9.]* ms/step' "$work/$setting.log" | awk 'NR > 1 {print $2}' >>"$work/$setting.allreduce" || true
}

python_allreduce() {  # PyTorch's Gloo all-reduce of the job's bucket, 2 processes: milliseconds per call
  local port
  port=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
  for rank in 0 1; do
    OMP_NUM_THREADS=1 /usr/bin/python3 - "$rank" "$port" <<'PY' &
import sys, time, torch, torch.distributed as dist
torch.set_num_threads(1)
rank, port = int(sys.argv[1]), sys.argv[2]
dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
bucket = torch.ones(203530 + 2)
for _ in range(50):
    dist.all_reduce(bucket)
started = time.perf_counter()
for _ in range(1000):
    dist.all_reduce(bucket)
if rank == 0:
    print((time.perf_counter() - started) / 1000 * 1000)
PY
  done
  wait
}

for _ in $(seq "$rounds"); do
  run one-by-one 1 1
  run one-by-two 2 1
  run two-by-one 1 1 --nproc 2
  run default 1 2
  python_allreduce 2>/dev/null >>"$work/python.allreduce"
done

python3 - "$work" "$epochs" "$rounds" "$batch" <<'PY'
import statistics, sys
work, epochs, rounds, batch = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
def values(name, suffix):
    try:
        return [float(line) for line in open(f"{work}/{name}.{suffix}") if line.strip()]
    except FileNotFoundError:
        return []
baseline = statistics.median(values("one-by-two", "seconds"))
print(f"Fashion-MNIST, the seed's MLP, batch {batch}: median epoch time over epochs 2-{epochs} of {rounds} runs each\n")
print("| setting | epoch | ratio to 1 process x 2 threads | all-reduce per step |")
print("| --- | ---: | ---: | ---: |")
for name, label in [("one-by-one", "1 process x 1 thread"), ("one-by-two", "1 process x 2 threads"),
                    ("two-by-one", "2 processes x 1 thread (`--nproc 2`)"),
                    ("default", "1 process, the job's default (1 LibTorch thread, 2 OpenBLAS threads)")]:
    seconds = statistics.median(values(name, "seconds"))
    exchange = values(name, "allreduce")
    exchange_text = f"{statistics.median(exchange):.3f} ms" if exchange else "-"
    print(f"| {label} | {seconds:.3f} s | {seconds / baseline:.2f} | {exchange_text} |")
python = values("python", "allreduce")
if python:
    print(f"\nPyTorch's Gloo all-reduce of the same 203,532 floats, 2 processes: {statistics.median(python):.3f} ms per call")
PY
