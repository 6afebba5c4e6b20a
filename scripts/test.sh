#!/usr/bin/env bash
# Every test: set up (packages, configure, build), then run the whole suite through CTest and the install
# test (scripts/install_test.sh); then the
# core's tests again under AddressSanitizer + UndefinedBehaviorSanitizer + LeakSanitizer, in build-asan/
# (scripts/sanitize.sh core-asan; a few minutes). TORCHSYSTEM_TEST_SANITIZE=0 skips that second run.
# Arguments go to the first ctest (e.g. `-R Registry`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/setup.sh"
ctest --test-dir "$build" --output-on-failure --parallel "$(nproc)" "$@"
# The install as a user meets it: a temporary prefix, examples/downstream, pkg-config, the Debian package
# and the core built without LibTorch (docs/install.md).
bash "$root/scripts/install_test.sh" "$build"
if [[ "${TORCHSYSTEM_TEST_SANITIZE:-1}" != 0 ]]; then
  bash "$root/scripts/sanitize.sh" core-asan
fi
