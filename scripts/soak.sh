#!/usr/bin/env bash
# The long run (not part of the test suite): LeNet-5 for 10,000 replayed steps
# (or $1) on the default Vulkan device with validation and synchronization
# validation on, resident memory and device memory blocks sampled; fails on
# any validation message or growth. About 16 minutes on lavapipe, 2 cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/build.sh
build/bench/vkcnn_soak "${1:-10000}" "${2:-64}"
