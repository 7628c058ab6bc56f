#!/usr/bin/env bash
# What a user sees for a hostile or broken file — a checkpoint, an IDX
# dataset file, an image: a clear message naming the file and the problem, a
# non-zero exit, never a crash, a hang or gigabytes of memory. The files are
# made here (python3, standard library only); everything runs on the CPU
# backend. Usage: hostile_files_test.sh <vkcnn binary>
set -u
vkcnn=$1
fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

expect() { # expect <name> <pattern> <command...>: non-zero exit, no signal, output matches
    local name=$1 pattern=$2; shift 2
    out=$("$@" 2>&1); rc=$?
    if [ $rc -eq 0 ] || [ $rc -ge 128 ] || ! grep -q -- "$pattern" <<<"$out"; then
        echo "FAIL $name (exit $rc): expected /$pattern/ in:"; echo "$out" | head -c 2000; fail=1
    else
        echo "ok   $name: $(grep -m1 -- "$pattern" <<<"$out" | head -c 300)"
    fi
}
# The same within 1 GiB of address space: a case that decoded or inflated
# the whole file (1 GiB of gzip content, a 20000 x 20000 image) fails it.
# Not under AddressSanitizer (the sanitize preset), whose shadow memory
# alone reserves terabytes of address space.
if grep -qa __asan_init "$vkcnn"; then
    limited() { "$@"; }
else
    limited() { (ulimit -v 1048576; "$@"); }
fi
expect_small() {
    local name=$1 pattern=$2; shift 2
    expect "$name" "$pattern" limited "$@"
}
works() { # works <name> <pattern> <command...>: exit 0, output matches
    local name=$1 pattern=$2; shift 2
    out=$("$@" 2>&1); rc=$?
    if [ $rc -ne 0 ] || ! grep -q -- "$pattern" <<<"$out"; then
        echo "FAIL $name (exit $rc): expected success and /$pattern/ in:"; echo "$out" | head -c 2000; fail=1
    else
        echo "ok   $name: $(grep -m1 -- "$pattern" <<<"$out")"
    fi
}

# A small valid MNIST-shaped set (64 training, 16 test images) in good/, and
# one copy per broken file, each with one file replaced; hostile checkpoints
# and images beside them.
python3 - "$tmp" <<'EOF'
import gzip, os, shutil, struct, sys, zlib
tmp = sys.argv[1]

def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)

def idx_images(n, rows=28, cols=28, payload=None):
    data = bytes((i * 7) % 256 for i in range(n * rows * cols)) if payload is None else payload
    return struct.pack('>IIII', 0x803, n, rows, cols) + data

def idx_labels(n):
    return struct.pack('>II', 0x801, n) + bytes(i % 10 for i in range(n))

good = f'{tmp}/good/mnist'
files = {'train-images-idx3-ubyte': idx_images(64), 'train-labels-idx1-ubyte': idx_labels(64),
         't10k-images-idx3-ubyte': idx_images(16), 't10k-labels-idx1-ubyte': idx_labels(16)}
for name, data in files.items():
    write(f'{good}/{name}', data)

def dataset(case, name, data=None, suffix=''):  # <case>/mnist: the good files, `name` replaced by
    d = f'{tmp}/{case}/mnist'                      # name + suffix holding data (None: a directory)
    shutil.copytree(good, d)
    os.remove(f'{d}/{name}')
    if data is None:
        os.mkdir(f'{d}/{name}{suffix}')
    else:
        write(f'{d}/{name}{suffix}', data)

train_images = 'train-images-idx3-ubyte'
dataset('dir', train_images)
dataset('truncated', train_images, idx_images(64)[:-100])
dataset('huge', train_images, struct.pack('>IIII', 0x803, 60000, 10000, 10000) + bytes(100))
dataset('shape', train_images, idx_images(64, 56, 14))
dataset('count', 'train-labels-idx1-ubyte', idx_labels(63))
# gzip (the loader takes name.gz where name is missing): 1 GiB after the
# content, as 1024 members of 1 MiB of zeros (about 1 MB on disk).
member = gzip.compress(bytes(1 << 20), 1)
dataset('bomb', train_images, gzip.compress(idx_images(64), 1) + member * 1024, '.gz')
gz = bytearray(gzip.compress(idx_images(64), 6))
gz[-6] ^= 0xFF  # in the CRC
dataset('crc', train_images, bytes(gz), '.gz')
dataset('cut', train_images, bytes(gz[:len(gz) // 2]), '.gz')

# Checkpoints: an 8-byte little-endian header length, the JSON header, the data.
def safetensors(header, data=b'', length=None):
    text = header.encode() if isinstance(header, str) else header
    return struct.pack('<Q', len(text) if length is None else length) + text + data

deep = '[' * 90000 + ']' * 90000
ck = f'{tmp}/ck'
write(f'{ck}/deep_entry.safetensors', safetensors('{"w": %s}' % deep))
write(f'{ck}/deep_metadata.safetensors', safetensors('{"__metadata__": {"step": %s}}' % deep))
write(f'{ck}/deep_shape.safetensors', safetensors('{"w": {"dtype": "F32", "shape": %s, "data_offsets": [0, 4]}}' % deep, bytes(4)))
write(f'{ck}/deep_offsets.safetensors', safetensors('{"w": {"dtype": "F32", "shape": [1], "data_offsets": %s}}' % deep, bytes(4)))
write(f'{ck}/length_past_end.safetensors', safetensors('{}', bytes(10), 1000))
write(f'{ck}/length_2_63.safetensors', safetensors('{}', bytes(10), 1 << 63))
write(f'{ck}/bad_json.safetensors', safetensors('{"w": {"dtype": '))
write(f'{ck}/out_of_range.safetensors', safetensors('{"w": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}}', bytes(20)))
write(f'{ck}/overlap.safetensors', safetensors('{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, '
                                               '"b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}', bytes(12)))
write(f'{ck}/dtype.safetensors', safetensors('{"w": {"dtype": "F33", "shape": [1], "data_offsets": [0, 4]}}', bytes(4)))
write(f'{ck}/wrong_shape.safetensors', safetensors('{"0.weight": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', bytes(4)))
os.mkdir(f'{ck}/dir.safetensors')

# Images, as PNG chunks: length, type, data, CRC.
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))

def png(width, height, depth, color, idat):
    ihdr = struct.pack('>IIBBBBB', width, height, depth, color, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', idat) + chunk(b'IEND', b'')

def rows(width, height, sample_bytes):  # filter byte 0, then the row
    return b''.join(b'\0' + bytes((x * 9 + y) % 256 for x in range(width * sample_bytes)) for y in range(height))

im = f'{tmp}/im'
write(f'{im}/grey.png', png(28, 28, 8, 0, zlib.compress(rows(28, 28, 1))))
write(f'{im}/rgb.png', png(28, 28, 8, 2, zlib.compress(rows(28, 28, 3))))
write(f'{im}/rgba.png', png(28, 28, 8, 6, zlib.compress(rows(28, 28, 4))))
write(f'{im}/grey16.png', png(28, 28, 16, 0, zlib.compress(rows(28, 28, 2))))
write(f'{im}/huge.png', png(20000, 20000, 8, 6, zlib.compress(bytes(400000))))
tga = bytearray(27)
tga[2] = 2  # uncompressed true-colour
tga[12:16] = struct.pack('<HH', 20000, 20000)
tga[16] = 24
write(f'{im}/huge.tga', bytes(tga))
write(f'{im}/zero.png', png(0, 0, 8, 0, zlib.compress(b'\0')))
write(f'{im}/small.png', png(14, 14, 8, 0, zlib.compress(rows(14, 14, 1))))
good_png = png(28, 28, 8, 0, zlib.compress(rows(28, 28, 1)))
write(f'{im}/truncated.png', good_png[:len(good_png) // 2])
idat = bytearray(zlib.compress(rows(28, 28, 1)))
idat[2] = 0xFF  # the first deflate block: reserved block type
write(f'{im}/bad_deflate.png', png(28, 28, 8, 0, bytes(idat)))
write(f'{im}/bomb.png', png(28, 28, 8, 0, zlib.compress(bytes(64 << 20), 9)))
os.mkdir(f'{im}/dir.png')
EOF

# A real checkpoint to predict with: one epoch of 2 steps on the small set.
"$vkcnn" train --data "$tmp/good" --backend cpu --epochs 1 --batch 32 --out "$tmp/ok.safetensors" >/dev/null 2>&1 ||
    { echo "FAIL: cannot train the checkpoint the image cases need"; exit 1; }
cpu="--backend cpu"

# Checkpoints (eval, predict and train --resume read them the same way).
ck=$tmp/ck
expect "checkpoint: tensor entry nested 90000 deep" "$ck/deep_entry.safetensors: tensor \"w\": expected an object, found an array of 1 element" \
    "$vkcnn" eval "$ck/deep_entry.safetensors" --data "$tmp/good" $cpu
expect "checkpoint: metadata value nested 90000 deep" "$ck/deep_metadata.safetensors: __metadata__ \"step\" must be a string, found an array" \
    "$vkcnn" predict "$ck/deep_metadata.safetensors" --image "$tmp/im/grey.png" $cpu
expect "checkpoint: shape nested 90000 deep" "$ck/deep_shape.safetensors: tensor \"w\": shape entry must be a non-negative integer, found an array" \
    "$vkcnn" train --resume "$ck/deep_shape.safetensors" --data "$tmp/good" --epochs 1 --batch 32 --out "$tmp/resumed.safetensors" $cpu
expect "checkpoint: data_offsets nested 90000 deep" "$ck/deep_offsets.safetensors: tensor \"w\": data_offsets must be \[begin, end\], found an array" \
    "$vkcnn" eval "$ck/deep_offsets.safetensors" --data "$tmp/good" $cpu
expect "checkpoint: header length past the file" "$ck/length_past_end.safetensors: header length 1000 goes beyond the file" \
    "$vkcnn" eval "$ck/length_past_end.safetensors" --data "$tmp/good" $cpu
expect "checkpoint: header length 2^63" "$ck/length_2_63.safetensors: header length 9223372036854775808 goes beyond the file" \
    "$vkcnn" eval "$ck/length_2_63.safetensors" --data "$tmp/good" $cpu
expect "checkpoint: invalid JSON" "$ck/bad_json.safetensors: bad JSON header: " \
    "$vkcnn" eval "$ck/bad_json.safetensors" --data "$tmp/good" $cpu
expect "checkpoint: offsets out of range" "$ck/out_of_range.safetensors: tensor \"w\": data_offsets \[0, 24\] out of range" \
    "$vkcnn" eval "$ck/out_of_range.safetensors" --data "$tmp/good" $cpu
expect "checkpoint: overlapping offsets" "$ck/overlap.safetensors: tensor \"b\" data_offsets \[4, 12\] overlap \"a\"" \
    "$vkcnn" eval "$ck/overlap.safetensors" --data "$tmp/good" $cpu
expect "checkpoint: unknown dtype" "$ck/dtype.safetensors: tensor \"w\": unknown dtype \"F33\"" \
    "$vkcnn" eval "$ck/dtype.safetensors" --data "$tmp/good" $cpu
expect "checkpoint: a tensor of the wrong shape" "$ck/wrong_shape.safetensors: tensor '0.weight' has shape" \
    "$vkcnn" eval "$ck/wrong_shape.safetensors" --data "$tmp/good" $cpu
expect "checkpoint: a directory" "$ck/dir.safetensors: is a directory, not a safetensors file" \
    "$vkcnn" eval "$ck/dir.safetensors" --data "$tmp/good" $cpu

# IDX files (train reads the training and test sets first).
train() { "$vkcnn" train --data "$1" --epochs 1 --batch 32 --out "$tmp/out.safetensors" $cpu; }
images=mnist/train-images-idx3-ubyte
expect "idx: a directory" "$tmp/dir/$images: is a directory, not an IDX file" train "$tmp/dir"
expect "idx: truncated" "$tmp/truncated/$images: truncated: the header says 64 x 28 x 28 (50192 bytes with the header), found 50092 bytes" \
    train "$tmp/truncated"
expect_small "idx: huge dims" "$tmp/huge/$images: header dims 60000 x 10000 x 10000 describe 6000000000016 bytes, more than the 2147483648-byte limit" \
    train "$tmp/huge"
expect "idx: 56 x 14 images" "$tmp/shape/$images: the images are 56 x 14, expected 28 x 28" train "$tmp/shape"
expect "idx: counts differ" "$tmp/count/$images has 64 images but $tmp/count/mnist/train-labels-idx1-ubyte has 63 labels" \
    train "$tmp/count"
expect_small "idx: gzip inflating to 1 GiB" "$tmp/bomb/$images.gz (after gunzip): trailing bytes: the header says 64 x 28 x 28 (50192 bytes with the header), the gzip stream holds more" \
    train "$tmp/bomb"
expect "idx: gzip with a bad CRC" "$tmp/crc/$images.gz: corrupt gzip: incorrect data check" train "$tmp/crc"
expect "idx: truncated gzip" "$tmp/cut/$images.gz: corrupt gzip: truncated stream" train "$tmp/cut"

# Images (predict decodes the image before it reads the checkpoint).
im=$tmp/im
predict() { "$vkcnn" predict "$tmp/ok.safetensors" --image "$1" $cpu; }
expect_small "image: PNG of 20000 x 20000" "$im/huge.png: the image is 20000x20000, larger than the 4096x4096 this reader takes (nothing was decoded)" \
    predict "$im/huge.png"
expect_small "image: TGA header of 20000 x 20000" "$im/huge.tga: the image is 20000x20000, larger than the 4096x4096" predict "$im/huge.tga"
expect "image: 0 x 0" "$im/zero.png: the image is 0x0: it has no pixels" predict "$im/zero.png"
works "image: 14 x 14, preprocessed as a drawn digit" "$im/small.png: class [0-9]" predict "$im/small.png"
expect "image: truncated PNG" "$im/truncated.png: cannot decode the 28x28 image: corrupt or truncated image data" predict "$im/truncated.png"
expect "image: corrupt deflate block" "$im/bad_deflate.png: cannot decode the 28x28 image: corrupt or truncated image data" \
    predict "$im/bad_deflate.png"
expect_small "image: IDAT inflating to 64 MiB" "$im/bomb.png: cannot decode the 28x28 image: corrupt data" predict "$im/bomb.png"
expect "image: a directory" "$im/dir.png: is a directory, not an image" predict "$im/dir.png"
expect "image: missing" "$im/none.png: cannot open" predict "$im/none.png"
for kind in grey rgb rgba grey16; do
    works "image: 28 x 28 $kind PNG" "$im/$kind.png: class [0-9]" predict "$im/$kind.png"
done
exit $fail
