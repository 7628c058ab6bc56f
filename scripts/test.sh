#!/usr/bin/env bash
# Builds vkcnn and runs every test: the ctest suite (unit tests on the
# default Vulkan device — lavapipe where there is no GPU — with validation
# on, the CLI, the find_package consumer and the WebAssembly build), then the
# suite under AddressSanitizer + UndefinedBehaviorSanitizer
# (scripts/sanitize.sh) and a bounded run of every fuzzer (scripts/fuzz.sh).
# VKCNN_TEST_QUICK=1 runs the ctest suite only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/build.sh
# The WebAssembly builds (build-wasm/, build-wasm-threads/) and the browser
# demo's site, before ctest so that its wasm/ and web/ tests find them built.
if command -v emcc >/dev/null 2>&1; then
  scripts/web.sh
fi

slowest() { # the 10 slowest tests of the last ctest run in build dir $1
  local cost="$1/Testing/Temporary/CTestCostData.txt"
  [ -f "$cost" ] || return 0
  echo "slowest tests ($1):"
  awk '/^---/{exit} { t=$NF; n=$0; sub(/ [0-9]+ [0-9.e+-]+$/, "", n); printf "%8.1f s  %s\n", t, n }' "$cost" |
    sort -rn | sed -n 1,10p # sed reads to the end: head would leave sort a SIGPIPE, fatal under pipefail
}

status=0
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900 || status=$?
slowest build
[ "$status" -eq 0 ] || exit "$status"
[ "${VKCNN_TEST_QUICK:-0}" = 1 ] && exit 0

scripts/sanitize.sh || status=$?
slowest build-sanitize
[ "$status" -eq 0 ] || exit "$status"
scripts/fuzz.sh "${VKCNN_FUZZ_SECONDS:-30}"
