#!/usr/bin/env bash
# Set up a Debian 12 (bookworm) machine to build and test vkcnn, then fetch the
# datasets (scripts/fetch_data.sh). Idempotent and non-interactive; safe to rerun.
# Uses sudo only when not run as root.
set -euo pipefail

# --- Debian packages --------------------------------------------------------
# The one list of what the project needs from apt. Each entry is installed with
# --no-install-recommends; emscripten's only Recommends (libjs-d3 for the
# profiler page, python3-numpy for tools/gen_struct_info.py) are not used by emcc.
PACKAGES=(
  # build toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates
  # Vulkan: headers/loader, GLSL -> SPIR-V compiler, SPIR-V tools
  libvulkan-dev glslc spirv-tools
  # Vulkan runtime for tests without a GPU (lavapipe), validation, vulkaninfo
  mesa-vulkan-drivers vulkan-validationlayers vulkan-tools
  # header-only / small C++ libraries: tests, JSON, CLI, images, gzip (idx.gz)
  doctest-dev nlohmann-json3-dev libcli11-dev libstb-dev zlib1g-dev
  # independent safetensors reader in the tests (tests/io/read_safetensors.py)
  python3-numpy
  # WebAssembly build (emcc); pulls clang-14, lld-14, binaryen, node-acorn
  emscripten
  # libFuzzer and the sanitizer runtimes for clang (scripts/fuzz.sh)
  clang-14 libclang-rt-14-dev
  # Fashion-MNIST (.gz idx files under /usr/share/datasets/fashion-mnist)
  dataset-fashion-mnist
  # the desktop demo (demo/): window, Dear ImGui (with its GLFW and Vulkan
  # backends), and a virtual X display for its scripted test
  libglfw3-dev libimgui-dev xvfb xauth
  # a second Vulkan implementation for the tests (swiftshader/..., drivers/...):
  # Google's SwiftShader, /usr/lib/chromium/libvk_swiftshader.so
  chromium-common
  # the browser demo's tests (tests/web/run.mjs): the browser they drive
  chromium
)
# nodejs + npm are added only when npm is not already on PATH: the CI image
# ships its own node 20 + npm, whose nodejs package Conflicts with Debian's npm.
NODE_PACKAGES=(nodejs npm)
# ---------------------------------------------------------------------------

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

as_root() {
  if [[ ${EUID} -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "setup: error: not root and sudo not found; run as root" >&2
    exit 1
  fi
}

apt_get() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -q "$@"
}

is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

wanted=("${PACKAGES[@]}")
if ! command -v npm >/dev/null 2>&1; then
  wanted+=("${NODE_PACKAGES[@]}")
fi

missing=()
for p in "${wanted[@]}"; do
  is_installed "$p" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#wanted[@]} packages already installed"
else
  echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
  apt_get update
  apt_get install -y --no-install-recommends "${missing[@]}"
fi

# Debian's emscripten runs tools/acorn-optimizer.js (emcc -O2 and up) with
# require('acorn') and relies on Debian's node searching /usr/share/nodejs,
# where node-acorn lives. A node not built by Debian (e.g. the CI image's
# node 20) does not search there, so emcc -O2 fails with "Cannot find module
# 'acorn'". Link acorn into that node's global module folder.
if ! node -e 'require("acorn")' >/dev/null 2>&1 && [[ -d /usr/share/nodejs/acorn ]]; then
  node_global="$(node -p 'require("path").resolve(process.execPath, "../../lib/node")')"
  as_root mkdir -p "$node_global"
  as_root ln -sfn /usr/share/nodejs/acorn "$node_global/acorn"
  node -e 'require("acorn")' >/dev/null 2>&1 || {
    echo "setup: error: node still cannot load acorn (needed by emcc)" >&2
    exit 1
  }
  echo "setup: linked acorn into $node_global for emscripten"
fi

# The browser tests' one npm package, playwright-core (pinned in web/package-lock.json). It only
# drives the chromium installed above: it downloads no browser.
if [[ ! -d "$here/../web/node_modules" ]]; then
  npm ci --prefix "$here/../web" --no-audit --no-fund
  echo "setup: installed web/node_modules (playwright-core)"
fi

"$here/fetch_data.sh"
echo "setup: data ok"
