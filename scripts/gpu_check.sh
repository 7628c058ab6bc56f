#!/usr/bin/env bash
# The suite and the benchmarks on a real GPU driver, in one short run on a
# machine that has a GPU but none of the build tools (the `device` machine
# of this workplace: an NVIDIA H200, CUDA's PyTorch, no glslc, no apt).
#
#   scripts/gpu_check.sh prepare     here: build, then gather into .gpu/ the
#                                    binaries, the Vulkan loader and the
#                                    validation layer (Debian packages) and
#                                    MNIST (gzipped)
#   scripts/gpu_check.sh run [OUT]   there, from the repository root with .gpu/
#                                    beside it: vkcnn info / check, the doctest
#                                    suite with validation and synchronization
#                                    validation on, vkcnn tune, and training
#                                    throughput for the three models beside
#                                    PyTorch on CUDA where it is there; logs and
#                                    a summary into OUT (default $OUT, else out/gpu);
#                                    VKCNN_GPU_TESTS=<doctest filter> runs fewer tests,
#                                    VKCNN_GPU_BENCH=0 no benchmarks
#
# With the device tool: `run` with carry [".gpu"] and the command
# `scripts/gpu_check.sh run`, timeout_s 540. It takes about 5 minutes on an
# H200 (the suite's per-test pipeline compiles dominate). Not part of CI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

prepare() {
  scripts/build.sh
  rm -rf .gpu && mkdir -p .gpu/bin .gpu/debs .gpu/data/mnist
  cp build/tools/vkcnn build/tests/vkcnn_tests .gpu/bin/
  for f in data/mnist/*; do gzip -c "$f" >".gpu/data/mnist/$(basename "$f").gz"; done
  # The loader and the layer as Debian ships them (their only needs are libc
  # and libstdc++), unpacked there into .gpu/root.
  (cd .gpu/debs && apt-get download libvulkan1 vulkan-validationlayers)
  du -sh .gpu
}

run() {
  local out="${1:-${OUT:-out/gpu}}"
  mkdir -p "$out"
  local root="$PWD/.gpu/root"
  for deb in .gpu/debs/*.deb; do dpkg -x "$deb" "$root"; done
  local libdir
  libdir=$(dirname "$(find "$root" -name 'libvulkan.so.1' -print -quit)")
  export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export VK_LAYER_PATH="$root/usr/share/vulkan/explicit_layer.d"
  # The validation layer's manifest names its library by file name only.
  export LD_LIBRARY_PATH="$(dirname "$(find "$root" -name 'libVkLayer_khronos_validation.so' -print -quit)"):$LD_LIBRARY_PATH"
  local nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [[ -f $nvidia_icd ]]; then export VK_DRIVER_FILES=$nvidia_icd VK_ICD_FILENAMES=$nvidia_icd; fi
  export VKCNN_DATA_DIR="$PWD/.gpu/data"
  local bin=.gpu/bin status=0
  {
    echo "date: $(date -u +%F)  commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
  } | tee "$out/summary.txt"
  "$bin/vkcnn" info 2>&1 | tee "$out/info.txt"
  "$bin/vkcnn" check >"$out/check.txt" 2>&1 || status=1
  tee -a "$out/summary.txt" <"$out/check.txt"
  # The whole suite in one process (one validated device for all cases).
  local t0=$SECONDS
  local verdict="tests: passed"
  "$bin/vkcnn_tests" --duration=true --test-case="${VKCNN_GPU_TESTS:-*}" >"$out/tests.txt" 2>&1 || { verdict="tests: FAILED"; status=1; }
  echo "$verdict" | tee -a "$out/summary.txt"
  tail -4 "$out/tests.txt" | tee -a "$out/summary.txt"
  echo "tests took $((SECONDS - t0)) s" | tee -a "$out/summary.txt"
  "$bin/vkcnn" tune --dry-run >"$out/tune.txt" 2>&1 || status=1
  tail -6 "$out/tune.txt" | tee -a "$out/summary.txt"
  [[ ${VKCNN_GPU_BENCH:-1} == 1 ]] || return "$status"
  {
    for model in lenet5 resnet mobilenet; do
      for batch in 64 256; do
        "$bin/vkcnn" bench --csv --backend vulkan --model "$model" --batch "$batch" --warmup 5 --steps 20 --runs 5
        if python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
          python3 bench/torch_train.py --model "$model" --batch "$batch" --device cuda --steps 20 --runs 5
        fi
      done
    done
  } 2>&1 | tee "$out/bench.csv" | tee -a "$out/summary.txt"
  return "$status"
}

case "${1:-}" in
  prepare) prepare ;;
  run) shift; run "$@" ;;
  *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
