#!/usr/bin/env bash
# Installs the Debian packages the build needs (only those missing), then configures and builds.
# Sourced by scripts/main.sh and scripts/test.sh so each quick-start command is complete on its own.
# Environment: TORCHSYSTEM_SETUP (test, the default: everything the tests need too; main: only what the
# main job needs, without the tests and benchmarks), TORCHSYSTEM_BUILD_DIR (default build/),
# TORCHSYSTEM_BUILD_TYPE (default Release), TORCHSYSTEM_TARGETS (default all), TORCHSYSTEM_CMAKE_ARGS (extra
# configure arguments, split on spaces), TORCHSYSTEM_EXTRA_PACKAGES (more Debian packages to install, such
# as the sanitizer runtimes), TORCHSYSTEM_COMPILE_TIMES (a file: every unit's compile time is appended to
# it, see scripts/phases.sh), TORCHSYSTEM_PHASES (a file: each phase's time is appended to it).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${TORCHSYSTEM_BUILD_DIR:-$root/build}"
source "$root/scripts/packages.sh"
source "$root/scripts/phases.sh"
# What the library, the program and the main job need.
packages=(g++ cmake make pkg-config nlohmann-json3-dev libssl-dev libboost-dev libgloo-dev libtorch-dev libzip-dev libcsv-dev
  zlib1g-dev libopenblas0-pthread dataset-fashion-mnist)
# shellcheck disable=SC2206 # split on spaces on purpose: one configure argument a word
cmake_arguments=(${TORCHSYSTEM_CMAKE_ARGS:-})
if [[ "${TORCHSYSTEM_SETUP:-test}" == main ]]; then
  cmake_arguments=(-DTORCHSYSTEM_BUILD_TESTS=OFF -DTORCHSYSTEM_BUILD_BENCHMARKS=OFF "${cmake_arguments[@]}")
else
  # What only the tests and benchmarks need: GoogleTest, Google Benchmark, and Debian's PyTorch and
  # Chromium as oracles and clients.
  packages+=(libgtest-dev libgmock-dev libbenchmark-dev python3-torch python3-numpy chromium iproute2)
  cmake_arguments=(-DTORCHSYSTEM_BUILD_TESTS=ON -DTORCHSYSTEM_BUILD_BENCHMARKS=ON "${cmake_arguments[@]}")
fi
# shellcheck disable=SC2206 # the extra packages are split on spaces on purpose
packages+=(${TORCHSYSTEM_EXTRA_PACKAGES:-})
run_phase packages install_missing_packages setup "${packages[@]}"

if [[ -n "${TORCHSYSTEM_COMPILE_TIMES:-}" ]]; then
  cmake_arguments+=(-DCMAKE_CXX_COMPILER_LAUNCHER="$root/scripts/compile_timer.sh")
fi
run_phase configure cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE="${TORCHSYSTEM_BUILD_TYPE:-Release}" \
  "${cmake_arguments[@]}" >/dev/null
targets=()
for target in ${TORCHSYSTEM_TARGETS:-}; do targets+=(--target "$target"); done
run_phase build cmake --build "$build" --parallel "$(nproc)" "${targets[@]}"
