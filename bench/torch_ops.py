#!/usr/bin/env python3
"""PyTorch peer of vkcnn_op_bench (bench/op_bench.cpp): the same shapes and
directions, the same CSV lines (op,shape,backend,threads,ms,gflops,ts_ms) with
backend "torch". Forward is torch.nn.functional.conv2d / linear; the two
gradients are torch.ops.aten.convolution_backward with one output each, the
call autograd makes (and torch.nn.grad.conv2d_input / conv2d_weight wrap).

Each op is called `repeats` times per run (chosen so a run takes about
--run-ms), after warm-up; the median time per call over --runs runs is
reported. torch.set_num_threads(--threads), default: all CPUs.
"""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

CONV_CASES = [
    # name, x (N, C, H, W), w (Cout, Cin, kH, kW), padding
    ("lenet_conv1", (64, 1, 28, 28), (6, 1, 5, 5), 2),
    ("lenet_conv2", (64, 6, 14, 14), (16, 6, 5, 5), 0),
    ("resnet_3x3_28", (64, 64, 28, 28), (64, 64, 3, 3), 1),
    ("resnet_3x3_14", (64, 64, 14, 14), (64, 64, 3, 3), 1),
    ("resnet_1x1_14", (64, 64, 14, 14), (128, 64, 1, 1), 0),
]
LINEAR_CASES = [
    # name, batch, in, out
    ("lenet_fc1", 64, 400, 120),
    ("gemm_512", 512, 512, 512),
]


def conv_shape_text(name, x, w, pad):
    return "%s x%s w%s p%d" % (name, "x".join(map(str, x)), "x".join(map(str, w)), pad)


def time_op(call, runs, run_ms):
    call()  # warm-up
    call()
    t0 = time.perf_counter()
    call()
    one_ms = (time.perf_counter() - t0) * 1e3
    repeats = int(min(500, max(1, -(-run_ms // max(one_ms, 1e-3)))))
    per_call = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for _ in range(repeats):
            call()
        per_call.append((time.perf_counter() - t0) * 1e3 / repeats)
    return statistics.median(per_call)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--run-ms", type=float, default=200.0)
    ap.add_argument("--filter", default="", help="substring of 'op shape'")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    print("# torch: %s (threads %d, mkldnn %s)" % (torch.__version__, torch.get_num_threads(),
                                                  torch.backends.mkldnn.is_available()))
    print("op,shape,backend,threads,ms,gflops,ts_ms")
    sys.stdout.flush()

    def report(op, shape, flops, call):
        if a.filter and a.filter not in op + " " + shape:
            return
        ms = time_op(call, a.runs, a.run_ms)
        print("%s,%s,torch,%d,%.4f,%.3f," % (op, shape, a.threads, ms, flops / (ms * 1e-3) / 1e9))
        sys.stdout.flush()

    with torch.no_grad():
        for name, xs, ws, pad in CONV_CASES:
            shape = conv_shape_text(name, xs, ws, pad)
            x = torch.rand(xs) * 2 - 1
            w = torch.rand(ws) * 2 - 1
            y = F.conv2d(x, w, padding=pad)
            dy = torch.rand(y.shape) * 2 - 1
            n, cout, oh, ow = y.shape
            flops = 2.0 * n * cout * oh * ow * ws[1] * ws[2] * ws[3]

            def backward(mask):
                return lambda: torch.ops.aten.convolution_backward(dy, x, w, None, [1, 1], [pad, pad], [1, 1], False,
                                                                   [0, 0], 1, mask)

            report("conv2d_forward", shape, flops, lambda: F.conv2d(x, w, padding=pad))
            report("conv2d_backward_data", shape, flops, backward([True, False, False]))
            report("conv2d_backward_weight", shape, flops, backward([False, True, False]))

        for name, batch, fin, fout in LINEAR_CASES:
            shape = "%s x%dx%d w%dx%d" % (name, batch, fin, fout, fin)
            x = torch.rand(batch, fin) * 2 - 1
            w = torch.rand(fout, fin) * 2 - 1
            report("linear_forward", shape, 2.0 * batch * fin * fout, lambda: F.linear(x, w))


if __name__ == "__main__":
    main()
