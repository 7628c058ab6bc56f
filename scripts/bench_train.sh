#!/usr/bin/env bash
# Training throughput (forward, loss, backward, SGD with momentum, the loss
# read every step) on vkcnn's Vulkan backend, vkcnn's CPU backend and PyTorch
# (Debian python3-torch), same thread count, one run per model and batch;
# prints a markdown table with the ratios for docs/benchmarks.md.
#
#   scripts/bench_train.sh [--threads N] [--models "lenet5 resnet mobilenet"]
#                          [--batches "64 256"] [--backend both|cpu|vulkan]
#
# Defaults: LeNet-5 at batch 64 on both backends. Builds the vkcnn CLI into
# build-bench/ and times with `vkcnn bench --csv` and bench/torch_train.py
# (the same three models as src/nn/models.cpp); installs python3-torch as
# scripts/bench.sh does if it is missing. Not part of CI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
threads=$(nproc)
models=lenet5
batches=64
backend=both
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --batches | --batch) batches=$2; shift 2 ;;
    --backend) backend=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
echo "| model | batch | backend | ms per step | images/s | vs torch |"
echo "| --- | ---: | --- | ---: | ---: | ---: |"
for model in $models; do
  for batch in $batches; do
    results=$( { build-bench/tools/vkcnn bench --csv --backend "$backend" --model "$model" --batch "$batch" \
                   --threads "$threads";
                 "$py" bench/torch_train.py --model "$model" --batch "$batch" --threads "$threads"; } )
    torch_ips=$(awk -F, '$2 == "torch" { print $6 }' <<<"$results")
    awk -F, -v t="$torch_ips" '{ printf "| %s | %s | %s | %.2f | %.0f | %.2f |\n", $1, $3,
                                        ($2 == "torch" ? "PyTorch " : "vkcnn ") $2, $5, $6, $6 / t }' <<<"$results"
  done
done
