#!/usr/bin/env bash
# Every test: set up (packages, configure, build), then run the whole suite through CTest and the install
# test (scripts/install_test.sh); then the core's tests again under AddressSanitizer +
# UndefinedBehaviorSanitizer + LeakSanitizer, in build-asan/, built without LibTorch (scripts/sanitize.sh
# core-asan; a few minutes). TORCHSYSTEM_TEST_SANITIZE=0 skips that second run. Each phase's time is
# printed at the end (scripts/phases.sh). Arguments go to the first ctest (e.g. `-R Registry`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The phases are printed at the end, unless the caller collects them (.ci/run does).
print_at_end=0
if [[ -z "${TORCHSYSTEM_PHASES:-}" ]]; then
  TORCHSYSTEM_PHASES="$(mktemp "${TMPDIR:-/tmp}/torchsystem-phases-XXXXXX")"
  print_at_end=1
fi
export TORCHSYSTEM_PHASES
source "$root/scripts/setup.sh"
run_phase ctest ctest --test-dir "$build" --output-on-failure --parallel "$(nproc)" "$@"
# The install as a user meets it: a temporary prefix, examples/downstream, pkg-config, the Debian package
# and the core built without LibTorch (docs/install.md).
run_phase install-test bash "$root/scripts/install_test.sh" "$build"
if [[ "${TORCHSYSTEM_TEST_SANITIZE:-1}" != 0 ]]; then
  bash "$root/scripts/sanitize.sh" core-asan
fi
if ((print_at_end)); then
  print_phases
  rm -f "$TORCHSYSTEM_PHASES"
fi
