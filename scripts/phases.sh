#!/usr/bin/env bash
# Timing of the set-up and test phases, so that every run says where its time went (docs/architecture.md,
# "Build and CI time"). Sourced by setup.sh, test.sh and .ci/run.
#
#   run_phase NAME COMMAND...   runs COMMAND and records "NAME SECONDS" in TORCHSYSTEM_PHASES (if set),
#                               NAME prefixed by TORCHSYSTEM_PHASE_PREFIX
#   print_phases                prints the recorded phases and their total
#   print_compile_times FILE    the slowest units and the compile time per target, from the compiler
#                               launcher's log (scripts/compile_timer.sh; TORCHSYSTEM_COMPILE_TIMES)
run_phase() {
  local name="$1" started=$SECONDS status=0
  shift
  "$@" || status=$?
  if [[ -n "${TORCHSYSTEM_PHASES:-}" ]]; then
    echo "${TORCHSYSTEM_PHASE_PREFIX:-}$name $((SECONDS - started))" >>"$TORCHSYSTEM_PHASES"
  fi
  return "$status"
}

print_phases() {
  [[ -n "${TORCHSYSTEM_PHASES:-}" && -s "$TORCHSYSTEM_PHASES" ]] || return 0
  echo "phases (seconds):"
  awk '{ printf "  %-28s %6d\n", $1, $2; total += $2 } END { printf "  %-28s %6d\n", "total", total }' \
    "$TORCHSYSTEM_PHASES"
}

print_compile_times() {
  local log="$1"
  [[ -s "$log" ]] || return 0
  echo "compile time by target (seconds of one core; units):"
  awk '{ target = $2; sub(/.*CMakeFiles\//, "", target); sub(/\.dir\/.*/, "", target);
         seconds[target] += $1; units[target] += 1; total += $1 }
       END { for (t in seconds) printf "  %-34s %7.1f %4d\n", t, seconds[t], units[t];
             printf "  %-34s %7.1f\n", "(all)", total }' "$log" | sort -k2 -rn | awk 'NR <= 25'
  echo "slowest units (seconds):"
  # awk reads to the end, where `head` would close the pipe early: sort would die of SIGPIPE, and with
  # pipefail the report would fail the run it reports on.
  sort -rn "$log" | awk 'NR <= 10 { unit = $2; sub(/.*CMakeFiles\//, "", unit); printf "  %6.1f  %s\n", $1, unit }'
}
