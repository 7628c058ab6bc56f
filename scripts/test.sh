#!/usr/bin/env bash
# Builds vkcnn and runs the whole test suite (ctest): unit tests on the
# default Vulkan device (lavapipe where there is no GPU) with validation on,
# the CLI, the find_package consumer and the WebAssembly build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900
