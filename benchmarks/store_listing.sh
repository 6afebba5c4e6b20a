#!/usr/bin/env bash
# Listing a store of 100, 1,000 and 10,000 small checkpoints, and of 100 checkpoints of 4 MB, with the
# metadata-only listing (CheckpointStore::list, `torchsystem checkpoints`) and the full check (`verify`).
# The stores are generated in a temporary directory (TMPDIR, default /tmp) and removed at the end.
# Each listing figure is the best of 3 runs; "cli" is `torchsystem checkpoints DIR --json` as a whole,
# "start-up" the same command on an empty directory.
#   bash benchmarks/store_listing.sh build/bin
set -euo pipefail
bin="$1"
work="$(mktemp -d "${TMPDIR:-/tmp}/torchsystem-store-listing-XXXXXX")"
trap 'rm -rf "$work"' EXIT

best() {  # best wall time in seconds of 3 runs of a command
  local best=""
  for _ in 1 2 3; do
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || true
    end=$(date +%s.%N)
    best=$(python3 -c "import sys; a=float('$end')-float('$start'); b='$best'; print(a if not b else min(a, float(b)))")
  done
  printf '%.3f' "$best"
}

inside() {  # best in-process listing time of 3 runs
  local best=""
  for _ in 1 2 3; do
    local seconds
    seconds=$("$bin/store_listing" list "$@" | python3 -c "import json, sys; print(json.load(sys.stdin)['seconds'])")
    best=$(python3 -c "b='$best'; a=float('$seconds'); print(a if not b else min(a, float(b)))")
  done
  printf '%.3f' "$best"
}

mkdir -p "$work/empty"
startup=$(best "$bin/torchsystem" checkpoints "$work/empty" --json)
echo "start-up of torchsystem checkpoints (empty store): $startup s"
printf '%-8s %-10s %-12s %-14s %-12s %-12s\n' COUNT EACH "list (s)" "cli (s)" "cli-startup" "full (s)"
for spec in "100 16" "1000 16" "10000 16" "100 1000"; do
  set -- $spec
  store="$work/store-$1-$2"
  "$bin/store_listing" generate "$store" "$1" "$2"
  size=$(stat -c %s "$(ls "$store"/*.pth | head -1)")
  list=$(inside "$store")
  cli=$(best "$bin/torchsystem" checkpoints "$store" --json)
  full=$(inside "$store" full)
  net=$(python3 -c "print(f'{$cli - $startup:.3f}')")
  printf '%-8s %-10s %-12s %-14s %-12s %-12s\n' "$1" "${size}B" "$list" "$cli" "$net" "$full"
  rm -rf "$store"
done
