#!/usr/bin/env bash
# vkcnn-demo as a user runs it, scripted, under Xvfb on the default Vulkan
# driver (lavapipe in CI), with validation and synchronization validation:
# trains LeNet-5 for a few hundred steps while drawing, resizes the window
# mid-run and back (the swapchain recreated each time) and asks to minimise
# it (a no-op under Xvfb without a window manager), writes a screenshot and a
# report, exits 0; then check_run checks both. Exit 77 (skipped) without the
# data or Xvfb.
set -euo pipefail
demo=$1 check=$2 data=$3 out=$4
steps=${VKCNN_DEMO_TEST_STEPS:-200}
if [[ ! -d $data/mnist ]]; then echo "demo/scripted_run: SKIPPED: no MNIST under $data (scripts/fetch_data.sh)"; exit 77; fi
if ! command -v xvfb-run >/dev/null; then echo "demo/scripted_run: SKIPPED: xvfb-run not installed (scripts/setup.sh)"; exit 77; fi
mkdir -p "$out"
rm -f "$out/screenshot.png" "$out/report.json"
# A hang is a failure, not a stuck CI job.
timeout 900 xvfb-run -a -s "-screen 0 1280x800x24" \
    "$demo" --data "$data" --validation --no-vsync --width 1024 --height 720 \
    --frames 60 --train-steps "$steps" --resize-at 30 --minimise-at 80 \
    --screenshot "$out/screenshot.png" --report "$out/report.json"
"$check" "$out/report.json" "$out/screenshot.png" "$steps" --resized
echo "demo/scripted_run: ok"
