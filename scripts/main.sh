#!/usr/bin/env bash
# The main job: set up (the packages the main job needs, configure, build), then train the seed's model
# from its configuration, saving a checkpoint under the model's identity every epoch. Run it again: it
# resumes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TORCHSYSTEM_SETUP=main TORCHSYSTEM_TARGETS="torchsystem_cli" source "$root/scripts/setup.sh"
"$build/bin/torchsystem" train "$root/examples/configs/seed.json"
echo
echo "checkpoints in $root/data/weights:"
"$build/bin/torchsystem" checkpoints "$root/data/weights"
