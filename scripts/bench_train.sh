#!/usr/bin/env bash
# Training throughput: LeNet-5 at batch 64 (forward, loss, backward, SGD with
# momentum, the loss read every step) on vkcnn's Vulkan backend, vkcnn's CPU
# backend and PyTorch (Debian python3-torch), same thread count, one run;
# prints a markdown table with the ratios for docs/benchmarks.md.
#
#   scripts/bench_train.sh [--threads N] [--batch N]
#
# Builds the vkcnn CLI into build-bench/ and times with `vkcnn bench --csv`
# (installs python3-torch as scripts/bench.sh does if it is missing). Not part of CI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
threads=$(nproc)
batch=64
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_train.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
py=python3
[[ -x /usr/bin/python3 ]] && py=/usr/bin/python3
if ! "$py" -c "import torch" 2>/dev/null; then
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y --no-install-recommends python3-torch || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends python3-torch; }
fi
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DVKCNN_WERROR=ON \
  -DVKCNN_BUILD_TESTS=OFF -DVKCNN_BUILD_TOOLS=ON -DVKCNN_BUILD_BENCH=ON >/dev/null
cmake --build build-bench -j "$(nproc)" --target vkcnn_cli >/dev/null
# lavapipe gets the same number of threads as the CPU backend and torch.
export LP_NUM_THREADS=$threads
results=$( { build-bench/tools/vkcnn bench --csv --backend both --model lenet5 --batch "$batch" --threads "$threads";
             "$py" bench/torch_train.py --batch "$batch" --threads "$threads"; } )
torch_ips=$(awk -F, '$2 == "torch" { print $6 }' <<<"$results")
echo "| backend | ms per step | images/s | vs torch |"
echo "| --- | ---: | ---: | ---: |"
awk -F, -v t="$torch_ips" '{ printf "| %s | %.2f | %.0f | %.2f |\n", ($2 == "torch" ? "PyTorch " : "vkcnn ") $2, $5, $6, $6 / t }' <<<"$results"
