#!/usr/bin/env bash
# What a user sees when Vulkan is missing or misconfigured, or an option,
# a checkpoint or the memory does not do: a clear message naming the problem
# (and the fix), a non-zero exit below 128, never a crash, a hang or a run
# that trains nothing and exits 0. Usage: errors_test.sh <vkcnn binary> [data dir]
set -u
vkcnn=$1
data=${2:-$(cd "$(dirname "$0")/../.." && pwd)/data}
fail=0

expect() { # expect <name> <pattern> <command...>: non-zero exit, no signal, output matches
    local name=$1 pattern=$2; shift 2
    out=$("$@" 2>&1); rc=$?
    if [ $rc -eq 0 ] || [ $rc -ge 128 ] || ! grep -q -- "$pattern" <<<"$out"; then
        echo "FAIL $name (exit $rc): expected /$pattern/ in:"; echo "$out"; fail=1
    else
        echo "ok   $name: $(grep -m1 -- "$pattern" <<<"$out")"
    fi
}

# No driver: the loader finds no ICD.
expect "no driver (info)" "mesa-vulkan-drivers" env VK_DRIVER_FILES=/nonexistent.json VK_ICD_FILENAMES=/nonexistent.json "$vkcnn" info
expect "no driver (check)" "mesa-vulkan-drivers" env VK_DRIVER_FILES=/nonexistent.json VK_ICD_FILENAMES=/nonexistent.json "$vkcnn" check
# No loader at all.
expect "no loader" "no Vulkan loader found" env VKCNN_VULKAN_LIBRARY=/nonexistent/libvulkan.so.1 "$vkcnn" check
expect "no loader says CPU works" "CPU backend" env VKCNN_VULKAN_LIBRARY=/nonexistent/libvulkan.so.1 "$vkcnn" info
# A device selector that matches nothing lists the devices.
expect "bad VKCNN_DEVICE" "matches no device" env VKCNN_DEVICE=no-such-gpu "$vkcnn" check
expect "bad --device" "matches no device" "$vkcnn" check --device no-such-gpu
expect "bad subcommand" "" "$vkcnn" no-such-command
# Training and evaluation: bad names and bad files are named.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
expect "unknown model" "unknown model 'vgg'; models: lenet5, resnet, mobilenet" "$vkcnn" train --model vgg --data "$tmp"
expect "missing dataset" "$tmp/mnist" "$vkcnn" train --data "$tmp"
expect "missing checkpoint" "$tmp/none.safetensors" "$vkcnn" eval "$tmp/none.safetensors" --data "$tmp"
printf 'not a checkpoint' > "$tmp/bad.safetensors"
expect "not an image" "$tmp/bad.safetensors: cannot read the image" "$vkcnn" predict "$tmp/none.safetensors" --image "$tmp/bad.safetensors"
expect "corrupt checkpoint" "$tmp/bad.safetensors" "$vkcnn" eval "$tmp/bad.safetensors" --backend cpu
# Augmentation and the benchmark: bad values are named before any work starts.
expect "augment option without --augment" "augment-degrees requires --augment" "$vkcnn" train --augment-degrees 5 --data "$tmp"
expect "bad augment scale" "augment: max_scale has to be in \[0, 1), but got 1.5" "$vkcnn" train --augment --augment-scale 1.5 --data "$tmp"
expect "bench: unknown backend" "unknown backend 'tpu'; backends: vulkan, cpu, both" "$vkcnn" bench --backend tpu
expect "bench: unknown dataset" "unknown dataset 'cifar'; datasets: random, mnist, fashion-mnist" "$vkcnn" bench --dataset cifar

# Numbers are checked as text, before CLI11 converts them: NaN, infinity and
# negative values (an unsigned option would take -1 as 2^64 - 1) are named.
expect "lr nan" "--lr: must be a finite number > 0, got 'nan'" "$vkcnn" train --lr nan --data "$tmp"
expect "lr inf" "--lr: must be a finite number > 0, got 'inf'" "$vkcnn" train --lr inf --data "$tmp"
expect "lr negative" "--lr: must be a finite number > 0, got '-0.1'" "$vkcnn" train --lr -0.1 --data "$tmp"
expect "momentum nan" "--momentum: must be a finite number >= 0, got 'nan'" "$vkcnn" train --momentum nan --data "$tmp"
expect "batch 0" "--batch: must be a whole number >= 1, got '0'" "$vkcnn" train --batch 0 --data "$tmp"
expect "warmup -1" "--warmup-steps: must be a whole number >= 0, got '-1'" "$vkcnn" train --warmup-steps -1 --data "$tmp"
expect "seed -1" "--seed: must be a whole number >= 0, got '-1'" "$vkcnn" train --seed -1 --data "$tmp"
expect "bench batch 1e7" "--batch: must be a whole number >= 1, got '1e7'" "$vkcnn" bench --batch 1e7
expect "unknown optimizer" "unknown optimizer 'rmsprop'; optimizers: sgd, adam, adamw" "$vkcnn" train --optimizer rmsprop --data "$tmp"
expect "freeze everything" "--freeze 0.,3.,7.,9.,11. freezes every parameter of lenet5: nothing to train" \
    "$vkcnn" train --freeze 0.,3.,7.,9.,11. --data "$tmp"
# --out is checked before any work.
expect "empty --out" "--out is empty: give the checkpoint file to write" "$vkcnn" train --out "" --data "$tmp"
expect "--out a directory" "--out $tmp is a directory" "$vkcnn" train --out "$tmp" --data "$tmp"
expect "--out a device" "--out /dev/null exists and is not a regular file" "$vkcnn" train --out /dev/null --data "$tmp"
touch "$tmp/file"
expect "--out under a file" "--out $tmp/file/x.safetensors: $tmp/file is not a directory" \
    "$vkcnn" train --out "$tmp/file/x.safetensors" --data "$tmp"
expect "--out not writable" "--out /proc/self/x.safetensors: cannot write in /proc/self" \
    "$vkcnn" train --out /proc/self/x.safetensors --data "$tmp"
# Memory: a batch that cannot fit is refused before anything is allocated,
# saying what it needs and what there is (ulimit -v makes "what there is"
# the same on every machine; lavapipe's heap is 2 GiB).
expect "bench: out of host memory" "out of memory: bench: the training step at batch 100000 needs about .* GiB.*more than this process's address-space limit (ulimit -v)" \
    bash -c 'ulimit -v 8000000 && exec "$0" bench --model resnet --batch 100000 --backend cpu' "$vkcnn"
if "$vkcnn" info 2>/dev/null | grep -q llvmpipe; then
    expect "bench: out of device memory" "out of memory: bench: the training step at batch 100000 needs about .* GiB.*largest device-local heap" \
        "$vkcnn" bench --model resnet --batch 100000 --backend vulkan
fi
expect "bench: a tensor too large" "exceeds 2^31 - 1" "$vkcnn" bench --batch 10000000 --backend cpu

if [ ! -d "$data/mnist" ] || ! command -v python3 >/dev/null; then
    echo "skip: the cases that train need $data/mnist (scripts/fetch_data.sh) and python3"
    exit $fail
fi
# Runs that would train nothing (or forever) say so instead.
run=(train --backend cpu --data "$data")
expect "out of memory (bad_alloc)" "out of memory while loading $data/mnist (train)" \
    bash -c 'ulimit -v 150000 && exec "$0" "$@"' "$vkcnn" "${run[@]}" --out "$tmp/x.safetensors"
expect "batch > dataset" "--batch 70000 is larger than the 60000 training samples: an epoch would have no batch" \
    "$vkcnn" "${run[@]}" --batch 70000 --out "$tmp/x.safetensors"
expect "batch > after validation" "--batch 64 is larger than the 10 training samples left after --validation 59990" \
    "$vkcnn" "${run[@]}" --validation 59990 --out "$tmp/x.safetensors"
expect "validation = dataset" "--validation 60000 holds out every training sample: the mnist training set has 60000" \
    "$vkcnn" "${run[@]}" --validation 60000 --out "$tmp/x.safetensors"
expect "NaN loss" "training step [0-9]*: the loss is .*nan; stopping" \
    "$vkcnn" "${run[@]}" --limit 64 --batch 32 --epochs 3 --lr 1e30 --out "$tmp/x.safetensors"
# --resume: the metadata is read strictly and must describe this run.
ok="$tmp/ok.safetensors"
if ! "$vkcnn" "${run[@]}" --limit 64 --batch 32 --epochs 1 --out "$ok" >/dev/null 2>&1; then
    echo "FAIL: a two-step training run failed"; exit 1
fi
# edit <in> <out> key=value... (key= removes it; nan=<tensor> fills a tensor with NaN)
edit() {
    python3 - "$@" <<'EOF_PY'
import json, struct, sys
src, dst = sys.argv[1], sys.argv[2]
data = open(src, 'rb').read()
n = struct.unpack('<Q', data[:8])[0]
header = json.loads(data[8:8 + n])
body = bytearray(data[8 + n:])
for arg in sys.argv[3:]:
    key, _, value = arg.partition('=')
    if key == 'nan':
        begin, end = header[value]['data_offsets']
        body[begin:end] = struct.pack('<f', float('nan')) * ((end - begin) // 4)
    elif value == '':
        header['__metadata__'].pop(key)
    else:
        header['__metadata__'][key] = value
text = json.dumps(header).encode()
text += b' ' * (-len(text) % 8)
open(dst, 'wb').write(struct.pack('<Q', len(text)) + text + bytes(body))
EOF_PY
}
resume=("${run[@]}" --limit 64 --batch 32 --epochs 3 --out "$tmp/resumed.safetensors" --resume)
edit "$ok" "$tmp/m1.safetensors" epoch=0 epoch_step=-1
expect "resume: epoch_step -1" "m1.safetensors: metadata 'epoch_step' is '-1', not a non-negative integer" "$vkcnn" "${resume[@]}" "$tmp/m1.safetensors"
edit "$ok" "$tmp/m2.safetensors" epoch=0 epoch_step=18446744073709551615
expect "resume: epoch_step 2^64-1" "m2.safetensors: metadata 'epoch_step' is 18446744073709551615, but an epoch of this run has 2 steps" \
    "$vkcnn" "${resume[@]}" "$tmp/m2.safetensors"
edit "$ok" "$tmp/m3.safetensors" step=abc
expect "resume: step abc" "m3.safetensors: metadata 'step' is 'abc', not a non-negative integer" "$vkcnn" "${resume[@]}" "$tmp/m3.safetensors"
edit "$ok" "$tmp/m4.safetensors" epoch=100
expect "resume: epoch 100" "m4.safetensors: the checkpoint has trained 100 epoch(s): --epochs 3 leaves nothing to train; give --epochs 101 or more" \
    "$vkcnn" "${resume[@]}" "$tmp/m4.safetensors"
expect "resume: --epochs already done" "ok.safetensors: the checkpoint has trained 1 epoch(s): --epochs 1 leaves nothing to train; give --epochs 2 or more" \
    "$vkcnn" "${run[@]}" --limit 64 --batch 32 --epochs 1 --out "$ok" --resume "$ok"
edit "$ok" "$tmp/m5.safetensors" step=5
expect "resume: step inconsistent" "m5.safetensors: metadata 'step' is 5, but epoch 1 and epoch_step 0 at 2 steps per epoch make 2" \
    "$vkcnn" "${resume[@]}" "$tmp/m5.safetensors"
edit "$ok" "$tmp/m6.safetensors" epoch_step=$(printf '9%.0s' $(seq 100))
expect "resume: long value cut" "metadata 'epoch_step' is '9999999999999999999999999999999999999999...' (100 characters), more than 2^64 - 1" \
    "$vkcnn" "${resume[@]}" "$tmp/m6.safetensors"
edit "$ok" "$tmp/m7.safetensors" epoch=
expect "resume: key missing" "m7.safetensors: metadata 'epoch' is missing: not a vkcnn training checkpoint" "$vkcnn" "${resume[@]}" "$tmp/m7.safetensors"
expect "resume: other seed" "the checkpoint's run has --seed 1, this one --seed 2: give --seed 1 to continue that run" \
    "$vkcnn" "${resume[@]}" "$ok" --seed 2
expect "resume: other model" "the checkpoint's run has --model 'lenet5', this one --model 'resnet'" "$vkcnn" "${resume[@]}" "$ok" --model resnet
expect "resume: other optimizer" "the checkpoint's run has --optimizer 'sgd', this one --optimizer 'adam'" \
    "$vkcnn" "${resume[@]}" "$ok" --optimizer adam
expect "resume: other batch" "the checkpoint's run has --batch 32, this one --batch 16" \
    "$vkcnn" "${run[@]}" --limit 64 --batch 16 --epochs 3 --out "$tmp/resumed.safetensors" --resume "$ok"
# NaN weights: evaluated, but with a warning naming the tensor, and exit 1.
edit "$ok" "$tmp/nan.safetensors" nan=3.weight
expect "eval: NaN weights" "nan.safetensors: the weights hold NaN or infinity: '3.weight' (2400 of 2400 values)" \
    "$vkcnn" eval "$tmp/nan.safetensors" --backend cpu --data "$data" --limit 100
# A huge eval batch is no error: the trainer eval builds is no larger than the test set.
if ! out=$("$vkcnn" eval "$ok" --backend cpu --data "$data" --limit 100 --batch 10000000 2>&1); then
    echo "FAIL eval --batch 10000000:"; echo "$out"; fail=1
else
    echo "ok   eval --batch 10000000: $(grep -m1 accuracy <<<"$out")"
fi
exit $fail
