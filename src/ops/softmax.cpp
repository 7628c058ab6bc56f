// softmax and log_softmax: references, CPU kernels and GPU launches (see softmax.h).
#include "vkcnn/ops/softmax.h"

#include "vkcnn/core/error.h"
#include "vkcnn/ops/reduce.h"

#include <cmath>
#include <cstdint>

namespace vkcnn::ops {

namespace {

void check_matrix(const char* op, size_t rows, size_t cols, size_t size, const char* name) {
    check(rows >= 1 && cols >= 1, op, ": shape (", rows, ", ", cols, ") is empty");
    check(size == rows * cols, op, ": ", name, " has ", size, " elements, expected (", rows, ", ", cols, ") = ",
          rows * cols);
}

// Max that lets a NaN win, as torch.max.
template <typename T>
T row_max(const T* x, size_t n) {
    T m = x[0];
    for (size_t j = 1; j < n; ++j)
        if (x[j] > m || std::isnan(x[j])) m = x[j];
    return m;
}

template <typename Body>
void parallel_rows(cpu::ThreadPool& pool, size_t rows, size_t cols, const Body& body) {
    if (rows * cols < (size_t{1} << 15)) body(size_t{0}, rows);
    else pool.parallel_for(rows, body);
}

} // namespace

template <typename T>
void softmax_forward_reference(size_t rows, size_t cols, std::span<const T> x, std::span<T> y) {
    check_matrix("softmax_forward", rows, cols, x.size(), "x");
    check_matrix("softmax_forward", rows, cols, y.size(), "y");
    for (size_t r = 0; r < rows; ++r) {
        const T* xr = &x[r * cols];
        const T m = row_max(xr, cols);
        T s = 0;
        for (size_t j = 0; j < cols; ++j) s += std::exp(xr[j] - m);
        for (size_t j = 0; j < cols; ++j) y[r * cols + j] = std::exp(xr[j] - m) / s;
    }
}

template <typename T>
void softmax_backward_reference(size_t rows, size_t cols, std::span<const T> y, std::span<const T> dy,
                                std::span<T> dx) {
    check_matrix("softmax_backward", rows, cols, y.size(), "y");
    check_matrix("softmax_backward", rows, cols, dy.size(), "dy");
    check_matrix("softmax_backward", rows, cols, dx.size(), "dx");
    for (size_t r = 0; r < rows; ++r) {
        T dot = 0;
        for (size_t j = 0; j < cols; ++j) dot += dy[r * cols + j] * y[r * cols + j];
        for (size_t j = 0; j < cols; ++j) dx[r * cols + j] = y[r * cols + j] * (dy[r * cols + j] - dot);
    }
}

template <typename T>
void log_softmax_forward_reference(size_t rows, size_t cols, std::span<const T> x, std::span<T> y) {
    check_matrix("log_softmax_forward", rows, cols, x.size(), "x");
    check_matrix("log_softmax_forward", rows, cols, y.size(), "y");
    for (size_t r = 0; r < rows; ++r) {
        const T* xr = &x[r * cols];
        const T m = row_max(xr, cols);
        T s = 0;
        for (size_t j = 0; j < cols; ++j) s += std::exp(xr[j] - m);
        const T log_s = std::log(s);
        for (size_t j = 0; j < cols; ++j) y[r * cols + j] = xr[j] - m - log_s;
    }
}

template <typename T>
void log_softmax_backward_reference(size_t rows, size_t cols, std::span<const T> y, std::span<const T> dy,
                                    std::span<T> dx) {
    check_matrix("log_softmax_backward", rows, cols, y.size(), "y");
    check_matrix("log_softmax_backward", rows, cols, dy.size(), "dy");
    check_matrix("log_softmax_backward", rows, cols, dx.size(), "dx");
    for (size_t r = 0; r < rows; ++r) {
        T s = 0;
        for (size_t j = 0; j < cols; ++j) s += dy[r * cols + j];
        for (size_t j = 0; j < cols; ++j) dx[r * cols + j] = dy[r * cols + j] - std::exp(y[r * cols + j]) * s;
    }
}

#define VKCNN_INSTANTIATE(T)                                                                                      \
    template void softmax_forward_reference<T>(size_t, size_t, std::span<const T>, std::span<T>);                 \
    template void softmax_backward_reference<T>(size_t, size_t, std::span<const T>, std::span<const T>,           \
                                                std::span<T>);                                                    \
    template void log_softmax_forward_reference<T>(size_t, size_t, std::span<const T>, std::span<T>);             \
    template void log_softmax_backward_reference<T>(size_t, size_t, std::span<const T>, std::span<const T>,       \
                                                    std::span<T>);
VKCNN_INSTANTIATE(float)
VKCNN_INSTANTIATE(double)
#undef VKCNN_INSTANTIATE

void softmax_forward_cpu(cpu::ThreadPool& pool, size_t rows, size_t cols, std::span<const float> x,
                         std::span<float> y) {
    check_matrix("softmax_forward", rows, cols, x.size(), "x");
    check_matrix("softmax_forward", rows, cols, y.size(), "y");
    const float* xs = x.data();
    float* ys = y.data();
    parallel_rows(pool, rows, cols, [=](size_t begin, size_t end) {
        for (size_t r = begin; r < end; ++r) {
            const float* __restrict xr = xs + r * cols;
            float* __restrict yr = ys + r * cols;
            const float m = row_max(xr, cols);
            float s = 0;
            for (size_t j = 0; j < cols; ++j) s += yr[j] = std::exp(xr[j] - m);
            const float inv = 1.0f / s;
            for (size_t j = 0; j < cols; ++j) yr[j] *= inv;
        }
    });
}

void softmax_backward_cpu(cpu::ThreadPool& pool, size_t rows, size_t cols, std::span<const float> y,
                          std::span<const float> dy, std::span<float> dx) {
    check_matrix("softmax_backward", rows, cols, y.size(), "y");
    check_matrix("softmax_backward", rows, cols, dy.size(), "dy");
    check_matrix("softmax_backward", rows, cols, dx.size(), "dx");
    const float* ys = y.data();
    const float* dys = dy.data();
    float* dxs = dx.data();
    parallel_rows(pool, rows, cols, [=](size_t begin, size_t end) {
        for (size_t r = begin; r < end; ++r) {
            const float* __restrict yr = ys + r * cols;
            const float* __restrict dyr = dys + r * cols;
            float* __restrict dxr = dxs + r * cols;
            float dot = 0;
            for (size_t j = 0; j < cols; ++j) dot += dyr[j] * yr[j];
            for (size_t j = 0; j < cols; ++j) dxr[j] = yr[j] * (dyr[j] - dot);
        }
    });
}

void log_softmax_forward_cpu(cpu::ThreadPool& pool, size_t rows, size_t cols, std::span<const float> x,
                             std::span<float> y) {
    check_matrix("log_softmax_forward", rows, cols, x.size(), "x");
    check_matrix("log_softmax_forward", rows, cols, y.size(), "y");
    const float* xs = x.data();
    float* ys = y.data();
    parallel_rows(pool, rows, cols, [=](size_t begin, size_t end) {
        for (size_t r = begin; r < end; ++r) {
            const float* __restrict xr = xs + r * cols;
            float* __restrict yr = ys + r * cols;
            const float m = row_max(xr, cols);
            float s = 0;
            for (size_t j = 0; j < cols; ++j) s += std::exp(xr[j] - m);
            const float log_s = std::log(s);
            for (size_t j = 0; j < cols; ++j) yr[j] = xr[j] - m - log_s;
        }
    });
}

void log_softmax_backward_cpu(cpu::ThreadPool& pool, size_t rows, size_t cols, std::span<const float> y,
                              std::span<const float> dy, std::span<float> dx) {
    check_matrix("log_softmax_backward", rows, cols, y.size(), "y");
    check_matrix("log_softmax_backward", rows, cols, dy.size(), "dy");
    check_matrix("log_softmax_backward", rows, cols, dx.size(), "dx");
    const float* ys = y.data();
    const float* dys = dy.data();
    float* dxs = dx.data();
    parallel_rows(pool, rows, cols, [=](size_t begin, size_t end) {
        for (size_t r = begin; r < end; ++r) {
            const float* __restrict yr = ys + r * cols;
            const float* __restrict dyr = dys + r * cols;
            float* __restrict dxr = dxs + r * cols;
            float s = 0;
            for (size_t j = 0; j < cols; ++j) s += dyr[j];
            for (size_t j = 0; j < cols; ++j) dxr[j] = dyr[j] - std::exp(yr[j]) * s;
        }
    });
}

namespace {

KernelLaunch softmax_launch(std::string_view shader, size_t rows, size_t cols, std::vector<Access> args) {
    KernelLaunch l = row_launch(shader, rows, cols, std::move(args));
    struct Push {
        uint32_t rows, cols;
    };
    l.set_push(Push{static_cast<uint32_t>(rows), static_cast<uint32_t>(cols)});
    return l;
}

} // namespace

KernelLaunch softmax_forward_launch(size_t rows, size_t cols) {
    return softmax_launch("softmax_forward", rows, cols, {Access::Read, Access::Write});
}
KernelLaunch softmax_backward_launch(size_t rows, size_t cols) {
    return softmax_launch("softmax_backward", rows, cols, {Access::Read, Access::Read, Access::Write});
}
KernelLaunch log_softmax_forward_launch(size_t rows, size_t cols) {
    return softmax_launch("log_softmax_forward", rows, cols, {Access::Read, Access::Write});
}
KernelLaunch log_softmax_backward_launch(size_t rows, size_t cols) {
    return softmax_launch("log_softmax_backward", rows, cols, {Access::Read, Access::Read, Access::Write});
}

} // namespace vkcnn::ops
