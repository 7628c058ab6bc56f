// argmax and accuracy: references, CPU kernels and GPU launches (see accuracy.h).
#include "vkcnn/ops/accuracy.h"

#include "vkcnn/core/error.h"
#include "vkcnn/ops/reduce.h"

#include <cmath>
#include <limits>
#include <vector>

namespace vkcnn::ops {

namespace {

void check_shapes(const char* op, size_t rows, size_t cols, size_t x_size, size_t per_row, const char* per_row_name) {
    check(rows >= 1 && cols >= 1, op, ": shape (", rows, ", ", cols, ") is empty");
    check(x_size == rows * cols, op, ": logits have ", x_size, " elements, expected (", rows, ", ", cols, ") = ",
          rows * cols);
    check(per_row == rows, op, ": ", per_row_name, " has ", per_row, " elements, logits have ", rows, " rows");
}

void check_targets(size_t rows, size_t cols, std::span<const int32_t> targets) {
    for (size_t i = 0; i < rows; ++i)
        check(targets[i] >= 0 && static_cast<size_t>(targets[i]) < cols, "accuracy: target[", i, "] = ",
              targets[i], " is out of range for ", cols, " classes");
}

// torch.argmax: the first NaN if any, else the first maximum.
int32_t argmax(const float* x, size_t n) {
    size_t best = 0;
    for (size_t j = 1; j < n && !std::isnan(x[best]); ++j)
        if (x[j] > x[best] || std::isnan(x[j])) best = j;
    return static_cast<int32_t>(best);
}

} // namespace

void argmax_rows_reference(size_t rows, size_t cols, std::span<const float> x, std::span<int32_t> index) {
    check_shapes("argmax_rows", rows, cols, x.size(), index.size(), "index");
    for (size_t i = 0; i < rows; ++i) index[i] = argmax(&x[i * cols], cols);
}

size_t accuracy_reference(size_t rows, size_t cols, std::span<const float> logits, std::span<const int32_t> targets) {
    check_shapes("accuracy", rows, cols, logits.size(), targets.size(), "targets");
    check_targets(rows, cols, targets);
    size_t correct = 0;
    for (size_t i = 0; i < rows; ++i) correct += argmax(&logits[i * cols], cols) == targets[i];
    return correct;
}

void argmax_rows_cpu(cpu::ThreadPool& pool, size_t rows, size_t cols, std::span<const float> x,
                     std::span<int32_t> index) {
    check_shapes("argmax_rows", rows, cols, x.size(), index.size(), "index");
    const float* xs = x.data();
    int32_t* out = index.data();
    auto body = [=](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) out[i] = argmax(xs + i * cols, cols);
    };
    if (rows * cols < (size_t{1} << 15)) body(0, rows);
    else pool.parallel_for(rows, body);
}

size_t accuracy_cpu(cpu::ThreadPool& pool, size_t rows, size_t cols, std::span<const float> logits,
                    std::span<const int32_t> targets) {
    check_shapes("accuracy", rows, cols, logits.size(), targets.size(), "targets");
    check_targets(rows, cols, targets);
    std::vector<int32_t> pred(rows);
    argmax_rows_cpu(pool, rows, cols, logits, pred);
    size_t correct = 0;
    for (size_t i = 0; i < rows; ++i) correct += pred[i] == targets[i];
    return correct;
}

KernelLaunch accuracy_argmax_launch(size_t rows, size_t cols) {
    KernelLaunch l = row_launch("accuracy_argmax", rows, cols, {Access::Read, Access::Write});
    struct Push {
        uint32_t rows, cols;
    };
    l.set_push(Push{static_cast<uint32_t>(rows), static_cast<uint32_t>(cols)});
    return l;
}

KernelLaunch accuracy_count_launch(size_t rows) {
    check(rows >= 1 && rows <= std::numeric_limits<uint32_t>::max(), "accuracy_count: ", rows,
          " rows, expected 1 to 2^32 - 1");
    KernelLaunch l;
    l.shader = "accuracy_count";
    l.workgroup = {256, 1, 1};
    l.args = {Access::Read, Access::Read, Access::Write};
    l.groups = {1, 1, 1};
    l.set_push(static_cast<uint32_t>(rows));
    return l;
}

} // namespace vkcnn::ops
