#!/usr/bin/env bash
# Builds and runs the libFuzzer targets (docs/fuzzing.md), each for a while on a scratch copy of its
# committed corpus, so fuzz/corpus/ does not grow with every run.
#
#   scripts/fuzz.sh                       every target, 60 s each
#   scripts/fuzz.sh 600 identity jsonl    these targets, 10 minutes each
#   FUZZ_JOBS=2 scripts/fuzz.sh 3600      two fuzzing processes per target (the machine has the cores)
#
# Targets: identity config jsonl pickle http_framing (clang build, build-fuzz/) and checkpoint checkpoint_crc (g++ build,
# build-fuzz-gcc/: LibTorch's headers do not compile with clang 14). Crashes are written to
# fuzz-runs/<target>/ with the run's log; the exit status is non-zero when any target failed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
shift || true
targets=("$@")
((${#targets[@]})) || targets=(identity config jsonl pickle http_framing checkpoint checkpoint_crc)
jobs="${FUZZ_JOBS:-1}"
runs="${FUZZ_RUNS_DIR:-$root/fuzz-runs}"

source "$root/scripts/packages.sh"
install_missing_packages fuzz clang-14 libclang-rt-14-dev g++ cmake make pkg-config nlohmann-json3-dev libssl-dev \
  libtorch-dev libzip-dev libcsv-dev libboost-dev libgloo-dev

build_dir_of() {
  case "$1" in
    checkpoint | checkpoint_crc) echo "$root/build-fuzz-gcc" ;;
    *) echo "$root/build-fuzz" ;;
  esac
}

configure() {  # build dir, C compiler, C++ compiler
  [[ -f "$1/CMakeCache.txt" ]] && return
  CC="$2" CXX="$3" cmake -S "$root" -B "$1" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTORCHSYSTEM_BUILD_FUZZERS=ON \
    -DTORCHSYSTEM_BUILD_TESTS=OFF -DTORCHSYSTEM_BUILD_BENCHMARKS=OFF >/dev/null
}

for target in "${targets[@]}"; do
  build="$(build_dir_of "$target")"
  if [[ "$build" == */build-fuzz-gcc ]]; then configure "$build" gcc g++; else configure "$build" clang-14 clang++-14; fi
  cmake --build "$build" --parallel "$(nproc)" --target "${target}_fuzzer"
done

status=0
for target in "${targets[@]}"; do
  build="$(build_dir_of "$target")"
  work="$runs/$target"
  rm -rf "$work/corpus"
  mkdir -p "$work/corpus"
  cp "$root/fuzz/corpus/$target/"* "$work/corpus/"
  options=(-max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$work/" -timeout=30 -rss_limit_mb=4096)
  dict="$root/fuzz/${target%_crc}.dict"  # checkpoint_crc shares the checkpoint dictionary
  [[ -f "$dict" ]] && options+=(-dict="$dict")
  ((jobs > 1)) && options+=(-jobs="$jobs" -workers="$jobs")
  echo "fuzz: $target for ${seconds}s (log: $work/log)"
  # The store's temporary directories go to a scratch place of the run's own.
  if (cd "$work" && TMPDIR="$work" "$build/fuzz/${target}_fuzzer" "${options[@]}" "$work/corpus" >"$work/log" 2>&1); then
    grep -E "DONE|stat::number_of_executed_units|stat::peak_rss_mb" "$work/log" | tail -3 || true
    echo "fuzz: $target clean; corpus grew to $(ls "$work/corpus" | wc -l) files"
  else
    status=1
    echo "fuzz: $target FAILED; see $work/log and the crash-* file beside it"
  fi
done
exit "$status"
