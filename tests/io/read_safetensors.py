#!/usr/bin/env python3
"""An independent reader for vkcnn's safetensors files: the standard library
and numpy only (no safetensors package, no vkcnn code). It checks the layout
the format prescribes and compares every value exactly against the pattern
that tests/io/safetensors_test.cpp (reference_tensors) writes.

usage: read_safetensors.py FILE
"""
import json
import struct
import sys

import numpy as np

DTYPES = {"BOOL": "?", "U8": "<u1", "I8": "<i1", "I16": "<i2", "U16": "<u2", "F16": "<f2",
          "I32": "<i4", "U32": "<u4", "F32": "<f4", "F64": "<f8", "I64": "<i8", "U64": "<u8"}


def expected():
    """(name, dtype, shape, values) in the order written; keep in step with
    reference_tensors() in safetensors_test.cpp."""
    i = np.arange
    f32 = np.float32
    weight = (i(60) - 30).astype(f32) * f32(0.375)
    bias = f32(1.0) / (i(5) + 1).astype(f32)  # float32 division, as the C++ side
    counts = (i(6, dtype=np.int64) * 1000003 - 2000000000).astype(np.int32)
    steps = np.array([(-1 if k % 2 else 1) * (k + 1) * 3**30 for k in range(4)], dtype=np.int64)
    mask = (i(8) * 37 % 256).astype(np.uint8)
    wide = (i(7) * 3 - 10).astype(np.float64) / 16.0 + 2.0**40
    return [
        ("conv1.weight", "F32", [3, 4, 5], weight.reshape(3, 4, 5)),
        ("conv1.bias", "F32", [5], bias),
        ("counts", "I32", [2, 3], counts.reshape(2, 3)),
        ("optim.step", "I64", [4], steps),
        ("mask", "U8", [2, 2, 2], mask.reshape(2, 2, 2)),
        ("wide", "F64", [7], wide),
        ("scalar", "F32", [], np.array(1.5, dtype=np.float32)),
        ("empty", "F32", [0, 3], np.zeros((0, 3), dtype=np.float32)),
    ]


def fail(msg):
    print(f"read_safetensors.py: FAIL: {msg}")
    sys.exit(1)


def main(path):
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        fail(f"{len(blob)} bytes")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        fail(f"header length {n} beyond the file")
    raw = blob[8:8 + n]
    if n % 8 != 0:
        fail(f"header length {n} is not a multiple of 8")
    text = raw.decode("utf-8")
    if text.rstrip(" ") != text.rstrip() or not text.startswith("{"):
        fail("header padding is not spaces, or the header is not an object")
    # object_pairs_hook keeps the order and catches duplicate names.
    pairs = json.loads(text, object_pairs_hook=lambda p: p)
    names = [k for k, _ in pairs]
    if len(names) != len(set(names)):
        fail(f"duplicate names in {names}")
    header = dict(pairs)
    meta = dict(header.pop("__metadata__", []))
    if meta != {"format": "pt", "producer": "vkcnn test"}:
        fail(f"metadata {meta}")
    data = blob[8 + n:]
    want = expected()
    if [k for k in names if k != "__metadata__"] != [w[0] for w in want]:
        fail(f"tensor order {names}")
    offset = 0
    for name, dtype, shape, values in want:
        info = dict(header[name])
        if info["dtype"] != dtype or info["shape"] != shape:
            fail(f"{name}: {info['dtype']} {info['shape']}, expected {dtype} {shape}")
        begin, end = info["data_offsets"]
        if begin != offset:
            fail(f"{name}: data starts at {begin}, expected {offset} (contiguous)")
        got = np.frombuffer(data[begin:end], dtype=DTYPES[dtype]).reshape(shape)
        if got.dtype != values.dtype.newbyteorder("<") or got.tobytes() != values.astype(got.dtype).tobytes():
            fail(f"{name}: values differ\n got  {got.ravel()[:8]}\n want {values.ravel()[:8]}")
        if not np.array_equal(got, values):
            fail(f"{name}: values differ")
        offset = end
    if offset != len(data):
        fail(f"{len(data) - offset} bytes after the last tensor")
    print(f"read_safetensors.py: ok ({len(want)} tensors, {len(data)} data bytes, header {n} bytes)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    main(sys.argv[1])
