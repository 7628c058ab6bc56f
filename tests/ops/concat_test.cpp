// concat along channels: the copy shaders (one launch per input, each into
// its own channel slice) vs the CPU kernels vs the plain references, bit for
// bit, over 1-4 inputs of 1, 3 and 7 channels and odd spatial sizes; all
// launches into one output in one recording; bad shapes.
#include "vkcnn/ops/concat.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/run_kernel.h"
#include "vkcnn/vulkan/recorder.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

using namespace vkcnn;
using namespace vkcnn::test;
using ops::ConcatShape;

namespace {

using Dims = std::array<uint32_t, 4>;

std::vector<Dims> input_dims(uint32_t n, const std::vector<uint32_t>& channels, uint32_t h, uint32_t w) {
    std::vector<Dims> d;
    for (uint32_t c : channels) d.push_back({n, c, h, w});
    return d;
}

std::string describe(const std::vector<Dims>& dims) {
    std::string s = "inputs";
    for (const Dims& d : dims) s += cat(" (", d[0], ", ", d[1], ", ", d[2], ", ", d[3], ")");
    return s;
}

template <typename T>
std::vector<std::span<const T>> const_spans(const std::vector<std::vector<T>>& v) {
    return {v.begin(), v.end()};
}
template <typename T>
std::vector<std::span<T>> spans(std::vector<std::vector<T>>& v) {
    return {v.begin(), v.end()};
}

// Inputs and dy: real values (a copy must keep every bit), one seed per tensor.
struct Data {
    std::vector<std::vector<float>> xs;
    std::vector<float> dy;
};

Data make_data(const ConcatShape& s, uint32_t seed) {
    Data d;
    for (size_t i = 0; i < s.inputs(); ++i) d.xs.push_back(uniform(s.x_size(i), seed + static_cast<uint32_t>(i)));
    d.dy = uniform(s.y_size(), seed + 100);
    return d;
}

// The channel lists of the sweep: 1-4 inputs of 1, 3 and 7 channels.
const std::vector<uint32_t> kChannels[] = {{1},       {3},       {7},       {1, 3},       {7, 1},       {3, 3},
                                           {1, 3, 7}, {7, 7, 1}, {3, 1, 3}, {1, 3, 7, 1}, {7, 3, 1, 3}, {3, 7, 7, 7}};
// (N, H, W): batch 1 and odd, odd and non-square spatial sizes, 1x1.
const Dims kSpatial[] = {{1, 1, 1, 0}, {3, 5, 7, 0}, {2, 9, 3, 0}, {1, 17, 15, 0}};

} // namespace

TEST_CASE("ops/concat: shape rule and offsets") {
    const auto dims = input_dims(2, {3, 1, 7}, 5, 9);
    const ConcatShape s = ops::concat_shape(dims);
    CHECK(s.n == 2);
    CHECK(s.h == 5);
    CHECK(s.w == 9);
    CHECK(s.c_out == 11);
    CHECK(s.channels == std::vector<uint32_t>{3, 1, 7});
    CHECK(s.offsets == std::vector<uint32_t>{0, 3, 4});
    CHECK(s.y_size() == 2 * 11 * 45);
    CHECK(s.x_size(2) == 2 * 7 * 45);
    const ConcatShape one = ops::concat_shape(input_dims(1, {4}, 3, 3)); // a single input: a copy
    CHECK(one.c_out == 4);
    CHECK(one.offsets == std::vector<uint32_t>{0});
}

TEST_CASE("ops/concat: known answer and the backward as the forward's adjoint") {
    // torch.cat([a (1, 1, 1, 2), b (1, 2, 1, 2)], dim=1) with a = [[1, 2]], b = [[3, 4]], [[5, 6]].
    const ConcatShape s = ops::concat_shape(std::vector<Dims>{{1, 1, 1, 2}, {1, 2, 1, 2}});
    const std::vector<std::vector<double>> xs = {{1, 2}, {3, 4, 5, 6}};
    std::vector<double> y(s.y_size());
    ops::concat_forward_reference<double>(s, const_spans(xs), y);
    CHECK(y == std::vector<double>{1, 2, 3, 4, 5, 6});
    // Two images: each image's channels stay together.
    const ConcatShape s2 = ops::concat_shape(std::vector<Dims>{{2, 1, 1, 1}, {2, 2, 1, 1}});
    const std::vector<std::vector<double>> xs2 = {{1, 2}, {3, 4, 5, 6}};
    std::vector<double> y2(s2.y_size());
    ops::concat_forward_reference<double>(s2, const_spans(xs2), y2);
    CHECK(y2 == std::vector<double>{1, 3, 4, 2, 5, 6});
    // <concat(xs), dy> == sum_i <xs[i], dx_i>.
    std::vector<std::vector<double>> dxs = {std::vector<double>(2), std::vector<double>(4)};
    const std::vector<double> dy = {0.5, -1, 2, 3, -0.25, 7};
    ops::concat_backward_reference<double>(s2, dy, spans(dxs));
    CHECK(dxs[0] == std::vector<double>{0.5, 3});
    CHECK(dxs[1] == std::vector<double>{-1, 2, -0.25, 7});
    double lhs = 0, rhs = 0;
    for (size_t j = 0; j < y2.size(); ++j) lhs += y2[j] * dy[j];
    for (size_t i = 0; i < 2; ++i)
        for (size_t j = 0; j < xs2[i].size(); ++j) rhs += xs2[i][j] * dxs[i][j];
    CHECK(lhs == rhs);
}

TEST_CASE_FIXTURE(GpuTest,
                  "ops/concat: shaders == CPU kernels == reference over 1-4 inputs of 1, 3, 7 channels (exact)") {
    // Each launch runs alone into a NaN-filled, guarded y: it must write its
    // channel slice and leave every other element untouched (NaN).
    cpu::ThreadPool pool(2);
    uint32_t seed = 100;
    for (const std::vector<uint32_t>& channels : kChannels)
        for (const Dims& sp : kSpatial) {
            const auto dims = input_dims(sp[0], channels, sp[1], sp[2]);
            INFO(describe(dims));
            const ConcatShape s = ops::concat_shape(dims);
            const Data d = make_data(s, seed += 200);

            std::vector<float> want(s.y_size());
            ops::concat_forward_reference<float>(s, const_spans(d.xs), want);
            std::vector<float> cpu(s.y_size(), std::nanf(""));
            ops::concat_forward_cpu(pool, s, const_spans(d.xs), cpu);
            check_bitwise_equal(cpu, want, "cpu forward");

            std::vector<float> gpu(s.y_size(), std::nanf(""));
            for (size_t i = 0; i < s.inputs(); ++i) {
                INFO("input ", i);
                const std::vector<float> y =
                    run_kernel(dev, ops::concat_forward_launch(s, i), {d.xs[i], std::vector<float>(s.y_size())})[1];
                const size_t lo = size_t{s.offsets[i]} * s.hw(), hi = lo + size_t{s.channels[i]} * s.hw();
                bool untouched = true;
                for (size_t j = 0; j < y.size(); ++j) {
                    const size_t c = j % (size_t{s.c_out} * s.hw());
                    if (c >= lo && c < hi) gpu[j] = y[j];
                    else untouched = untouched && std::isnan(y[j]);
                }
                CHECK_MESSAGE(untouched, "concat_forward wrote outside input ", i, "'s channels");
            }
            check_bitwise_equal(gpu, want, "vulkan forward");

            std::vector<std::vector<float>> dx_want, dx_cpu;
            for (size_t i = 0; i < s.inputs(); ++i) {
                dx_want.emplace_back(s.x_size(i));
                dx_cpu.emplace_back(s.x_size(i), std::nanf(""));
            }
            ops::concat_backward_reference<float>(s, d.dy, spans(dx_want));
            ops::concat_backward_cpu(pool, s, d.dy, spans(dx_cpu));
            for (size_t i = 0; i < s.inputs(); ++i) {
                INFO("input ", i);
                check_bitwise_equal(dx_cpu[i], dx_want[i], "cpu backward");
                const std::vector<float> dx =
                    run_kernel(dev, ops::concat_backward_launch(s, i), {d.dy, std::vector<float>(s.x_size(i))})[1];
                check_bitwise_equal(dx, dx_want[i], "vulkan backward");
            }
        }
}

TEST_CASE_FIXTURE(GpuTest, "ops/concat: every input's launch into one output in one recording (exact)") {
    // As a graph runs them: one y buffer (between guard bands), all launches
    // recorded together; the write-after-write hazards order them and
    // synchronization validation stays quiet.
    const std::vector<uint32_t> channels[] = {{3}, {1, 7}, {7, 3, 1}, {1, 3, 7, 3}};
    uint32_t seed = 900;
    for (const std::vector<uint32_t>& ch : channels) {
        const auto dims = input_dims(3, ch, 7, 5);
        INFO(describe(dims));
        const ConcatShape s = ops::concat_shape(dims);
        const Data d = make_data(s, seed += 200);
        std::vector<float> want(s.y_size());
        ops::concat_forward_reference<float>(s, const_spans(d.xs), want);

        std::vector<vulkan::Buffer> xbufs;
        for (size_t i = 0; i < s.inputs(); ++i) {
            xbufs.push_back(dev.create_buffer(s.x_size(i) * sizeof(float), cat("concat x", i)));
            dev.upload<float>(xbufs.back(), d.xs[i]);
        }
        Guarded y(s.y_size());
        const vulkan::Buffer ybuf = dev.create_buffer(y.all().size_bytes(), "concat y");
        dev.upload<float>(ybuf, y.all()); // sentinels everywhere, body included: every element must be written
        const vulkan::BufferRange yrange(ybuf, Guarded::kGuard * sizeof(float), s.y_size() * sizeof(float));
        vulkan::Recorder rec(dev);
        for (size_t i = 0; i < s.inputs(); ++i) {
            const vulkan::BufferRange args[] = {vulkan::BufferRange(xbufs[i]), yrange};
            rec.dispatch(ops::concat_forward_launch(s, i), args);
        }
        rec.submit_and_wait("concat test");
        dev.download<float>(ybuf, y.all());
        CHECK(y.guards_intact());
        const auto body = y.body();
        check_bitwise_equal(std::vector<float>(body.begin(), body.end()), want, "vulkan forward, one recording");
    }
}

TEST_CASE("ops/concat: CPU kernels give the same bits for any thread count") {
    // Large enough (>= 2^16 elements) to take the threaded path.
    const ConcatShape s = ops::concat_shape(input_dims(3, {7, 3, 1}, 65, 63));
    const Data d = make_data(s, 4000);
    std::vector<float> want(s.y_size());
    ops::concat_forward_reference<float>(s, const_spans(d.xs), want);
    std::vector<std::vector<float>> dx_want;
    for (size_t i = 0; i < s.inputs(); ++i) dx_want.emplace_back(s.x_size(i));
    ops::concat_backward_reference<float>(s, d.dy, spans(dx_want));
    for (unsigned threads : {1u, 2u, 3u}) {
        INFO(threads, " threads");
        cpu::ThreadPool pool(threads);
        std::vector<float> y(s.y_size(), std::nanf(""));
        ops::concat_forward_cpu(pool, s, const_spans(d.xs), y);
        check_bitwise_equal(y, want, "cpu forward");
        std::vector<std::vector<float>> dxs;
        for (size_t i = 0; i < s.inputs(); ++i) dxs.emplace_back(s.x_size(i), std::nanf(""));
        ops::concat_backward_cpu(pool, s, d.dy, spans(dxs));
        for (size_t i = 0; i < s.inputs(); ++i) check_bitwise_equal(dxs[i], dx_want[i], cat("cpu backward ", i));
        // An empty dx is a gradient nobody wants: skipped, the others as before.
        std::vector<std::vector<float>> partial{std::vector<float>(s.x_size(0), std::nanf("")), {},
                                                std::vector<float>(s.x_size(2), std::nanf(""))};
        ops::concat_backward_cpu(pool, s, d.dy, spans(partial));
        check_bitwise_equal(partial[0], dx_want[0], "cpu backward 0, input 1 not wanted");
        check_bitwise_equal(partial[2], dx_want[2], "cpu backward 2, input 1 not wanted");
    }
}

TEST_CASE("ops/concat: bad shapes throw vkcnn::Error naming concat and the shapes") {
    CHECK_THROWS_WITH_AS(ops::concat_shape(std::vector<Dims>{}),
                         "concat: no inputs (torch.cat needs at least one tensor)", Error);
    CHECK_THROWS_WITH_AS(ops::concat_shape(std::vector<Dims>{{2, 3, 5, 5}, {2, 4, 5, 7}}),
                         "concat: input 1 (2, 4, 5, 7) and input 0 (2, 3, 5, 5) differ outside the channel dimension "
                         "(inputs (2, 3, 5, 5), (2, 4, 5, 7))",
                         Error);
    CHECK_THROWS_WITH_AS(ops::concat_shape(std::vector<Dims>{{2, 3, 5, 5}, {2, 1, 5, 5}, {1, 3, 5, 5}}),
                         doctest::Contains("concat: input 2 (1, 3, 5, 5) and input 0 (2, 3, 5, 5) differ"), Error);
    CHECK_THROWS_WITH_AS(ops::concat_shape(std::vector<Dims>{{2, 3, 5, 5}, {2, 3, 4, 5}}),
                         doctest::Contains("differ outside the channel dimension"), Error);
    CHECK_THROWS_WITH_AS(ops::concat_shape(std::vector<Dims>{{2, 3, 5, 5}, {2, 0, 5, 5}}),
                         "concat: input 1 (2, 0, 5, 5) has an empty dimension (inputs (2, 3, 5, 5), (2, 0, 5, 5))",
                         Error);
    CHECK_THROWS_WITH_AS(ops::concat_shape(std::vector<Dims>{{1024, 1024, 1024, 1}, {1024, 1024, 1024, 1}}),
                         "concat: the output (1024, 2048, 1024, 1) of inputs (1024, 1024, 1024, 1), "
                         "(1024, 1024, 1024, 1) has more than 2^31 - 1 elements",
                         Error);
    CHECK_THROWS_WITH_AS(
        ops::concat_shape(std::vector<Dims>{{1, 0x7fffffffu, 1, 1}, {1, 0x7fffffffu, 1, 1}, {1, 0x7fffffffu, 1, 1}}),
        doctest::Contains("has more than 2^31 - 1 elements"), Error);

    // Buffers and input counts that do not match the shape.
    const ConcatShape s = ops::concat_shape(input_dims(1, {2, 3}, 2, 2));
    std::vector<std::vector<float>> xs = {std::vector<float>(8), std::vector<float>(12)};
    std::vector<float> y(20);
    cpu::ThreadPool pool(1);
    std::vector<std::vector<float>> one = {std::vector<float>(8)};
    CHECK_THROWS_WITH_AS(ops::concat_forward_cpu(pool, s, const_spans(one), y),
                         "concat_forward: 1 inputs, the shape has 2", Error);
    std::vector<float> short_y(19);
    CHECK_THROWS_WITH_AS(ops::concat_forward_reference<float>(s, const_spans(xs), short_y),
                         "concat_forward: y has 19 elements, the shape needs 20", Error);
    xs[1].resize(11);
    CHECK_THROWS_WITH_AS(ops::concat_backward_cpu(pool, s, y, spans(xs)),
                         "concat_backward: dx of input 1 has 11 elements, the shape needs 12", Error);
    CHECK_THROWS_WITH_AS(ops::concat_forward_launch(s, 2), "concat_forward: input 2 of 2", Error);
}
