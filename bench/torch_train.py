#!/usr/bin/env python3
"""LeNet-5 training throughput in PyTorch, the same model, batch, optimizer
and thread count as `vkcnn bench --csv`; prints the same CSV line:
model,backend,batch,threads,ms_per_step,images_per_s.

usage: torch_train.py [--batch 64] [--threads 2] [--steps 10] [--runs 5]
"""
import argparse
import math
import statistics
import time

import torch
from torch import nn


def lenet5():
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--runs", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    net = lenet5()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x = torch.sin(0.01 * torch.arange(a.batch * 784, dtype=torch.float32)).reshape(a.batch, 1, 28, 28)
    y = torch.arange(a.batch) % 10

    def step():
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss.item()  # the host reads the loss every step, as vkcnn's trainer does

    for _ in range(3):
        step()
    times = []
    for _ in range(a.runs):
        start = time.perf_counter()
        for _ in range(a.steps):
            step()
        times.append((time.perf_counter() - start) * 1000 / a.steps)
    ms = statistics.median(times)
    print(f"lenet5,torch,{a.batch},{a.threads},{ms:.3f},{1000 * a.batch / ms:.1f}")


if __name__ == "__main__":
    main()
