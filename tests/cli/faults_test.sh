#!/usr/bin/env bash
# Faults a training run must survive, end to end on the CPU backend:
#  (a) kill -9 at random (seeded) moments while checkpoints are written
#      every step: the checkpoint on disk always loads, and the temporary
#      file a killed write leaves is removed by the next run's first write;
#  (b) SIGINT, SIGTERM and SIGHUP write a checkpoint of the steps done and
#      exit 130, 143 and 129; a signal during start-up exits at once saying
#      there is nothing to save;
#  (c) --resume continues the same run: interrupted twice (mid-epoch, and
#      in a later epoch) and resumed, a run prints the losses of an
#      uninterrupted one, bit for bit (Adam, cosine schedule with warm-up,
#      augmentation, a validation split: everything that depends on the step).
# Usage: faults_test.sh <vkcnn binary> [data dir]
set -u
# Job control: a non-interactive shell starts background jobs with SIGINT
# ignored, and vkcnn keeps an ignored signal ignored (as nohup wants).
set -m
vkcnn=$1
data=${2:-$(cd "$(dirname "$0")/../.." && pwd)/data}
if [ ! -d "$data/mnist" ]; then
    echo "skip: $data/mnist is missing (scripts/fetch_data.sh)"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
pass() { echo "ok   $*"; }
failed() { echo "FAIL $*"; fail=1; }

# wait_for <file> <pattern> <pid>: until a line matches (10 s at most, or the process ends).
wait_for() {
    for _ in $(seq 1000); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        kill -0 "$3" 2>/dev/null || return 1
        sleep 0.01
    done
    return 1
}
# The checkpoint loads: evaluated on a few test samples.
loads() { "$vkcnn" eval "$1" --backend cpu --data "$data" --limit 16 --batch 16 >/dev/null 2>&1; }
# A checkpoint's "step" metadata (the JSON header is at the file's start).
step_of() { head -c 4096 "$1" | grep -a -o '"step":"[0-9]*"' | grep -o '[0-9]\+'; }

base=(train --backend cpu --threads 2 --data "$data" --seed 3)

# (a) kill -9 during checkpoint writes.
ck="$tmp/kill.safetensors"
RANDOM=20240611 # seeded: the same moments every run
previous=
hit=0
for i in $(seq 20); do
    # Batches of 4: most of the time goes into writing checkpoints.
    "$vkcnn" "${base[@]}" --limit 1000 --batch 4 --epochs 100 --save-every 1 --log-every 1 --out "$ck" >"$tmp/kill.log" 2>&1 &
    pid=$!
    # "step 2" is printed after step 1's checkpoint was written, and with it
    # the previous run's temporary file removed.
    if ! wait_for "$tmp/kill.log" "^step 2 " $pid; then
        failed "kill $i: the run did not start:"; cat "$tmp/kill.log"; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
        continue
    fi
    sleep "0.0$((RANDOM % 10))$((RANDOM % 10))"
    kill -9 $pid
    wait $pid 2>/dev/null
    [ -e "$ck.tmp.$pid" ] && hit=$((hit + 1))
    loads "$ck" || failed "kill $i: $ck does not load after kill -9 (step $(step_of "$ck"))"
    for f in "$ck".tmp.*; do
        [ -e "$f" ] || continue
        [ "$f" = "$ck.tmp.$pid" ] ||
            failed "kill $i: stale $f (run $previous$([ -e /proc/$previous ] && echo ", a pid in use again: $(tr '\0' ' ' </proc/$previous/cmdline)")) was not removed by run $pid"
    done
    previous=$pid
done
"$vkcnn" "${base[@]}" --limit 64 --batch 16 --epochs 1 --out "$ck" >/dev/null 2>&1 || failed "a run after the kills failed"
leftover=$(ls "$ck".tmp.* 2>/dev/null)
[ -z "$leftover" ] || failed "temporary files left after a complete run: $leftover"
[ $fail -eq 0 ] && pass "kill -9 x 20 ($hit left a temporary file): the checkpoint always loads, no temporary file outlives the next run"

# (b) Signals: a checkpoint of the steps done and the shell's exit code.
for pair in INT:130 TERM:143 HUP:129; do
    sig=${pair%:*} code=${pair#*:} out="$tmp/$sig.safetensors"
    "$vkcnn" "${base[@]}" --limit 1000 --batch 16 --epochs 100 --log-every 1 --out "$out" >"$tmp/$sig.log" 2>&1 &
    pid=$!
    wait_for "$tmp/$sig.log" "^step 5 " $pid
    kill -$sig $pid
    wait $pid
    rc=$?
    line=$(grep "interrupted by SIG$sig: checkpoint of step [0-9]* written" "$tmp/$sig.log")
    step=$(grep -o "step [0-9]* written" <<<"$line" | grep -o '[0-9]\+')
    if [ $rc -ne $code ] || [ -z "$line" ] || [ "$(step_of "$out")" != "$step" ] || ! loads "$out"; then
        failed "SIG$sig: exit $rc (want $code), checkpoint step '$(step_of "$out" 2>/dev/null)' (want '$step'):"
        tail -3 "$tmp/$sig.log"
    else
        pass "SIG$sig: exit $rc, $line"
    fi
done
# During start-up: the training images are a FIFO nobody writes, so the run
# waits in the data loading until the signal comes.
mkdir -p "$tmp/fifo/mnist"
mkfifo "$tmp/fifo/mnist/train-images-idx3-ubyte"
"$vkcnn" train --backend cpu --data "$tmp/fifo" --out "$tmp/startup.safetensors" >"$tmp/startup.log" 2>&1 &
pid=$!
sleep 0.5
kill -INT $pid
wait $pid
rc=$?
if [ $rc -eq 130 ] && grep -q "interrupted during start-up: no checkpoint to save yet" "$tmp/startup.log" &&
    [ ! -e "$tmp/startup.safetensors" ]; then
    pass "SIGINT during start-up: exit 130, $(grep -o 'interrupted.*' "$tmp/startup.log")"
else
    failed "SIGINT during start-up: exit $rc (want 130):"; cat "$tmp/startup.log"
fi

# (c) --resume continues step, epoch, schedule and data order exactly.
# 35 steps per epoch, 105 in all.
run=("${base[@]}" --limit 600 --validation 40 --batch 16 --epochs 3 --optimizer adam --lr 0.002 --schedule cosine
     --warmup-steps 10 --augment --log-every 1)
"$vkcnn" "${run[@]}" --out "$tmp/whole.safetensors" >"$tmp/whole.log" 2>&1 || failed "the uninterrupted run failed"
b="$tmp/resumed.safetensors"
"$vkcnn" "${run[@]}" --out "$b" >"$tmp/part1.log" 2>&1 &
pid=$!
wait_for "$tmp/part1.log" "^step 12 " $pid
kill -INT $pid
wait $pid
rc1=$?
"$vkcnn" "${run[@]}" --out "$b" --resume "$b" >"$tmp/part2.log" 2>&1 &
pid=$!
wait_for "$tmp/part2.log" "^step 50 " $pid # in the second epoch
kill -TERM $pid
wait $pid
rc2=$?
"$vkcnn" "${run[@]}" --out "$b" --resume "$b" >"$tmp/part3.log" 2>&1
rc3=$?
grep -h '^step ' "$tmp/whole.log" >"$tmp/whole.steps"
grep -h '^step ' "$tmp/part1.log" "$tmp/part2.log" "$tmp/part3.log" >"$tmp/resumed.steps"
if [ $rc1 -ne 130 ] || [ $rc2 -ne 143 ] || [ $rc3 -ne 0 ] || [ "$(wc -l <"$tmp/whole.steps")" -ne 105 ] ||
    ! diff "$tmp/whole.steps" "$tmp/resumed.steps" >"$tmp/steps.diff"; then
    failed "resume: exits $rc1 $rc2 $rc3 (want 130 143 0), $(wc -l <"$tmp/whole.steps") steps (want 105); differences:"
    head -20 "$tmp/steps.diff"
else
    pass "resume: interrupted at steps $(grep -o 'of step [0-9]*' "$tmp/part1.log" "$tmp/part2.log" | grep -o '[0-9]*$' | tr '\n' ' ')and resumed, the 105 losses equal the uninterrupted run's bit for bit"
fi
exit $fail
