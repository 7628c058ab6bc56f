// The graph's ops wired end to end: a small network using every op family
// (a view, linear with and without bias, the activations, mul) runs as one
// Program on both executors; its gradients (autodiff) match central finite
// differences of the forward pass, and the optimised schedule matches the
// debug one bit for bit.
#include "vkcnn/exec/cpu_program.h"
#include "vkcnn/exec/vulkan_program.h"

#include "support/compare.h"
#include "support/program_gradcheck.h"
#include "support/gpu.h"

#include <doctest/doctest.h>

#include <map>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

constexpr int64_t kBatch = 5;

// y = tanh(linear(sigmoid(leaky_relu(linear(flatten(x), w1, b1)) * gate), w2))
graph::Graph build() {
    graph::Graph g;
    const auto x = g.input("x", Shape{kBatch, 2, 3, 4}), dy = g.input("dy", Shape{kBatch, 3});
    const auto w1 = g.parameter("fc1.weight", Shape{16, 24}), b1 = g.parameter("fc1.bias", Shape{16});
    const auto gate = g.parameter("gate", Shape{kBatch, 16}), w2 = g.parameter("fc2.weight", Shape{3, 16});
    const auto flat = g.flatten(x, "flat");
    const auto h = g.leaky_relu(g.linear(flat, w1, b1, "fc1"), 0.1f, "act1");
    const auto s = g.sigmoid(g.mul(h, gate, "gated"), "act2");
    const auto y = g.tanh(g.linear(s, w2, std::nullopt, "fc2"), "y");
    const graph::ValueId wrt[] = {x};
    g.backward(y, wrt, dy);
    return g;
}

const char* const kParams[] = {"fc1.weight", "fc1.bias", "gate", "fc2.weight"};

std::map<std::string, std::vector<float>> feeds(uint32_t seed) {
    const auto size = [](const char* name) {
        const graph::Graph g = build();
        return static_cast<size_t>(g.value(*g.find(name)).shape.elements());
    };
    std::map<std::string, std::vector<float>> f;
    uint32_t k = 0;
    for (const char* name : {"x", "dy", "fc1.weight", "fc1.bias", "gate", "fc2.weight"})
        f[name] = uniform(size(name), seed + k++, -1.0f, 1.0f);
    return f;
}

template <typename Program>
void write_all(Program& prog, const std::map<std::string, std::vector<float>>& f) {
    for (const auto& [name, data] : f) prog.write(name, data);
}

} // namespace

TEST_CASE("graph/ops: autodiff through view, linear, activations and mul matches finite differences") {
    cpu::ThreadPool pool(2);
    exec::CpuProgram prog(graph::compile(build()), pool);
    auto f = feeds(7);
    write_all(prog, f);
    // Every third element keeps the test fast.
    check_program_gradients(prog, f, {"x", "fc1.weight", "fc1.bias", "gate", "fc2.weight"},
                            {.tolerance = 2e-3, .stride_above_40 = 3});
}

TEST_CASE_FIXTURE(GpuTest, "graph/ops: the Vulkan program matches the CPU program, views cost nothing") {
    cpu::ThreadPool pool(2);
    exec::CpuProgram cpu_prog(graph::compile(build()), pool);
    exec::VulkanProgram fast(dev, graph::compile(build()));
    exec::VulkanProgram debug(dev, graph::compile(build(), {.in_place = false}), {.debug_schedule = true});
    // fc1, act1, gated, act2, fc2, y; backward: seed is dy, tanh, fc2 (dx, dW), sigmoid, mul, leaky_relu,
    // fc1 (dx, dW, db); flatten and its backward are views and run nothing.
    CHECK(fast.stats().dispatches == 6 + 1 + 2 + 1 + 1 + 1 + 3);
    MESSAGE("dispatches " << fast.stats().dispatches << ", barriers " << fast.stats().barriers << ", arena "
                          << fast.stats().arena_bytes << " bytes vs naive " << fast.stats().naive_bytes);

    for (uint32_t seed : {1u, 2u}) {
        const auto f = feeds(seed);
        write_all(cpu_prog, f);
        write_all(fast, f);
        write_all(debug, f);
        cpu_prog.run();
        fast.run();
        debug.run();
        for (std::string name : {"y", "x.grad", "fc1.weight.grad", "fc1.bias.grad", "gate.grad", "fc2.weight.grad"}) {
            const auto v = fast.read(name);
            check_bitwise_equal(debug.read(name), v, name + ": debug vs optimised schedule");
            // GPU and CPU evaluate exp / tanh differently: a few ulps, carried through two layers.
            check_allclose(v, cpu_prog.read(name), 1e-5, 1e-4, name + ": vulkan vs cpu");
        }
    }
}

TEST_CASE("graph/ops: shape errors name the node and its inputs") {
    graph::Graph g;
    const auto x = g.input("x", Shape{4, 10});
    const auto w = g.parameter("w", Shape{3, 9});
    CHECK_THROWS_WITH(g.linear(x, w, std::nullopt, "fc"),
                      doctest::Contains("node 'fc' (linear): linear: x has 10 features, weight (3, 9) expects 9"));
    CHECK_THROWS_WITH(g.reshape(x, Shape{3, 13}, "r"),
                      doctest::Contains("node 'r' (reshape): cannot view 40 elements as (3, 13) (39 elements)"));
    const auto b = g.parameter("b", Shape{4});
    const auto w3 = g.parameter("w3", Shape{3, 10});
    CHECK_THROWS_WITH(g.linear(x, w3, b, "fc3"), doctest::Contains("bias (4,) does not match weight (3, 10)"));
}

TEST_CASE_FIXTURE(GpuTest, "graph/ops: a profiled run times every node that dispatches") {
    exec::VulkanProgram prog(dev, graph::compile(build()), {.profile = true});
    CHECK_THROWS_WITH(prog.profile(), doctest::Contains("available after the first run"));
    for (const auto& [name, data] : feeds(3)) prog.write(name, data);
    prog.run();
    prog.run(); // the recording resets its queries: a replay measures again
    const auto rows = prog.profile();
    size_t dispatches = 0;
    double share = 0, total = 0;
    for (const auto& r : rows) {
        dispatches += r.dispatches;
        share += r.share;
        total += r.microseconds;
        CHECK(r.microseconds >= 0);
        CHECK(r.op != "reshape"); // views run nothing
    }
    CHECK(dispatches == prog.stats().dispatches);
    CHECK(total > 0);
    CHECK(share == doctest::Approx(1.0));
    for (size_t i = 1; i < rows.size(); ++i) CHECK(rows[i - 1].microseconds >= rows[i].microseconds);
    const std::string table = exec::format_profile(rows);
    MESSAGE(table);
    CHECK(table.find("fc1.backward") != std::string::npos);
    CHECK(table.find("linear_backward") != std::string::npos);

    exec::VulkanProgram plain(dev, graph::compile(build()));
    CHECK_THROWS_WITH(plain.profile(), doctest::Contains("need RecordOptions::timestamps"));
}

TEST_CASE_FIXTURE(GpuTest, "graph/ops: softmax, log_softmax and mse_loss, autodiff vs finite differences and Vulkan vs CPU") {
    // loss = mse(softmax(x) + log_softmax(x), t)
    const auto build_loss = [] {
        graph::Graph g;
        const auto x = g.input("x", Shape{4, 6}), t = g.input("t", Shape{4, 6});
        const auto s = g.add(g.softmax(x, "sm"), g.log_softmax(x, "lsm"), "sum");
        const graph::ValueId wrt[] = {x};
        g.backward(g.mse_loss(s, t, "loss"), wrt);
        return g;
    };
    cpu::ThreadPool pool(2);
    exec::CpuProgram cpu_prog(graph::compile(build_loss()), pool);
    exec::VulkanProgram gpu(dev, graph::compile(build_loss()));
    std::vector<float> x = uniform(24, 1, -2.0f, 2.0f);
    const std::vector<float> t = uniform(24, 2);
    cpu_prog.write("x", x);
    cpu_prog.write("t", t);
    cpu_prog.run();
    gpu.write("x", x);
    gpu.write("t", t);
    gpu.run();
    check_allclose(gpu.read("loss"), cpu_prog.read("loss"), 1e-6, 1e-5, "loss: vulkan vs cpu");
    const auto grad = cpu_prog.read("x.grad");
    check_allclose(gpu.read("x.grad"), grad, 1e-6, 1e-4, "x.grad: vulkan vs cpu");
    const float step = 1e-2f;
    for (size_t i = 0; i < x.size(); ++i) {
        const float saved = x[i];
        double f[2];
        for (int k = 0; k < 2; ++k) {
            x[i] = saved + (k ? -step : step);
            cpu_prog.write("x", x);
            cpu_prog.run();
            f[k] = cpu_prog.read("loss")[0];
        }
        x[i] = saved;
        const double numeric = (f[0] - f[1]) / (2 * step);
        INFO("x[" << i << "]: autodiff " << grad[i] << ", finite differences " << numeric);
        CHECK(std::abs(grad[i] - numeric) <= 2e-3 * (1 + std::abs(numeric)));
    }
}

TEST_CASE_FIXTURE(GpuTest, "graph/ops: dropout draws its mask from the key input, the same on both executors") {
    const auto build_dropout = [] {
        graph::Graph g;
        const auto x = g.input("x", Shape{3, 100}), key = g.input("key", Shape{2}, DType::I32);
        const auto w = g.parameter("w", Shape{3, 100});
        const auto y = g.dropout(g.mul(x, w, "xw"), key, {0.4f, true, 0}, "drop");
        const auto z = g.dropout(y, key, {0.4f, true, 1}, "drop2"); // another layer: another stream
        const auto dy = g.input("dy", Shape{3, 100});
        g.backward(z, {}, dy);
        return g;
    };
    cpu::ThreadPool pool(2);
    exec::CpuProgram cpu_prog(graph::compile(build_dropout()), pool);
    exec::VulkanProgram gpu(dev, graph::compile(build_dropout()));
    const auto x = uniform(300, 1), w = uniform(300, 2), dy = uniform(300, 3);
    std::vector<float> previous;
    for (int32_t step = 1; step <= 3; ++step) {
        const std::vector<int32_t> key{17, step};
        for (exec::Program* p : std::initializer_list<exec::Program*>{&cpu_prog, &gpu}) {
            p->write("x", x);
            p->write("w", w);
            p->write("dy", dy);
            p->write("key", key);
            p->run();
        }
        const auto z = gpu.read("drop2"), grad = gpu.read("w.grad");
        check_bitwise_equal(z, cpu_prog.read("drop2"), "forward: vulkan vs cpu");
        check_bitwise_equal(grad, cpu_prog.read("w.grad"), "w.grad: vulkan vs cpu");
        // d z / d w = x * m1 * m2 elementwise: where z kept x * w, the gradient is dy * x * scale^2.
        size_t kept = 0;
        const float scale = 1.0f / 0.6f;
        for (size_t i = 0; i < z.size(); ++i) {
            if (z[i] == 0.0f) continue;
            ++kept;
            CHECK(grad[i] == doctest::Approx(dy[i] * x[i] * scale * scale).epsilon(1e-5));
        }
        CHECK(kept > 300 * 0.36 * 0.6); // keep rate 0.6 * 0.6, with room
        CHECK(kept < 300 * 0.36 * 1.4);
        CHECK(z != previous); // a new step, a new mask
        previous = z;
    }
}
