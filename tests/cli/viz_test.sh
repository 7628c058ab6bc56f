#!/usr/bin/env bash
# `vkcnn viz`: every method on a checkpoint trained here in seconds (10000
# MNIST samples, one epoch, CPU): exits 0, prints its figure, and writes a
# PNG whose signature and IHDR size are those it printed (or a well-formed
# SVG); bad inputs exit non-zero below 128 with a message naming the
# problem. Usage: viz_test.sh <vkcnn binary> [data dir]
set -u
vkcnn=$1
data=${2:-$(cd "$(dirname "$0")/../.." && pwd)/data}
if [ ! -f "$data/mnist/t10k-images-idx3-ubyte" ] && [ ! -f "$data/mnist/t10k-images-idx3-ubyte.gz" ]; then
    echo "cli/viz: SKIPPED: $data/mnist is missing (scripts/fetch_data.sh)"
    exit 0
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0

# png_size FILE: "WxH" from the IHDR chunk, after checking the signature and the chunk's name.
png_size() {
    local sig ihdr
    sig=$(od -An -tx1 -N8 "$1" | tr -d ' \n')
    ihdr=$(od -An -c -j12 -N4 "$1" | tr -d ' \n')
    [ "$sig" = "89504e470d0a1a0a" ] && [ "$ihdr" = "IHDR" ] || { echo "not-a-png"; return; }
    local w h
    w=$(od -An -tu1 -j16 -N4 "$1" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
    h=$(od -An -tu1 -j20 -N4 "$1" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
    echo "${w}x${h}"
}

# ok <name> <pattern> <out file> <args...>: exit 0, the pattern printed, and the file written as it says.
ok() {
    local name=$1 pattern=$2 file=$3; shift 3
    out=$("$vkcnn" viz "$@" --out "$file" 2>&1); rc=$?
    local problem=""
    [ $rc -eq 0 ] || problem="exit $rc"
    grep -q -- "$pattern" <<<"$out" || problem="$problem; no /$pattern/"
    if [[ $file == *.png ]]; then
        local said got
        said=$(grep -o "wrote $file ([0-9]*x[0-9]*)" <<<"$out" | grep -o "([0-9]*x[0-9]*)" | tr -d '()')
        got=$(png_size "$file" 2>/dev/null)
        [ -n "$said" ] && [ "$said" = "$got" ] || problem="$problem; PNG size '$got', printed '$said'"
    else
        head -c 5 "$file" 2>/dev/null | grep -q "<svg " && tail -c 7 "$file" | grep -q "</svg>" ||
            problem="$problem; not an SVG document"
    fi
    if [ -n "$problem" ]; then
        echo "FAIL $name ($problem):"; echo "$out"; fail=1
    else
        echo "ok   $name: $(grep -m1 -- "$pattern" <<<"$out")"
    fi
}

# bad <name> <pattern> <args...>: non-zero exit below 128, the pattern printed.
bad() {
    local name=$1 pattern=$2; shift 2
    out=$("$vkcnn" viz "$@" 2>&1); rc=$?
    if [ $rc -eq 0 ] || [ $rc -ge 128 ] || ! grep -q -- "$pattern" <<<"$out"; then
        echo "FAIL $name (exit $rc): expected /$pattern/ in:"; echo "$out"; fail=1
    else
        echo "ok   $name: $(grep -m1 -- "$pattern" <<<"$out")"
    fi
}

ckpt=$tmp/lenet5.safetensors
if ! "$vkcnn" train --limit 10000 --epochs 1 --backend cpu --data "$data" --out "$ckpt" --log "$tmp/log.csv" >"$tmp/train.txt" 2>&1; then
    echo "FAIL training the checkpoint:"; cat "$tmp/train.txt"; exit 1
fi
grep -q "^kind,step,epoch,loss,accuracy,learning_rate$" "$tmp/log.csv" && grep -q "^test,156,1," "$tmp/log.csv" &&
    [ "$(grep -c '^train,' "$tmp/log.csv")" -eq 156 ] || { echo "FAIL train --log:"; cat "$tmp/log.csv" | head; fail=1; }

# An unwritable --log fails before any training.
out=$("$vkcnn" train --limit 200 --backend cpu --data "$data" --out "$tmp/x.safetensors" --log "$tmp/no/dir/log.csv" 2>&1); rc=$?
if [ $rc -eq 0 ] || ! grep -q -- "--log $tmp/no/dir/log.csv: cannot write" <<<"$out" || [ -e "$tmp/x.safetensors" ]; then
    echo "FAIL train --log unwritable (exit $rc):"; echo "$out"; fail=1
else
    echo "ok   train --log unwritable: $(grep -m1 -- "--log" <<<"$out")"
fi

# Adversarial training: a share of each batch replaced by attacks, recorded in the checkpoint.
out=$("$vkcnn" train --limit 640 --backend cpu --data "$data" --out "$tmp/adv.safetensors" --adversarial pgd \
      --adversarial-steps 2 --adversarial-share 0.25 2>&1); rc=$?
if [ $rc -ne 0 ] || ! grep -q "adversarial: PGD at epsilon 0.3, 2 steps on 16 of each 64 images" <<<"$out" ||
    ! grep -a -q '"adversarial":"pgd epsilon 0.3 steps 2 share 0.25"' "$tmp/adv.safetensors"; then
    echo "FAIL train --adversarial (exit $rc):"; echo "$out"; fail=1
else
    echo "ok   train --adversarial: $(grep -m1 "adversarial:" <<<"$out")"
fi

m=(--data "$data" --backend cpu)
ok filters "filters of 0.weight (6, 1, 5, 5)" "$tmp/filters.png" filters "$ckpt" "${m[@]}"
ok activations "test sample 0 (label 7): class" "$tmp/act.png" activations "$ckpt" "${m[@]}" --index 0
ok patches "receptive field of 3: 14x14 pixels" "$tmp/patches.png" patches "$ckpt" "${m[@]}" --limit 300 --k 4
ok neighbours "feature space: #" "$tmp/nb.png" neighbours "$ckpt" "${m[@]}" --index 0 --limit 300 --k 4
ok "embed pca" "5-NN accuracy in 2-D" "$tmp/pca.png" embed "$ckpt" "${m[@]}" --limit 300
ok "embed tsne" "t-SNE of 200 features" "$tmp/tsne.svg" embed "$ckpt" "${m[@]}" --limit 200 --method tsne
for method in saliency gradient-x-input smoothgrad guided-backprop deconvnet guided-grad-cam occlusion; do
    ok "$method" "explaining class 7" "$tmp/$method.png" "$method" "$ckpt" "${m[@]}" --index 0
done
ok integrated-gradients "completeness error" "$tmp/ig.png" integrated-gradients "$ckpt" "${m[@]}" --index 0 --class 3
ok grad-cam "grad-cam at layer 4" "$tmp/gc.png" grad-cam "$ckpt" "${m[@]}" --index 0
ok "saliency (vulkan)" "explaining class 7" "$tmp/sal-vk.png" saliency "$ckpt" --data "$data" --backend vulkan --index 0
ok class-model "class 3: logit" "$tmp/cm.png" class-model "$ckpt" "${m[@]}" --class 3 --steps 20 --scale 1
ok deepdream "||layer output||" "$tmp/dd.png" deepdream "$ckpt" "${m[@]}" --index 0 --steps 5
ok unit "units of layer 3 (1, 16, 10, 10): channels 0 5" "$tmp/unit.png" unit "$ckpt" "${m[@]}" --layer 3 --channels 0,5 --steps 10
ok style "Gram loss" "$tmp/style.png" style "$ckpt" "${m[@]}" --index 0 --steps 10
ok fgsm "FGSM at epsilon 0.1" "$tmp/fgsm.png" fgsm "$ckpt" "${m[@]}" --index 0
ok pgd "PGD-10 at epsilon 0.3" "$tmp/pgd.png" pgd "$ckpt" "${m[@]}" --index 0 --steps 10
ok targeted "target 3: read as" "$tmp/tg.png" targeted "$ckpt" "${m[@]}" --index 0 --class 3
ok robustness "0.100 " "$tmp/rob.svg" robustness "$ckpt" "${m[@]}" --limit 200 --epsilons 0,0.1
ok "confusion png" "test accuracy" "$tmp/conf.png" confusion "$ckpt" "${m[@]}" --limit 500
ok "confusion svg" "test accuracy" "$tmp/conf.svg" confusion "$ckpt" "${m[@]}" --limit 500
ok misclassified "most confident mistakes" "$tmp/mis.png" misclassified "$ckpt" "${m[@]}" --limit 500 --count 8
ok curves "156 steps, 1 evaluations" "$tmp/curves.svg" curves "$tmp/log.csv"
# A 28x28 PNG of its own (the class model at scale 1) taken back as --image.
ok "--image" "$tmp/cm.png: class" "$tmp/sal-image.png" saliency "$ckpt" "${m[@]}" --image "$tmp/cm.png"

# Bad inputs name the problem.
bad "missing checkpoint" "$tmp/none.safetensors" saliency "$tmp/none.safetensors" "${m[@]}" --index 0
bad "no image" "saliency: give --image FILE.png or --index N" saliency "$ckpt" "${m[@]}"
bad "index out of range" "--index 10000 is outside the test set (0..9999)" saliency "$ckpt" "${m[@]}" --index 10000
bad "class out of range" "--class 10 is outside the model's classes (0..9)" saliency "$ckpt" "${m[@]}" --index 0 --class 10
bad "unknown layer" "--layer 99: lenet5 has no such layer; layers: input, 0, 1" grad-cam "$ckpt" "${m[@]}" --index 0 --layer 99
bad "unknown parameter" "no parameter '4.weight'; convolution weights: 0.weight, 3.weight" filters "$ckpt" "${m[@]}" --layer 4.weight
bad "channel out of range" "--channels: channel 16 is outside" unit "$ckpt" "${m[@]}" --layer 3 --channels 16
bad "unknown attack" "--attack cw: expected fgsm or pgd" robustness "$ckpt" "${m[@]}" --attack cw --out "$tmp/r.svg"
bad "curves as png" "training curves are written as SVG" curves "$tmp/log.csv" --out "$tmp/c.png"
bad "missing log" "$tmp/none.csv: cannot read the training log" curves "$tmp/none.csv"
bad "unwritable output" "$tmp/no/dir/s.png: cannot write the PNG" saliency "$ckpt" "${m[@]}" --index 0 --out "$tmp/no/dir/s.png"
bad "unknown method" "A subcommand is required" no-such-method "$ckpt"
exit $fail
