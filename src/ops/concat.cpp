// concat along channels: shape rule, references, CPU kernels and launches
// (see concat.h).
#include "vkcnn/ops/concat.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <limits>
#include <string>

namespace vkcnn::ops {

namespace {

std::string dims(const std::array<uint32_t, 4>& d) { return cat("(", d[0], ", ", d[1], ", ", d[2], ", ", d[3], ")"); }

void check_span(const char* op, const std::string& name, size_t got, size_t want) {
    check(got == want, op, ": ", name, " has ", got, " elements, the shape needs ", want);
}

// The per-input tensors (x or dx) and the concatenated one (y or dy) against the shape.
template <typename Parts, typename Whole>
void check_spans(const char* op, const ConcatShape& s, const Parts& parts, const char* part, const Whole& whole,
                 const char* whole_name, bool empty_parts_allowed = false) {
    check(parts.size() == s.inputs(), op, ": ", parts.size(), " inputs, the shape has ", s.inputs());
    for (size_t i = 0; i < parts.size(); ++i)
        if (!(empty_parts_allowed && parts[i].empty()))
            check_span(op, cat(part, " of input ", i), parts[i].size(), s.x_size(i));
    check_span(op, whole_name, whole.size(), s.y_size());
}

} // namespace

ConcatShape concat_shape(std::span<const std::array<uint32_t, 4>> inputs) {
    check(!inputs.empty(), "concat: no inputs (torch.cat needs at least one tensor)");
    std::string all;
    for (const auto& x : inputs) all += (all.empty() ? "" : ", ") + dims(x);
    const std::array<uint32_t, 4>& first = inputs[0];
    ConcatShape s;
    s.n = first[0], s.h = first[2], s.w = first[3];
    uint64_t c_out = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const std::array<uint32_t, 4>& x = inputs[i];
        for (uint32_t d : x)
            check(d > 0, "concat: input ", i, " ", dims(x), " has an empty dimension (inputs ", all, ")");
        check(x[0] == first[0] && x[2] == first[2] && x[3] == first[3], "concat: input ", i, " ", dims(x),
              " and input 0 ", dims(first), " differ outside the channel dimension (inputs ", all, ")");
        s.channels.push_back(x[1]);
        s.offsets.push_back(static_cast<uint32_t>(std::min<uint64_t>(c_out, std::numeric_limits<uint32_t>::max())));
        c_out += x[1];
    }
    // The shaders index in 32 bits (signed where other kernels read the result).
    const uint64_t limit = std::numeric_limits<int32_t>::max();
    check(c_out <= limit && c_out * s.n <= limit && c_out * s.n * s.h <= limit && c_out * s.n * s.h * s.w <= limit,
          "concat: the output (", s.n, ", ", c_out, ", ", s.h, ", ", s.w, ") of inputs ", all,
          " has more than 2^31 - 1 elements");
    s.c_out = static_cast<uint32_t>(c_out);
    return s;
}

template <typename T>
void concat_forward_reference(const ConcatShape& s, std::span<const std::span<const T>> xs, std::span<T> y) {
    check_spans("concat_forward", s, xs, "x", y, "y");
    for (size_t i = 0; i < xs.size(); ++i)
        for (size_t n = 0; n < s.n; ++n)
            for (size_t c = 0; c < s.channels[i]; ++c)
                for (size_t p = 0; p < s.hw(); ++p)
                    y[(n * s.c_out + s.offsets[i] + c) * s.hw() + p] = xs[i][(n * s.channels[i] + c) * s.hw() + p];
}

template <typename T>
void concat_backward_reference(const ConcatShape& s, std::span<const T> dy, std::span<const std::span<T>> dxs) {
    check_spans("concat_backward", s, dxs, "dx", dy, "dy");
    for (size_t i = 0; i < dxs.size(); ++i)
        for (size_t n = 0; n < s.n; ++n)
            for (size_t c = 0; c < s.channels[i]; ++c)
                for (size_t p = 0; p < s.hw(); ++p)
                    dxs[i][(n * s.channels[i] + c) * s.hw() + p] = dy[(n * s.c_out + s.offsets[i] + c) * s.hw() + p];
}

#define VKCNN_CONCAT_REFERENCES(T)                                                                                  \
    template void concat_forward_reference<T>(const ConcatShape&, std::span<const std::span<const T>>, std::span<T>); \
    template void concat_backward_reference<T>(const ConcatShape&, std::span<const T>, std::span<const std::span<T>>);
VKCNN_CONCAT_REFERENCES(float)
VKCNN_CONCAT_REFERENCES(double)
#undef VKCNN_CONCAT_REFERENCES

namespace {

// Runs copy(image, input) for every pair: in parallel when there is enough to copy.
template <typename Copy>
void for_each_block(cpu::ThreadPool& pool, const ConcatShape& s, const Copy& copy) {
    const size_t k = s.inputs(), items = size_t{s.n} * k;
    auto body = [&](size_t begin, size_t end) {
        for (size_t item = begin; item < end; ++item) copy(item / k, item % k);
    };
    if (s.y_size() < (size_t{1} << 16)) body(0, items);
    else pool.parallel_for(items, body);
}

} // namespace

void concat_forward_cpu(cpu::ThreadPool& pool, const ConcatShape& s, std::span<const std::span<const float>> xs,
                        std::span<float> y) {
    check_spans("concat_forward", s, xs, "x", y, "y");
    for_each_block(pool, s, [&](size_t n, size_t i) {
        const size_t block = s.channels[i] * s.hw();
        const float* src = xs[i].data() + n * block;
        std::copy(src, src + block, y.data() + (n * s.c_out + s.offsets[i]) * s.hw());
    });
}

void concat_backward_cpu(cpu::ThreadPool& pool, const ConcatShape& s, std::span<const float> dy,
                         std::span<const std::span<float>> dxs) {
    check_spans("concat_backward", s, dxs, "dx", dy, "dy", true);
    for_each_block(pool, s, [&](size_t n, size_t i) {
        if (dxs[i].empty()) return; // that gradient is not wanted
        const size_t block = s.channels[i] * s.hw();
        const float* src = dy.data() + (n * s.c_out + s.offsets[i]) * s.hw();
        std::copy(src, src + block, dxs[i].data() + n * block);
    });
}

namespace {

// Mirrors `Push` in shaders/concat_{forward,backward}.comp.
struct Push {
    uint32_t count;   // elements of input i: N * C_i * H * W
    uint32_t block;   // C_i * H * W: input i's elements per image
    uint32_t y_image; // C_out * H * W: y's elements per image
    uint32_t y_start; // offsets[i] * H * W: where input i's block starts in each image of y
};

KernelLaunch copy_launch(std::string_view shader, const ConcatShape& s, size_t input, std::vector<Access> args) {
    check(input < s.inputs(), shader, ": input ", input, " of ", s.inputs());
    KernelLaunch l;
    l.shader = shader;
    l.workgroup = {256, 1, 1};
    l.args = std::move(args);
    // Grid-stride loop in the shader: at most 2^31 / (4096 * 256) = 2048 steps per invocation.
    l.groups = {std::min<uint32_t>(groups_for(s.x_size(input), 256), 4096), 1, 1};
    const uint32_t hw = static_cast<uint32_t>(s.hw());
    l.set_push(Push{static_cast<uint32_t>(s.x_size(input)), s.channels[input] * hw, s.c_out * hw,
                    s.offsets[input] * hw});
    return l;
}

} // namespace

KernelLaunch concat_forward_launch(const ConcatShape& s, size_t input) {
    return copy_launch("concat_forward", s, input, {Access::Read, Access::Write});
}

KernelLaunch concat_backward_launch(const ConcatShape& s, size_t input) {
    return copy_launch("concat_backward", s, input, {Access::Read, Access::Write});
}

} // namespace vkcnn::ops
