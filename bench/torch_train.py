#!/usr/bin/env python3
"""Training throughput in PyTorch, the same models (src/nn/models.cpp),
batch, optimizer and thread count as `vkcnn bench --csv`; prints the same CSV
line: model,backend,batch,threads,ms_per_step,images_per_s (backend "torch" on
the CPU, "torch-cuda" on a GPU).

usage: torch_train.py [--model lenet5|resnet|mobilenet] [--batch 64] [--threads 2]
                      [--steps 10] [--runs 5] [--device cpu|cuda]
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


def conv_bn(cin, cout, kernel, stride=1, groups=1):
    return [nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout)]


class BasicBlock(nn.Module):
    """relu(body(x) + shortcut(x)), as nn::Residual."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(*conv_bn(cin, cout, 3, stride), nn.ReLU(), *conv_bn(cout, cout, 3))
        self.shortcut = nn.Sequential(*conv_bn(cin, cout, 1, stride)) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x):
        return torch.relu(self.body(x) + self.shortcut(x))


def resnet():
    return nn.Sequential(*conv_bn(1, 16, 3), nn.ReLU(), BasicBlock(16, 16, 1), BasicBlock(16, 32, 2),
                         BasicBlock(32, 64, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def separable(cin, cout, stride):
    return [*conv_bn(cin, cin, 3, stride, groups=cin), nn.ReLU(), *conv_bn(cin, cout, 1), nn.ReLU()]


def mobilenet():
    return nn.Sequential(*conv_bn(1, 16, 3), nn.ReLU(), *separable(16, 32, 2), *separable(32, 64, 2),
                         *separable(64, 64, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


MODELS = {"lenet5": lenet5, "resnet": resnet, "mobilenet": mobilenet}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--model", choices=sorted(MODELS), default="lenet5")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    net = MODELS[a.model]().to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x = torch.sin(0.01 * torch.arange(a.batch * 784, dtype=torch.float32)).reshape(a.batch, 1, 28, 28).to(dev)
    y = (torch.arange(a.batch) % 10).to(dev)

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
    backend = "torch" if a.device == "cpu" else "torch-cuda"
    print(f"{a.model},{backend},{a.batch},{a.threads},{ms:.3f},{1000 * a.batch / ms:.1f}")


if __name__ == "__main__":
    main()
