#!/usr/bin/env python3
"""Reads a vkcnn checkpoint with the standard library and numpy only, and
compares every tensor bit for bit with the values vkcnn wrote beside it as
text (one line per tensor: name, dims, ':', the float32 bit patterns).

usage: read_checkpoint.py BASE   (reads BASE.safetensors and BASE.txt)
"""
import json
import struct
import sys

import numpy as np


def main(base):
    with open(base + ".safetensors", "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    meta = header.pop("__metadata__", {})
    assert meta.get("format") == "vkcnn", meta
    expected = {}
    with open(base + ".txt") as f:
        for line in f:
            left, right = line.split(":")
            name, *dims = left.split()
            bits = np.array([int(b) for b in right.split()], dtype=np.uint32)
            expected[name] = ([int(d) for d in dims], bits.view(np.float32))
    assert set(expected) == set(header), (sorted(expected), sorted(header))
    for name, (shape, values) in expected.items():
        entry = header[name]
        assert entry["dtype"] == "F32", (name, entry)
        assert entry["shape"] == shape, (name, entry["shape"], shape)
        begin, end = entry["data_offsets"]
        got = np.frombuffer(data[begin:end], dtype="<f4").reshape(shape)
        assert np.array_equal(got.reshape(-1).view(np.uint32), values.view(np.uint32)), name
    print(f"read_checkpoint: {len(expected)} tensors identical, metadata {meta}")


if __name__ == "__main__":
    main(sys.argv[1])
