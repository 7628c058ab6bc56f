#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz: one per parser a user's file
# reaches) with clang in build-fuzz and runs each for [seconds-per-harness]
# (default 30) over a copy of its seed corpus, so a run never grows the
# committed seeds in tests/fuzz/corpus. Exits non-zero if any harness
# crashes, leaks, trips a sanitizer, takes over 10 s on an input or over
# 2 GiB of memory; the input that did it is left in build-fuzz/fuzz-runs/<harness>/
# (crash-*, leak-*, timeout-*, oom-*) — add it to the harness's corpus as
# crash-<what> and to the doctest suite as a regression test.
# Usage: scripts/fuzz.sh [seconds-per-harness]   (FUZZ_CXX: the clang++ to use)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-30}
harnesses=(safetensors idx idx_gzip image checkpoint)

# The CPU-side library only: no Vulkan backend, no tests or tools.
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER="${FUZZ_CXX:-clang++-14}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DVKCNN_FUZZ=ON -DVKCNN_VULKAN=OFF -DVKCNN_BUILD_TESTS=OFF -DVKCNN_BUILD_TOOLS=OFF -DVKCNN_WERROR=ON >/dev/null
nice -n 10 cmake --build build-fuzz -j2

status=0
for harness in "${harnesses[@]}"; do
    dir=build-fuzz/fuzz-runs/$harness
    rm -rf "$dir"
    mkdir -p "$dir/corpus"
    cp tests/fuzz/corpus/"$harness"/* "$dir/corpus/"
    if nice -n 10 build-fuzz/tests/fuzz/fuzz_"$harness" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus" >"$dir/log" 2>&1; then
        stat() { awk -v key="stat::$1:" '$1 == key {print $2}' "$dir/log"; }
        execs=$(stat number_of_executed_units) rate=$(stat average_exec_per_sec) rss=$(stat peak_rss_mb)
        cov=$(sed -nE 's/^#[0-9]+[[:space:]]+DONE +cov: ([0-9]+) ft: ([0-9]+) .*/cov \1, ft \2/p' "$dir/log" | tail -1)
        printf 'ok   %-12s %s execs (%s/s), %s, peak rss %s MB, 0 crashes\n' "$harness" "$execs" "$rate" "$cov" "$rss"
    else
        echo "FAIL $harness: $(ls "$dir" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' | tr '\n' ' ')(log: $dir/log)"
        grep -E 'ERROR|SUMMARY|runtime error|==[0-9]+==' "$dir/log" | sed -n 1,20p
        status=1
    fi
done
exit $status
