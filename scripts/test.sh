#!/usr/bin/env bash
# Every test: set up (packages, configure, build), then run the whole suite through CTest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/setup.sh"
ctest --test-dir "$build" --output-on-failure --parallel "$(nproc)" "$@"
