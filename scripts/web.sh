#!/usr/bin/env bash
# The browser demo (web/): builds both WebAssembly modules (single-thread and
# pthreads, SIMD128), the shipped LeNet-5 weights (trained here by the
# native CLI on the CPU backend, never downloaded) and the site in
# build-wasm/web/site/, then:
#   scripts/web.sh            build only
#   scripts/web.sh serve [PORT]  and serve it (http://localhost:8080/, COOP/COEP set)
#   scripts/web.sh test       and run the browser tests in Chromium (tests/web/)
# Needs the native build (scripts/build.sh) for the CLI and the reference tool.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export NODE_PATH=/usr/share/nodejs # Debian's acorn, which emcc's optimizer needs

for preset in wasm wasm-threads; do
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$(nproc)"
done

site=build-wasm/web/site
mkdir -p "$site"
cp web/page/* "$site"/
cp build-wasm/web/vkcnn_web.js build-wasm/web/vkcnn_web.wasm "$site"/
cp build-wasm-threads/web/vkcnn_web_threads.js build-wasm-threads/web/vkcnn_web_threads.wasm \
   build-wasm-threads/web/vkcnn_web_threads.worker.js "$site"/

# The shipped weights: LeNet-5, 6 epochs of SGD with a cosine schedule,
# random affine augmentation and random stroke width (half of each batch
# thickened by 1 or 2 pixels: a digit drawn small comes out bold after
# MNIST's preprocessing), seed 1: 99.17% on MNIST's test set, 98% of the
# browser tests' drawn digits (without the stroke width: 95.5%). About 40 s
# on 2 cores. Kept across runs; the recipe is part of the file's name.
weights=build/web/lenet5-e6-cosine-affine-stroke0.5-seed1.safetensors
if [ ! -f "$weights" ]; then
  mkdir -p build/web
  build/tools/vkcnn train --backend cpu --model lenet5 --dataset mnist --epochs 6 --schedule cosine --lr 0.05 \
    --augment --augment-stroke 0.5 --seed 1 --out "$weights.tmp" && mv "$weights.tmp" "$weights"
fi
cp "$weights" "$site"/lenet5.safetensors

# Size on the wire: what a visitor downloads before the weights.
for f in vkcnn_web.js vkcnn_web.wasm vkcnn_web_threads.js vkcnn_web_threads.wasm vkcnn_web_threads.worker.js; do
  printf '%-28s %8d bytes, %8d gzipped\n' "$f" "$(stat -c %s "$site/$f")" "$(gzip -9c "$site/$f" | wc -c)"
done

case "${1:-}" in
  serve) exec node web/serve.mjs --root "$site" --data data --port "${2:-8080}" ;;
  test)
    [ -d web/node_modules/playwright-core ] || npm ci --prefix web --no-audit --no-fund
    exec node tests/web/run.mjs --site "$site" --data data ;;
  "") ;;
  *) echo "usage: scripts/web.sh [serve [PORT] | test]" >&2; exit 2 ;;
esac
