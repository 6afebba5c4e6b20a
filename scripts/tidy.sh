#!/usr/bin/env bash
# Static analysis: clang-tidy 14 with the checked-in .clang-tidy over the project's translation units.
# Any warning fails (WarningsAsErrors: '*'), so the exit status is non-zero on any finding.
#
#   bash scripts/tidy.sh         # the units that do not include LibTorch (the core, the `torchsystem`
#   bash scripts/tidy.sh core    #   program, the core examples, tests, benchmark and fuzz targets, the
#                                #   checkpoint source check and its test): what CI runs
#   bash scripts/tidy.sh all     # every unit: src/, tools/, examples/, tests/, benchmarks/
#   bash scripts/tidy.sh FILE... # the given units
#
# `all` fails today on every unit that includes LibTorch: clang 14 cannot compile LibTorch 1.13's
# headers as C++20 with libstdc++ 12 (`static_assert ... is_destructible<c10::IValue>`), so clang-tidy
# stops at that error before any check runs. Those units are covered by GCC's warnings (errors in CI)
# and the sanitizer runs instead; docs/reliability.md has the details.
#
# It reads compile_commands.json from TORCHSYSTEM_TIDY_BUILD_DIR (default build-tidy/), configuring that
# directory when it has none (configure only: clang-tidy needs the commands, not the objects). Units run
# TORCHSYSTEM_TIDY_JOBS at a time (default: the number of processors).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${TORCHSYSTEM_TIDY_BUILD_DIR:-$root/build-tidy}"
jobs="${TORCHSYSTEM_TIDY_JOBS:-$(nproc)}"
tidy=clang-tidy-14

source "$root/scripts/packages.sh"
install_missing_packages tidy clang-tidy-14 cmake g++ pkg-config nlohmann-json3-dev libssl-dev libgtest-dev \
  libgmock-dev libbenchmark-dev libtorch-dev libzip-dev libcsv-dev libboost-dev libgloo-dev

if [[ ! -f "$build/compile_commands.json" ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
fi

core_units() {
  cd "$root" && ls src/core/*.cpp src/checkpoint/archive_source.cpp tools/common/*.cpp tools/torchsystem/*.cpp \
    examples/reference.cpp examples/tour.cpp tests/core/*.cpp tests/checkpoint/archive_source_test.cpp \
    src/checkpoint/archive_pickle.cpp tests/checkpoint/archive_pickle_test.cpp src/checkpoint/pickle.cpp \
    src/checkpoint/pickle_writer.cpp src/checkpoint/file.cpp src/checkpoint/checkpoint_info.cpp \
    tests/checkpoint/pickle_test.cpp fuzz/pickle_fuzzer.cpp \
    benchmarks/core_benchmarks.cpp fuzz/identity_fuzzer.cpp fuzz/config_fuzzer.cpp fuzz/jsonl_fuzzer.cpp \
    fuzz/replay_main.cpp
}
all_units() {
  cd "$root" && ls src/*/*.cpp tools/*/*.cpp examples/*.cpp tests/*/*.cpp benchmarks/*.cpp
}

case "${1:-core}" in
  all) mapfile -t units < <(all_units) ;;
  core) mapfile -t units < <(core_units) ;;
  *) units=("$@") ;;
esac

echo "tidy: ${#units[@]} units, $jobs at a time, with $($tidy --version | grep -o 'version [0-9.]*')"
started=$SECONDS
# GCC's warning options (-Wshadow=local, -Wno-restrict) are unknown to clang: not a finding.
status=0
printf '%s\n' "${units[@]}" |
  (cd "$root" && xargs -P "$jobs" -n 1 "$tidy" -p "$build" --quiet --extra-arg=-Wno-unknown-warning-option) ||
  status=$?
if ((status)); then
  echo "tidy: FAILED (findings above) after $((SECONDS - started)) s" >&2
  exit 1
fi
echo "tidy: clean, ${#units[@]} units in $((SECONDS - started)) s"
