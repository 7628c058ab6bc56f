// fill: reference, CPU kernel and GPU launch (see fill.h).
#include "vkcnn/ops/fill.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <limits>

namespace vkcnn::ops {

template <typename T>
void fill_reference(std::span<T> y, T value) {
    for (T& v : y) v = value;
}
template void fill_reference<float>(std::span<float>, float);
template void fill_reference<double>(std::span<double>, double);

void fill_cpu(cpu::ThreadPool&, std::span<float> y, float value) {
    std::fill(y.begin(), y.end(), value); // memory-bound: one thread saturates it
}

KernelLaunch fill_launch(size_t n, float value) {
    struct Push {
        uint32_t n;
        float value;
    };
    KernelLaunch l = grid_stride_launch("fill", n, {Access::Write});
    l.set_push(Push{static_cast<uint32_t>(n), value});
    return l;
}

} // namespace vkcnn::ops
