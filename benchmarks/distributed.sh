#!/usr/bin/env bash
# Data parallel on this machine: the main job (the seed's MLP on Fashion-MNIST, examples/configs/seed.json)
# as 1 process x 1 thread, 1 process x 2 threads and 2 processes x 1 thread (`--nproc 2`), each from a
# fresh store in a temporary directory (TMPDIR, default /tmp). The settings take turns for ROUNDS rounds,
# so that the machine's noise falls on all of them alike. An epoch's time is the job's own ("seconds" in
# the checkpoint's history: training only); the first epoch of each run, which pays for its buffers'
# pages, is left out. The all-reduce time per optimizer step is what the 2-process job prints.
#   bash benchmarks/distributed.sh build/bin [EPOCHS=3] [ROUNDS=3]
set -euo pipefail
bin="$1"
epochs="${2:-3}"
rounds="${3:-3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/torchsystem-distributed-XXXXXX")"
trap 'rm -rf "$work"' EXIT

run() {  # run SETTING THREADS [--nproc N]: one fresh job; appends its epoch times and all-reduce figures
  local setting="$1" threads="$2"
  shift 2
  local store="$work/$setting"
  rm -rf "$store"
  python3 - "$root/examples/configs/seed.json" "$work/$setting.json" "$store" "$epochs" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config.update(store=sys.argv[3], epochs=int(sys.argv[4]))
json.dump(config, open(sys.argv[2], "w"))
PY
  TORCHSYSTEM_THREADS="$threads" "$bin/torchsystem" train "$work/$setting.json" "$@" >"$work/$setting.log" 2>&1 ||
    { cat "$work/$setting.log"; exit 1; }
  python3 - "$store" >>"$work/$setting.seconds" <<'PY'
import glob, json, sys
(path,) = glob.glob(sys.argv[1] + "/*.json")
for record in json.load(open(path))["extra"]["history"][1:]:
    print(record["seconds"])
PY
  grep -o 'all-reduce [0-9.]* ms/step' "$work/$setting.log" | awk 'NR > 1 {print $2}' >>"$work/$setting.allreduce" || true
}

for _ in $(seq "$rounds"); do
  run one-by-one 1
  run one-by-two 2
  run two-by-one 1 --nproc 2
done

python3 - "$work" "$epochs" "$rounds" <<'PY'
import statistics, sys
work, epochs, rounds = sys.argv[1], sys.argv[2], sys.argv[3]
def values(name, suffix):
    try:
        return [float(line) for line in open(f"{work}/{name}.{suffix}") if line.strip()]
    except FileNotFoundError:
        return []
baseline = statistics.median(values("one-by-two", "seconds"))
print(f"Fashion-MNIST, the seed's MLP, batch 64: median epoch time over epochs 2-{epochs} of {rounds} runs each\n")
print("| setting | epoch | ratio to 1 process x 2 threads | all-reduce per step |")
print("| --- | ---: | ---: | ---: |")
for name, label in [("one-by-one", "1 process x 1 thread"), ("one-by-two", "1 process x 2 threads"),
                    ("two-by-one", "2 processes x 1 thread (`--nproc 2`)")]:
    seconds = statistics.median(values(name, "seconds"))
    exchange = values(name, "allreduce")
    exchange_text = f"{statistics.median(exchange):.3f} ms" if exchange else "-"
    print(f"| {label} | {seconds:.3f} s | {seconds / baseline:.2f} | {exchange_text} |")
PY
