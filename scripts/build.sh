#!/usr/bin/env bash
# Configures and builds vkcnn (Release, warnings as errors) into build/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)"
