// The graph's math ops end to end: every unary math kind and sum / mean over
// trailing axes and the whole tensor in one small graph, its autodiff
// gradients against central finite differences, the Vulkan program against
// the CPU program (and its optimised schedule, in place, against the debug
// one bit for bit), the reductions against double loops over every axis
// layout, what each backward node reads, and the errors naming the node.
#include "vkcnn/exec/cpu_program.h"
#include "vkcnn/exec/vulkan_program.h"
#include "vkcnn/graph/compile.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/program_gradcheck.h"

#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <random>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

const Shape kShape{3, 2, 5};

// y = sum(square(sum(y1, {1, 2}) + mean(mean(y1, {-1}), {1}))) + mean(y1), with
// y1 = log(q) + sqrt(q) + sign(x) * |x w|, q = exp(0.5 x w + 0.1) + clamp(x w, -0.8, 0.8)^2 > 0.
graph::Graph build() {
    graph::Graph g;
    const auto x = g.input("x", kShape), dy = g.input("dy", Shape{1});
    const auto w = g.parameter("w", kShape);
    const auto xw = g.mul(x, w, "xw");
    const auto q = g.add(g.exp(g.scale(xw, 0.5f, 0.1f, "scaled"), "e"),
                         g.square(g.clamp(xw, -0.8f, 0.8f, "clamped"), "sq"), "q");
    const auto r = g.add(g.log(q, "lg"), g.sqrt(q, "rt"), "r");
    const auto t = g.mul(g.sign(x, "sg"), g.abs(xw, "ab"), "t");
    const auto y1 = g.add(r, t, "y1");
    const auto a = g.sum(y1, {1, 2}, "a");
    const auto b = g.mean(g.mean(y1, {-1}, "b0"), {1}, "b");
    const auto d = g.add(a, b, "d");
    const auto y = g.add(g.sum(g.square(d, "d2"), {}, "total"), g.mean(y1, {}, "avg"), "y");
    const graph::ValueId wrt[] = {x};
    g.backward(y, wrt, dy);
    return g;
}

// x and w away from every kink by more than the finite-difference step moves
// them (0.01, times |w| <= 1 for x w): x from 0 (sign), x w from 0 (abs) and
// from the clamp's bounds.
std::map<std::string, std::vector<float>> feeds(uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    const auto n = static_cast<size_t>(kShape.elements());
    std::vector<float> x(n), w(n);
    for (size_t i = 0; i < n; ++i) {
        do {
            x[i] = u(rng);
            w[i] = u(rng);
        } while (std::abs(x[i]) < 0.05f || std::abs(x[i] * w[i]) < 0.05f ||
                 std::abs(std::abs(x[i] * w[i]) - 0.8f) < 0.05f);
    }
    return {{"x", x}, {"w", w}, {"dy", {0.7f}}};
}

void write_all(exec::Program& prog, const std::map<std::string, std::vector<float>>& f) {
    for (const auto& [name, data] : f) prog.write(name, data);
}

} // namespace

TEST_CASE("graph/math: autodiff through every unary math kind, sum and mean matches finite differences") {
    cpu::ThreadPool pool(2);
    exec::CpuProgram prog(graph::compile(build()), pool);
    auto f = feeds(3);
    write_all(prog, f);
    // All 30 elements of each; y is about 10^3, so float rounding of the
    // output (~1e-4) over the 2 * 0.01 step stays well inside the tolerance.
    const size_t checked = check_program_gradients(prog, f, {"x", "w"});
    CHECK(checked == 60);
}

TEST_CASE_FIXTURE(GpuTest, "graph/math: the Vulkan program matches the CPU program, in place as in the debug schedule") {
    cpu::ThreadPool pool(2);
    const graph::CompileOptions keep{.keep = {"a", "b", "y1"}};
    exec::CpuProgram cpu_prog(graph::compile(build(), keep), pool);
    exec::VulkanProgram fast(dev, graph::compile(build(), keep));
    graph::CompileOptions debug_options = keep;
    debug_options.in_place = false;
    exec::VulkanProgram debug(dev, graph::compile(build(), debug_options), {.debug_schedule = true});
    MESSAGE("dispatches " << fast.stats().dispatches << ", arena " << fast.stats().arena_bytes << " bytes vs naive "
                          << fast.stats().naive_bytes);
    for (const uint32_t seed : {1u, 2u}) {
        const auto f = feeds(seed);
        for (exec::Program* p : std::initializer_list<exec::Program*>{&cpu_prog, &fast, &debug}) {
            write_all(*p, f);
            p->run();
        }
        for (const std::string name : {"y1", "a", "b", "y", "x.grad", "w.grad"}) {
            const auto v = fast.read(name);
            check_bitwise_equal(debug.read(name), v, name + ": debug vs optimised schedule");
            // The shaders' exp, log and sqrt are a few ulps from the CPU's
            // (ops/unary_math_test.cpp) and the reductions sum in other orders:
            // ~1e-6 relative in y1, carried through a square of a 20-term sum
            // and its gradient.
            check_allclose(v, cpu_prog.read(name), 1e-5, 2e-5, name + ": vulkan vs cpu");
        }
    }
}

TEST_CASE_FIXTURE(GpuTest, "graph/math: sum and mean over each block of trailing axes equal double loops, gradients broadcast dy") {
    cpu::ThreadPool pool(2);
    const Shape shape{4, 3, 50, 7}; // 4200 elements: the whole-tensor sum spans 17 partial workgroups
    const auto n = static_cast<size_t>(shape.elements());
    const auto x = uniform(n, 21);
    struct Layout {
        std::vector<int64_t> axes;
        size_t rows; // the product of the leading, unreduced axes
    };
    for (const Layout& l : {Layout{{}, 1}, Layout{{3}, 600}, Layout{{-1, -2}, 12}, Layout{{1, 2, 3}, 4},
                            Layout{{0, 1, 2, 3}, 1}}) {
        for (const bool mean : {false, true}) {
            CAPTURE(l.rows);
            CAPTURE(mean);
            const size_t cols = n / l.rows;
            const auto build_reduce = [&] {
                graph::Graph g;
                const auto in = g.input("x", shape);
                const auto y = mean ? g.mean(in, l.axes, "y") : g.sum(in, l.axes, "y");
                CHECK(static_cast<size_t>(g.value(y).shape.elements()) == l.rows);
                const auto dy = g.input("dy", g.value(y).shape);
                const graph::ValueId wrt[] = {in};
                g.backward(y, wrt, dy);
                return g;
            };
            const auto dy = uniform(l.rows, 22, -2.0f, 2.0f);
            // Tree and blocked sums are within depth * 2^-24 * sum |x| of the
            // exact sum; 16 covers the deepest tree here (log2 4200 < 13) and
            // the last division.
            std::vector<float> want(l.rows), bound(l.rows);
            for (size_t r = 0; r < l.rows; ++r) {
                double s = 0, abs_sum = 0;
                for (size_t c = 0; c < cols; ++c) s += x[r * cols + c], abs_sum += std::abs(x[r * cols + c]);
                want[r] = static_cast<float>(mean ? s / double(cols) : s);
                bound[r] = static_cast<float>(16 * std::ldexp(abs_sum, -24) / (mean ? double(cols) : 1.0));
            }
            // dx[r, c] = dy[r], times float(1 / cols) for a mean: one product, the same bits everywhere.
            std::vector<float> want_dx(n);
            const float scale = mean ? 1.0f / static_cast<float>(cols) : 1.0f;
            for (size_t i = 0; i < n; ++i) want_dx[i] = dy[i / cols] * scale;

            exec::CpuProgram cpu_prog(graph::compile(build_reduce()), pool);
            exec::VulkanProgram gpu(dev, graph::compile(build_reduce()));
            for (exec::Program* p : std::initializer_list<exec::Program*>{&cpu_prog, &gpu}) {
                p->write("x", x);
                p->write("dy", dy);
                p->run();
                const auto y = p->read("y");
                REQUIRE(y.size() == l.rows);
                for (size_t r = 0; r < l.rows; ++r)
                    CHECK_MESSAGE(std::abs(y[r] - want[r]) <= bound[r],
                                  (p == &gpu ? "vulkan" : "cpu") << " row " << r << ": " << y[r] << " vs " << want[r]);
                check_bitwise_equal(p->read("x.grad"), want_dx, p == &gpu ? "vulkan x.grad" : "cpu x.grad");
            }
        }
    }
}

TEST_CASE("graph/math: each backward node reads what its derivative needs") {
    graph::Graph g;
    const auto x = g.input("x", Shape{4});
    const auto dy = g.input("dy", Shape{4});
    const auto y = g.add(g.add(g.sqrt(x, "rt"), g.log(x, "lg"), "s1"),
                         g.add(g.sign(x, "sg"), g.scale(x, 3.0f, 1.0f, "sc"), "s2"), "y");
    const graph::ValueId wrt[] = {x};
    g.backward(y, wrt, dy);
    std::map<std::string, const graph::Node*> by_name;
    for (size_t i = 0; i < g.node_count(); ++i) by_name[g.node(i).name] = &g.node(i);
    const auto forward_out = [&](const char* name) { return by_name.at(name)->outputs[0]; };
    REQUIRE(by_name.count("rt.backward"));
    // sqrt: from its output y (dx = dy / 2y); log: from its input x.
    CHECK(by_name.at("rt.backward")->op == graph::Op::unary_math_backward);
    CHECK(by_name.at("rt.backward")->inputs[0] == forward_out("rt"));
    CHECK(by_name.at("lg.backward")->inputs[0] == x);
    // sign and scale need neither: dy in both slots, x not kept for them.
    for (const char* name : {"sg.backward", "sc.backward"}) {
        const auto& in = by_name.at(name)->inputs;
        CHECK(in[0] == in[1]);
        CHECK(in[0] != x);
    }
}

TEST_CASE("graph/math: errors name the node, the axes and the shape") {
    graph::Graph g;
    const auto x = g.input("x", Shape{3, 2, 5});
    CHECK_THROWS_WITH(g.sum(x, {0}, "s0"),
                      "node 's0' (sum): axes [0] of 'x' (3, 2, 5) are not a contiguous block of trailing axes "
                      "(each once, the last axis included); inputs: 'x' (3, 2, 5)");
    CHECK_THROWS_WITH(g.mean(x, {0, 2}, "m02"), doctest::Contains("node 'm02' (mean)"));
    CHECK_THROWS_WITH(g.mean(x, {0, 2}, "m02b"),
                      doctest::Contains("axes [0, 2] of 'x' (3, 2, 5) are not a contiguous"));
    CHECK_THROWS_WITH(g.sum(x, {2, 2}, "twice"), doctest::Contains("axes [2, 2] of 'x' (3, 2, 5) are not"));
    CHECK_THROWS_WITH(g.sum(x, {3}, "far"), doctest::Contains("axis 3 is out of range for 'x' (3, 2, 5) (rank 3)"));
    CHECK_THROWS_WITH(g.sum(x, {-4}, "before"), doctest::Contains("axis -4 is out of range"));
    CHECK_THROWS_WITH(g.clamp(x, 1.0f, 0.0f, "c"), doctest::Contains("node 'c' (unary_math)"));
    CHECK_THROWS_WITH(g.clamp(x, 1.0f, 0.0f, "c2"), doctest::Contains("clamp: lo 1 is not <= hi 0"));
    const auto labels = g.input("labels", Shape{3}, DType::I32);
    CHECK_THROWS_WITH(g.exp(labels, "e"), doctest::Contains("'labels' (3,) is i32, expected f32"));
    CHECK_THROWS_WITH(g.sum(labels, {}, "si"), doctest::Contains("is i32, expected f32"));
    CHECK_THROWS_WITH(g.add_node(graph::Op::sum, "bare", {x}, {}),
                      doctest::Contains("takes ReduceAttrs attributes, got none"));
    CHECK_THROWS_WITH(g.add_node(graph::Op::unary_math, "bare2", {x}, graph::ReduceAttrs{}),
                      doctest::Contains("takes ops::UnaryMathAttrs attributes, got ReduceAttrs"));
    const auto dy = g.input("dy", Shape{4});
    CHECK_THROWS_WITH(g.add_node(graph::Op::reduce_backward, "rb", {dy},
                                 graph::ReduceBackwardAttrs{Shape{3, 2, 5}, false}),
                      doctest::Contains("dy 'dy' (4,) is not the reduction of (3, 2, 5) over trailing axes"));
    // Shapes that work: the leading dims, or (1,) for every axis.
    CHECK(g.value(g.sum(x, {-2, -1})).shape == Shape{3});
    CHECK(g.value(g.mean(x, {2})).shape == Shape{3, 2});
    CHECK(g.value(g.sum(x, {2, 0, 1})).shape == Shape{1});
    CHECK(g.value(g.mean(x)).shape == Shape{1});
}
