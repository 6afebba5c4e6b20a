#!/usr/bin/env bash
# A compiler launcher (CMAKE_CXX_COMPILER_LAUNCHER) that appends "SECONDS OBJECT" for every unit to
# TORCHSYSTEM_COMPILE_TIMES, for print_compile_times (scripts/phases.sh). setup.sh sets it when asked.
started=$(date +%s%N)
"$@"
status=$?
output=""
previous=""
for argument in "$@"; do
  [[ "$previous" == "-o" ]] && output="$argument"
  previous="$argument"
done
if [[ -n "${TORCHSYSTEM_COMPILE_TIMES:-}" && -n "$output" ]]; then
  elapsed=$(($(date +%s%N) - started))
  printf '%d.%03d %s\n' $((elapsed / 1000000000)) $((elapsed / 1000000 % 1000)) "$output" >>"$TORCHSYSTEM_COMPILE_TIMES"
fi
exit "$status"
