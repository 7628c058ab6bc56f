#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses: tests/fuzz/corpus/<harness>/,
a few small files each, valid minimal files and a few broken ones. The seeds
are committed; rerun this after changing it (standard library only).
scripts/fuzz.sh runs each harness over a copy, so runs never grow them.
Inputs that crashed a harness are kept beside them as crash-<what> (each is
also a regression test in the doctest suite)."""
import gzip
import json
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')


def corpus(harness, seeds):
    """Replaces the generated seeds; inputs a run found (crash-*) stay."""
    d = os.path.join(ROOT, harness)
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        if not name.startswith('crash-'):
            os.remove(os.path.join(d, name))
    for name, data in seeds.items():
        with open(os.path.join(d, name), 'wb') as f:
            f.write(data)


# safetensors: an 8-byte little-endian header length, the JSON header, the data.
def safetensors(tensors, metadata=None, pad=True):
    """tensors: [(name, dtype, shape, bytes)] in data order."""
    header, offset, data = {}, 0, b''
    if metadata is not None:
        header['__metadata__'] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    text = json.dumps(header, separators=(',', ':')).encode()
    if pad:
        text += b' ' * (-len(text) % 8)
    return struct.pack('<Q', len(text)) + text + data


def raw_st(header, data=b''):
    return struct.pack('<Q', len(header)) + header.encode() + data


def f32(*values):
    return struct.pack(f'<{len(values)}f', *values)


corpus('safetensors', {
    'valid_mixed': safetensors([('w', 'F32', [2, 2], f32(1, 2, 3, 4)), ('i', 'I64', [1], struct.pack('<q', -5)),
                                ('m', 'U8', [3], b'\x01\x02\x03'), ('s', 'BF16', [], b'\x80\x3f'),
                                ('e', 'F16', [0, 4], b'')], {'format': 'pt', 'step': '12'}),
    'valid_empty': safetensors([]),
    'valid_unpadded': safetensors([('x', 'F64', [1], struct.pack('<d', 0.5))], pad=False),
    'bad_offsets_overlap': raw_st('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                                  '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', bytes(12)),
    'bad_dtype': raw_st('{"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}', bytes(4)),
    'bad_nested': raw_st('{"w":' + '[' * 64 + ']' * 64 + '}'),
    'bad_duplicate': raw_st('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                            '"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', bytes(2)),
    'bad_length': struct.pack('<Q', 1 << 63) + b'{}',
})


# IDX: a big-endian magic (0x803 images, 0x801 labels), dims, the bytes.
def idx_images(n, rows, cols):
    return struct.pack('>IIII', 0x803, n, rows, cols) + bytes((i * 37) % 256 for i in range(n * rows * cols))


def idx_labels(n):
    return struct.pack('>II', 0x801, n) + bytes(i % 10 for i in range(n))


images, labels = idx_images(3, 4, 5), idx_labels(6)
corpus('idx', {
    'valid_images': images,
    'valid_labels': labels,
    'bad_truncated': images[:-7],
    'bad_trailing': labels + b'\x00\x01',
    'bad_huge_dims': struct.pack('>IIII', 0x803, 60000, 10000, 10000) + bytes(8),
    'bad_label_range': struct.pack('>II', 0x801, 3) + b'\x01\x0c\x02',
})
stored = bytearray(gzip.compress(labels, 0))
bad_crc = bytearray(gzip.compress(images, 9))
bad_crc[-6] ^= 0xFF
corpus('idx_gzip', {
    'valid_images': gzip.compress(images, 9),
    'valid_labels_stored': bytes(stored),
    'valid_two_members': gzip.compress(images[:10], 1) + gzip.compress(images[10:], 1),
    'bad_crc': bytes(bad_crc),
    'bad_truncated': gzip.compress(images, 6)[:30],
    'bad_more_than_header': gzip.compress(labels + bytes(3000), 9),
})


# Images: PNG chunks (length, type, data, CRC), and the other formats' smallest files.
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))


def png(width, height, depth, color, raw, extra=b'', interlace=0):
    ihdr = struct.pack('>IIBBBBB', width, height, depth, color, 0, 0, interlace)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + extra + chunk(b'IDAT', zlib.compress(raw, 9)) +
            chunk(b'IEND', b''))


def rows(width, height, row_bytes, filt=0):
    return b''.join(bytes([filt]) + bytes((x * 13 + y * 7) % 256 for x in range(row_bytes)) for y in range(height))


def adam7_rows(width, height, depth):  # the interlaced passes' rows, filter 0
    out = b''
    for xs, ys, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]:
        w, h = max(0, (width - xs + dx - 1) // dx), max(0, (height - ys + dy - 1) // dy)
        if w and h:
            out += rows(w, h, (w * depth + 7) // 8)
    return out


def bmp_24(width, height):
    row = (width * 3 + 3) // 4 * 4
    pixels = b''.join(bytes((x * 40 + y) % 256 for x in range(row)) for y in range(height))
    info = struct.pack('<IiiHHIIiiII', 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return b'BM' + struct.pack('<IHHI', 14 + 40 + len(pixels), 0, 0, 54) + info + pixels


def tga_24(width, height):
    return bytes([0, 0, 2]) + bytes(9) + struct.pack('<HHBB', width, height, 24, 0) + bytes(range(width * height * 3))


# The classic 1x1 GIF, and a baseline JPEG of 1x1 grey (a minimal valid JFIF).
gif_1x1 = bytes.fromhex('47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b')
jpeg_1x1 = bytes.fromhex(
    'ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c1912130f141d1a1f1e1d1a'
    '1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b080001000101011100ffc4001f000001050101010101'
    '0100000000000000000102030405060708090a0bffc400b5100002010303020403050504040000017d01020300041105122131410613516107'
    '227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a53545556575859'
    '5a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5'
    'c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda0008010100003f00fbd3ffd9')
corpus('image', {
    'grey.png': png(5, 3, 8, 0, rows(5, 3, 5)),
    'rgb_paeth.png': png(4, 4, 8, 2, rows(4, 4, 12, filt=4)),
    'rgba16.png': png(2, 3, 16, 6, rows(2, 3, 16, filt=1)),
    'palette_trns.png': png(3, 2, 8, 3, b'\0\0\1\2\0\2\1\0', chunk(b'PLTE', bytes(range(9))) + chunk(b'tRNS', b'\x00\x80')),
    'grey1_interlaced.png': png(9, 9, 1, 0, adam7_rows(9, 9, 1), interlace=1),
    'bmp.bmp': bmp_24(3, 2),
    'tga.tga': tga_24(2, 2),
    'pgm.pgm': b'P5\n3 2\n255\n' + bytes(range(6)),
    'gif.gif': gif_1x1,
    'jpeg.jpg': jpeg_1x1,
    'bad_huge.png': png(20000, 20000, 8, 6, bytes(64)),
    'bad_zero.png': png(0, 0, 8, 0, b'\0'),
    'bad_truncated.png': png(5, 3, 8, 0, rows(5, 3, 5))[:45],
})


# Checkpoints of tests/fuzz/checkpoint_fuzz.cpp's model, named as its trainer's state.
PARAMETERS = [('0.weight', [2, 1, 5, 5]), ('0.bias', [2]), ('1.weight', [2]), ('1.bias', [2]),
              ('6.weight', [10, 2]), ('6.bias', [10])]
RUNNING = [('1.running_mean', [2]), ('1.running_var', [2])]


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def state(entries, value=0.25):
    return [(name, 'F32', shape, f32(*([value] * numel(shape)))) for name, shape in entries]


weights = state(PARAMETERS + RUNNING)
momentum = state([(name + '.momentum_buffer', shape) for name, shape in PARAMETERS], 0.0)
meta = {'format': 'vkcnn', 'step': '3', 'epoch': '1', 'epoch_step': '0'}
corpus('checkpoint', {
    'valid_weights': safetensors(weights, meta),
    'valid_with_optimizer': safetensors(weights + momentum, meta),
    'bad_missing': safetensors(weights[:-1]),
    'bad_shape': safetensors([('0.weight', 'F32', [2, 25], f32(*[0.0] * 50))] + weights[1:]),
    'bad_dtype': safetensors([('0.bias', 'F64', [2], struct.pack('<2d', 1, 2))] + weights[:1] + weights[2:]),
    'bad_extra': safetensors(weights + [('7.weight', 'F32', [1], f32(1))]),
    'bad_adam_state': safetensors(weights + [('0.bias.exp_avg', 'F32', [2], f32(0, 0))]),
})
print('seeds written to', ROOT)
