#!/usr/bin/env bash
# Sanitizer runs (docs/reliability.md). Each run installs missing Debian packages, configures its own
# build directory with TORCHSYSTEM_SANITIZE, builds what it needs and runs the tests through CTest:
#
#   bash scripts/sanitize.sh             # asan, then tsan
#   bash scripts/sanitize.sh asan        # AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer):
#                                        #   the whole suite (core, torch, training, fuzz corpus replays)
#                                        #   in build-asan/, each gtest binary in one process a processor
#   bash scripts/sanitize.sh core-asan   # the same, the core's tests only, quickly (what scripts/test.sh
#                                        #   adds), with the stress test at 8 x 10,000 cycles unless
#                                        #   TORCHSYSTEM_STRESS_CYCLES says otherwise; configured without
#                                        #   LibTorch, so only the core and its tests are built
#   bash scripts/sanitize.sh tsan        # ThreadSanitizer, in build-tsan/: the tests that start threads,
#                                        #   all in the core (Threads.*, Stress.*, Md5Hex's per-thread test)
#
# Extra arguments after the mode go to the gtest binaries for asan and core-asan (e.g.
# `--gtest_filter=Stress.*`), to ctest for tsan (e.g. `-R Stress`). Any sanitizer report fails the test it
# happens in: UBSan does not recover, ASan, LSan and TSan exit non-zero. TORCHSYSTEM_SANITIZE_BUILD_TYPE
# changes the build type (default RelWithDebInfo: optimized as in use, with line numbers in reports).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
suppressions="$root/scripts/sanitizers"

# Runs a gtest binary of `build` in one process a processor (gtest shards) instead of one process a
# test as CTest does: under ASan, start-ups cost more than the tests (13 min against 3 min for the 1,324
# core tests on 2 busy cores). LeakSanitizer checks each shard at its exit; extra arguments go to gtest.
run_sharded() {
  local build="$1" binary="$2"
  shift 2
  local shards pids=() failed=0 shard started=$SECONDS
  shards="$(nproc)"
  for ((shard = 0; shard < shards; ++shard)); do
    GTEST_TOTAL_SHARDS="$shards" GTEST_SHARD_INDEX="$shard" "$build/tests/$binary" --gtest_brief=1 "$@" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  if ((failed)); then
    echo "sanitize: $binary FAILED" >&2
    exit 1
  fi
  echo "sanitize: $binary clean ($shards shards, $((SECONDS - started)) s)"
}

run_mode() {
  local mode="$1"
  shift
  local sanitize directory targets labels filter=() torch=ON
  case "$mode" in
    asan) sanitize=address,undefined directory=build-asan targets="" labels="" ;;
    core-asan) sanitize=address,undefined directory=build-asan-core targets="core_tests" labels="core" torch=OFF ;;
    tsan)
      sanitize=thread directory=build-tsan targets="core_tests" labels="core" torch=OFF
      filter=(-R '^(Threads|Stress)[.]|^Md5Hex[.]GivesTheSameAnswerOnEveryThread$')
      ;;
    *)
      echo "sanitize: unknown mode '$mode' (asan, core-asan, tsan)" >&2
      return 2
      ;;
  esac
  echo "sanitize: $mode (-fsanitize=$sanitize) in $directory"
  (
    # This run's phases are told apart from the main build's (scripts/phases.sh).
    export TORCHSYSTEM_PHASE_PREFIX="sanitize-"
    # setup.sh sets `build` and installs the sanitizer runtimes GCC links against if they are missing.
    TORCHSYSTEM_BUILD_DIR="$root/$directory" \
      TORCHSYSTEM_BUILD_TYPE="${TORCHSYSTEM_SANITIZE_BUILD_TYPE:-RelWithDebInfo}" \
      TORCHSYSTEM_TARGETS="$targets" \
      TORCHSYSTEM_EXTRA_PACKAGES="libasan8 libubsan1 libtsan2" \
      TORCHSYSTEM_CMAKE_ARGS="-DTORCHSYSTEM_SANITIZE=$sanitize -DTORCHSYSTEM_BUILD_TORCH=$torch -DTORCHSYSTEM_BUILD_BENCHMARKS=OFF" \
      TORCHSYSTEM_COMPILE_TIMES="" source "$root/scripts/setup.sh"
    export ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1:detect_stack_use_after_return=1"
    export LSAN_OPTIONS="suppressions=$suppressions/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$suppressions/tsan.supp"
    case "$mode" in
      core-asan)
        export TORCHSYSTEM_STRESS_CYCLES="${TORCHSYSTEM_STRESS_CYCLES:-10000}"
        run_phase tests run_sharded "$build" core_tests "$@"
        return
        ;;
      asan)
        run_sharded "$build" core_tests "$@"
        run_sharded "$build" torch_tests "$@"
        run_sharded "$build" training_tests "$@"
        # The fuzz corpus replays: one process each, so CTest's cost does not matter.
        ctest --test-dir "$build" --output-on-failure --parallel "$(nproc)" -L fuzz
        return
        ;;
    esac
    label_arguments=()
    [[ -z "$labels" ]] || label_arguments=(-L "$labels")
    ctest --test-dir "$build" --output-on-failure --parallel "$(nproc)" "${label_arguments[@]}" "${filter[@]}" "$@"
  )
}

if (($# == 0)); then
  run_mode asan
  run_mode tsan
else
  mode="$1"
  shift
  run_mode "$mode" "$@"
fi
