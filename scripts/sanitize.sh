#!/usr/bin/env bash
# Builds the suite with AddressSanitizer + UndefinedBehaviorSanitizer (the
# `sanitize` preset, build-sanitize/) and runs the doctest cases under them:
# the CPU kernels, graph, nn, data and io tests, and the Vulkan-side tests on
# lavapipe (whose own code is not instrumented, but every buffer, mapping and
# host copy of ours is). Any report fails the run. Usage: scripts/sanitize.sh
# [ctest -R regex] (default: every unit test but the few listed below).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cmake --preset sanitize >/dev/null
# The demo's texture test too, where the demo is built (libglfw3-dev, libimgui-dev).
targets=(vkcnn_tests)
if cmake --build --preset sanitize --target help | grep -q '^vkcnn_demo_tests:'; then targets+=(vkcnn_demo_tests); fi
cmake --build --preset sanitize -j "$(nproc)" --target "${targets[@]}"
# Leaks are ours to find, not the driver's or the validation layer's: their
# allocations that live until exit are suppressed by library name.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1
export LSAN_OPTIONS=suppressions=$PWD/tests/sanitize.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The viz tests' trained LeNet-5 (tests/support/trained.h): the one the
# ctest stage cached in build/, rather than a training under the sanitizers.
export VKCNN_TEST_CACHE=${VKCNN_TEST_CACHE:-$PWD/build/test-cache}
# Left out by default: the op sweeps whose instrumented double references
# take minutes (their kernels run under the sanitizers in the same ops'
# fuzzer and edge-case tests) and the full MNIST training run (the programs
# tests train the same step).
skip='over the sweep|matmul tilings and register blocks|matmul shaders, register and tiled|LeNet-5 learns MNIST'
if [ $# -gt 0 ]; then
  ctest --test-dir build-sanitize --output-on-failure -j "$(nproc)" --timeout 300 -R "$1"
else
  ctest --test-dir build-sanitize --output-on-failure -j "$(nproc)" --timeout 300 -R '^unit/' -E "$skip"
fi
