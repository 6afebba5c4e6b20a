#!/usr/bin/env bash
# Installs the Debian packages the build needs (only those missing), then configures and builds.
# Sourced by scripts/main.sh and scripts/test.sh so each quick-start command is complete on its own.
# Environment: TORCHSYSTEM_BUILD_DIR (default build/), TORCHSYSTEM_BUILD_TYPE (default Release),
# TORCHSYSTEM_TARGETS (default all), TORCHSYSTEM_CMAKE_ARGS (extra configure arguments, split on spaces),
# TORCHSYSTEM_EXTRA_PACKAGES (more Debian packages to install, such as the sanitizer runtimes).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${TORCHSYSTEM_BUILD_DIR:-$root/build}"
# shellcheck disable=SC2206 # the extra packages are split on spaces on purpose
packages=(g++ cmake make pkg-config nlohmann-json3-dev libssl-dev libboost-dev libgloo-dev libgtest-dev libgmock-dev libbenchmark-dev libtorch-dev libzip-dev zlib1g-dev libopenblas0-pthread dataset-fashion-mnist python3-torch chromium ${TORCHSYSTEM_EXTRA_PACKAGES:-})
source "$root/scripts/packages.sh"
install_missing_packages setup "${packages[@]}"

# shellcheck disable=SC2206 # split on spaces on purpose: one configure argument a word
cmake_arguments=(${TORCHSYSTEM_CMAKE_ARGS:-})
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE="${TORCHSYSTEM_BUILD_TYPE:-Release}" "${cmake_arguments[@]}" >/dev/null
targets=()
for target in ${TORCHSYSTEM_TARGETS:-}; do targets+=(--target "$target"); done
cmake --build "$build" --parallel "$(nproc)" "${targets[@]}"
