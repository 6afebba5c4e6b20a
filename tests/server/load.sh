#!/usr/bin/env bash
# The load benchmark of `torchsystem serve` (docs/serving.md): wrk on loopback, 64 connections for 10 s
# each, one wrk thread (the server's I/O thread and wrk then have a core each), against
#   1. the baseline: a minimal Beast server answering a fixed body (tests/server/baseline_server.cpp);
#   2. GET /v2/health/live, the server's own cheapest route;
#   3. POST /v1/identity with the seed's configuration;
#   4. POST /v2/models/MLP/versions/<hash>/infer, the seed's MLP at batch 1.
# Prints each rate, its ratio to the baseline's, latencies and errors, then checks the server is healthy.
#   bash tests/server/load.sh [BUILD_DIR] [STORE]     # defaults: build, data/weights (the main job's)
# Needs Debian's wrk, and the main job's checkpoint in STORE (bash scripts/main.sh makes it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(realpath "${1:-$root/build}")"
store="$(realpath "${2:-$root/data/weights}")"
hash=af51a51a38f7ad81f9523360fafe7068
duration="${TORCHSYSTEM_LOAD_SECONDS:-10}"
[[ -f "$store/MLP-$hash.pth" ]] || { echo "load.sh: no MLP-$hash.pth in $store: run bash scripts/main.sh" >&2; exit 1; }
command -v wrk >/dev/null || { echo "load.sh: needs wrk (apt-get install wrk)" >&2; exit 1; }
cmake --build "$build" --target serve_baseline torchsystem_cli torchsystem_libtorch_cli seed_plugin >/dev/null

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Starts a server printing "listening on http://HOST:PORT"; sets $url.
start() {
  "$@" >"$work/out" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    url="$(grep -o 'http://[0-9.:]*' "$work/out" || true)"
    [[ -n "$url" ]] && return
    sleep 0.1
  done
  echo "load.sh: $1 did not start" >&2
  cat "$work/out" >&2
  exit 1
}

cat >"$work/post.lua" <<'LUA'
local file = io.open(os.getenv("BODY_FILE"), "rb")
wrk.method = "POST"
wrk.body = file:read("*a")
wrk.headers["Content-Type"] = "application/json"
LUA
echo '{"name": "MLP", "arguments": {"input_size": 784, "hidden_size": 256, "output_size": 10, "dropout": 0.5, "activation": "ReLU"}}' >"$work/identity.json"
python3 -c 'import json; print(json.dumps({"inputs": [{"name": "input", "shape": [1, 784], "datatype": "FP32", "data": [(i % 17) / 17 for i in range(784)]}]}))' >"$work/infer.json"

# Runs wrk; prints "NAME RATE p50 p99 ERRORS".
measure() {
  local name="$1" target="$2" body="${3:-}"
  local arguments=(-t1 -c64 -d"${duration}s" --latency)
  [[ -n "$body" ]] && arguments+=(-s "$work/post.lua")
  BODY_FILE="$body" wrk "${arguments[@]}" "$target" >"$work/wrk" 2>&1
  local rate p50 p99 errors
  rate="$(awk '/Requests\/sec/ {print $2}' "$work/wrk")"
  p50="$(awk '$1 == "50%" {print $2}' "$work/wrk")"
  p99="$(awk '$1 == "99%" {print $2}' "$work/wrk")"
  errors="$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$work/wrk")"
  echo "$name $rate $p50 $p99 $errors"
}

start "$build/tests/serve_baseline" 0
baseline="$(measure baseline "$url/")"
kill "${pids[-1]}"

start "$build/bin/torchsystem" serve --store "$store" --port 0 --plugin seed
curl -sf "$url/v2/models/MLP/versions/$hash/ready" >/dev/null  # loaded before it is measured
results=("$baseline"
  "$(measure live "$url/v2/health/live")"
  "$(measure identity "$url/v1/identity" "$work/identity.json")"
  "$(measure infer "$url/v2/models/MLP/versions/$hash/infer" "$work/infer.json")")
healthy="$(curl -s -o /dev/null -w '%{http_code}' "$url/v2/health/ready")"
infer_check="$(curl -s -X POST --data-binary @"$work/infer.json" -o /dev/null -w '%{http_code}' "$url/v2/models/MLP/versions/$hash/infer")"

base_rate="$(echo "$baseline" | awk '{print $2}')"
printf '%-10s %12s %8s %10s %10s %8s\n' route requests/s ratio p50 p99 errors
for line in "${results[@]}"; do
  read -r name rate p50 p99 errors <<<"$line"
  printf '%-10s %12s %8s %10s %10s %8s\n' "$name" "$rate" "$(awk -v a="$rate" -v b="$base_rate" 'BEGIN {printf "%.2f", a / b}')" \
    "$p50" "$p99" "$errors"
done
echo "after the load: /v2/health/ready $healthy, infer $infer_check"
[[ "$healthy" == 200 && "$infer_check" == 200 ]]
