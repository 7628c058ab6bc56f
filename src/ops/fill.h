// fill: y = value everywhere. Seeds the loss gradient (d loss / d loss = 1)
// and zeroes buffers inside a recorded step.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"

#include <span>

namespace vkcnn::ops {

template <typename T>
void fill_reference(std::span<T> y, T value); // writes (=) y: (n)

void fill_cpu(cpu::ThreadPool& pool, std::span<float> y, float value);

// Argument: y (n).
KernelLaunch fill_launch(size_t n, float value);

} // namespace vkcnn::ops
