#!/usr/bin/env bash
# Operator benchmark: vkcnn's Vulkan backend, vkcnn's CPU backend and PyTorch
# (Debian python3-torch) on the same conv2d / linear shapes, same thread count,
# in one run; writes a dated section to docs/benchmarks.md.
#
#   scripts/bench.sh [--threads N] [--runs N] [--run-ms MS] [--max-load L] [--wait S] [--no-docs]
#
# Builds bench/ (Release) into build-bench/, installs python3-torch with apt if
# it cannot be imported, waits up to --wait seconds (default 300) for the
# 1-minute load average to fall below --max-load (default 2.5), then runs
# build-bench/bench/vkcnn_op_bench and bench/torch_ops.py. Raw CSV lands in
# build-bench/bench-results/. Re-running on the same day, device and thread
# count replaces that section's generated table and keeps the notes written
# under it. Not part of CI or the test suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

threads=$(nproc)
runs=7
run_ms=200
max_load=2.5
wait_s=300
docs=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --run-ms) run_ms=$2; shift 2 ;;
    --max-load) max_load=$2; shift 2 ;;
    --wait) wait_s=$2; shift 2 ;;
    --no-docs) docs=0; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

# The peer: Debian's python3-torch, so the system interpreter (a pyenv or venv
# python3 earlier in PATH would not see it).
py=python3
[[ -x /usr/bin/python3 ]] && py=/usr/bin/python3
if ! "$py" -c "import torch" 2>/dev/null; then
  echo "== installing python3-torch"
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  if ! $sudo apt-get install -y --no-install-recommends python3-torch; then
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends python3-torch
  fi
fi

echo "== building vkcnn_op_bench (Release) in build-bench/"
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DVKCNN_WERROR=ON \
  -DVKCNN_BUILD_TESTS=OFF -DVKCNN_BUILD_TOOLS=OFF -DVKCNN_BUILD_BENCH=ON >/dev/null
cmake --build build-bench -j "$(nproc)" --target vkcnn_op_bench

load1() { cut -d' ' -f1 /proc/loadavg; }
waited=0
while awk -v l="$(load1)" -v m="$max_load" 'BEGIN { exit !(l > m) }' && [[ $waited -lt $wait_s ]]; do
  echo "== load average $(load1) > $max_load, waiting (${waited}s of ${wait_s}s)"
  sleep 20
  waited=$((waited + 20))
done
load_before=$(load1)
# Share of CPU time idle over 2 s just before measuring (others' work on a shared machine).
cpu_idle() {
  local a b a1 a2 a3 a4 a5 a6 a7 a8
  read -r _ a1 a2 a3 a4 a5 a6 a7 a8 _ </proc/stat; a=$((a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8)); b=$((a4 + a5))
  sleep 2
  read -r _ a1 a2 a3 a4 a5 a6 a7 a8 _ </proc/stat
  echo $((100 * (a4 + a5 - b) / (a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 - a)))
}
idle_before=$(cpu_idle)

# torch allocates every result; with glibc's default malloc, freed blocks of
# several MB go back to the OS and the next call page-faults them in again
# (torch's 64x64x28x28 3x3 forward: 55 ms instead of 10 ms here). Keep freed
# memory mapped, for both programs, so that the table compares kernels.
export MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-4294967296}
export MALLOC_TRIM_THRESHOLD_=${MALLOC_TRIM_THRESHOLD_:-4294967296}

out=build-bench/bench-results
mkdir -p "$out"
# Shape by shape, vkcnn then torch, so that the three backends of one shape
# are measured within seconds of each other (the machine may be shared).
: >"$out/vkcnn.csv"
: >"$out/torch.csv"
for shape in $(build-bench/bench/vkcnn_op_bench --list); do
  echo "== $shape: vkcnn (Vulkan + CPU) and torch, $threads threads, load $(load1)"
  build-bench/bench/vkcnn_op_bench --threads "$threads" --runs "$runs" --run-ms "$run_ms" --filter "$shape " |
    tee -a "$out/vkcnn.csv"
  "$py" bench/torch_ops.py --threads "$threads" --runs "$runs" --run-ms "$run_ms" --filter "$shape " |
    tee -a "$out/torch.csv"
done
load_after=$(load1)

blas=$(readlink -f "/usr/lib/$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)/libblas.so.3" 2>/dev/null || true)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(git status --porcelain 2>/dev/null) ]] && commit="$commit (uncommitted changes in the tree)"

BENCH_OUT=$out BENCH_THREADS=$threads BENCH_LOAD="$load_before -> $load_after" BENCH_BLAS="$blas" \
BENCH_COMMIT="$commit" BENCH_IDLE=$idle_before BENCH_DOCS=$docs \
BENCH_CPU="$(lscpu | sed -n 's/^Model name: *//p' | head -1) (family $(lscpu | sed -n 's/^CPU family: *//p'), model $(lscpu | sed -n 's/^Model: *//p'))" \
BENCH_RUNS=$runs BENCH_RUN_MS=$run_ms "$py" - <<'EOF'
import csv, datetime, os, re

env = os.environ
out = env["BENCH_OUT"]

def read(path):
    meta, rows = {}, []
    with open(path) as f:
        lines = f.read().splitlines()
    for line in lines:
        if line.startswith("# "):
            k, _, v = line[2:].partition(": ")
            meta[k] = v
    body = [l for l in lines if l and not l.startswith("#") and not l.startswith("op,")]
    fields = ["op", "shape", "backend", "threads", "ms", "gflops", "ts_ms"]
    for r in csv.DictReader(body, fieldnames=fields):
        rows.append(r)
    return meta, rows

vk_meta, vk_rows = read(os.path.join(out, "vkcnn.csv"))
t_meta, t_rows = read(os.path.join(out, "torch.csv"))
res = {}
order = []
for r in vk_rows + t_rows:
    key = (r["op"], r["shape"])
    if key not in res:
        res[key] = {}
        order.append(key)
    res[key][r["backend"]] = r

def cell(r):
    return ("%.3f" % float(r["ms"]), "%.1f" % float(r["gflops"])) if r else ("-", "-")

def ratio(ours, torch):
    if not ours or not torch:
        return "-"
    return "%.2f" % (float(torch["ms"]) / float(ours["ms"]))

table = ["| op | shape | Vulkan ms | Vulkan GFLOP/s | CPU ms | CPU GFLOP/s | torch ms | torch GFLOP/s "
         "| Vulkan / torch | CPU / torch |",
         "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
ts_dev = 0.0
for key in order:
    b = res[key]
    v, c, t = b.get("vulkan"), b.get("cpu"), b.get("torch")
    table.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        key[0], key[1], *cell(v), *cell(c), *cell(t), ratio(v, t), ratio(c, t)))
    if v and v.get("ts_ms"):
        ts_dev = max(ts_dev, abs(float(v["ts_ms"]) / float(v["ms"]) - 1))

date = datetime.date.today().isoformat()
device = vk_meta.get("device", "no Vulkan device")
threads = env["BENCH_THREADS"]
key = "%s | %s | %s threads" % (date, device, threads)
info = [
    "- device: %s; driver: %s; GEMM tiles: %s" % (device, vk_meta.get("driver", "-"), vk_meta.get("gemm tiles", "-")),
    "- CPU: %s; threads: %s for the CPU backend, torch and lavapipe (LP_NUM_THREADS=%s)" % (
        env["BENCH_CPU"], threads, vk_meta.get("LP_NUM_THREADS", "-")),
    "- torch: %s; BLAS behind torch: %s%s" % (t_meta.get("torch", "-"), env["BENCH_BLAS"] or "unknown",
        " (Netlib's reference BLAS: torch's linear is not representative; convolutions run on oneDNN)"
        if "/blas/libblas" in env["BENCH_BLAS"] else ""),
    "- vkcnn commit: %s; 1-minute load average before -> after: %s; CPU idle just before: %s%%" % (
        env["BENCH_COMMIT"], env["BENCH_LOAD"], env["BENCH_IDLE"]),
    "- glibc malloc: MALLOC_MMAP_THRESHOLD_=%s, MALLOC_TRIM_THRESHOLD_=%s (freed memory stays mapped)" % (
        env.get("MALLOC_MMAP_THRESHOLD_", "default"), env.get("MALLOC_TRIM_THRESHOLD_", "default")),
    "- median of %s runs of about %s ms each; ratios are speed ratios (torch time / vkcnn time, > 1: vkcnn faster); "
    "Vulkan timestamp queries agree with the wall-clock times within %.1f%%" % (
        env["BENCH_RUNS"], env["BENCH_RUN_MS"], ts_dev * 100),
]
block = "\n".join(["<!-- bench: %s -->" % key] + info + [""] + table + ["<!-- /bench: %s -->" % key])
print("\n" + block)
if env["BENCH_DOCS"] != "1":
    raise SystemExit(0)

path = "docs/benchmarks.md"
intro = """# Benchmarks

Generated by `scripts/bench.sh` (method: bench/op_bench.cpp, bench/torch_ops.py);
newest first. Each section's list and table are rewritten when the script runs
again on the same day, device and thread count; the notes under them are kept.
"""
doc = open(path).read() if os.path.exists(path) else intro
begin, end = "<!-- bench: %s -->" % key, "<!-- /bench: %s -->" % key
if begin in doc and end in doc:
    doc = doc[:doc.index(begin)] + block + doc[doc.index(end) + len(end):]
else:
    section = "## %s — %s, %s threads\n\n%s\n\n" % (date, device, threads, block)
    m = re.search(r"^## ", doc, re.M)
    doc = doc[:m.start()] + section + doc[m.start():] if m else doc.rstrip("\n") + "\n\n" + section
open(path, "w").write(doc.rstrip("\n") + "\n")
print("== wrote %s" % path)
EOF
