#!/usr/bin/env bash
# What a user sees when Vulkan is missing or misconfigured: a clear message
# naming the fix, a non-zero exit, never a crash. Usage: errors_test.sh <vkcnn binary>
set -u
vkcnn=$1
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
exit $fail
