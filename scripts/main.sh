#!/usr/bin/env bash
# The main job: set up (packages, configure, build), then run the reference example.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TORCHSYSTEM_TARGETS="reference" source "$root/scripts/setup.sh"
"$build/bin/reference"
