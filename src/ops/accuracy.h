// Classification accuracy on the device: argmax of each row of (N, C) logits
// (the first maximum on ties and NaN counted as the largest, as torch.argmax)
// and the number of rows whose argmax equals the int32 target.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"

#include <cstdint>
#include <span>

namespace vkcnn::ops {

// References. argmax writes (=) index (rows); accuracy returns the count of
// correct rows and throws if a target is outside [0, cols), naming the row.
void argmax_rows_reference(size_t rows, size_t cols, std::span<const float> x, std::span<int32_t> index);
size_t accuracy_reference(size_t rows, size_t cols, std::span<const float> logits, std::span<const int32_t> targets);

// CPU backend (threads over rows); same results as the references.
void argmax_rows_cpu(cpu::ThreadPool& pool, size_t rows, size_t cols, std::span<const float> x,
                     std::span<int32_t> index);
size_t accuracy_cpu(cpu::ThreadPool& pool, size_t rows, size_t cols, std::span<const float> logits,
                    std::span<const int32_t> targets);

// Vulkan, two launches:
//   accuracy_argmax (logits (N, C), pred (N) int32), writes (=) pred, one workgroup per row;
//   accuracy_count (pred (N) int32, targets (N) int32, count (1) uint32), writes (=)
//   count, one workgroup. A target outside [0, C) just never matches.
KernelLaunch accuracy_argmax_launch(size_t rows, size_t cols);
KernelLaunch accuracy_count_launch(size_t rows);

} // namespace vkcnn::ops
