#!/usr/bin/env bash
# The main job: set up (packages, configure, build), then run the seed's example in C++.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TORCHSYSTEM_TARGETS="seed" source "$root/scripts/setup.sh"
"$build/bin/seed"
