// Convolutional graphs end to end: conv2d, batch norm (training, with its
// running statistics updated in place, and eval), the three pools, a 1x1
// convolution and a classifier head. Autodiff matches central finite
// differences; the Vulkan program matches the CPU program and the debug
// schedule bit for bit.
#include "vkcnn/exec/cpu_program.h"
#include "vkcnn/exec/vulkan_program.h"

#include "support/compare.h"
#include "support/program_gradcheck.h"
#include "support/gpu.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <numeric>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

using Feeds = std::map<std::string, std::vector<float>>;

// y = linear(flatten(adaptive_avg_pool(conv_1x1(avg_pool(tanh(bn(conv(max_pool(x))))))))), a loss seed dy.
graph::Graph build(bool training = true) {
    graph::Graph g;
    const auto x = g.input("x", Shape{3, 2, 8, 8});
    const auto w1 = g.parameter("conv1.weight", Shape{4, 2, 3, 3}), b1 = g.parameter("conv1.bias", Shape{4});
    const auto gamma = g.parameter("bn1.weight", Shape{4}), beta = g.parameter("bn1.bias", Shape{4});
    const auto mean = g.running_stat("bn1.running_mean", Shape{4}), var = g.running_stat("bn1.running_var", Shape{4});
    const auto w2 = g.parameter("conv2.weight", Shape{5, 4, 1, 1});
    const auto w3 = g.parameter("fc.weight", Shape{3, 5}), b3 = g.parameter("fc.bias", Shape{3});

    auto h = g.max_pool2d(x, {.kernel = {2, 2}}, "pool1"); // (3, 2, 4, 4)
    h = g.conv2d(h, w1, b1, ops::Conv2dAttrs{}.pad(1, 1), "conv1");
    h = g.tanh(g.batch_norm2d(h, gamma, beta, mean, var, training, {}, "bn1"), "act1");
    h = g.avg_pool2d(h, {.kernel = {2, 2}}, "pool2"); // (3, 4, 2, 2)
    h = g.conv2d(h, w2, std::nullopt, {}, "conv2");  // 1x1
    h = g.flatten(g.adaptive_avg_pool2d(h, {.output_size = {1, 1}}, "gap"), "flat");
    const auto y = g.linear(h, w3, b3, "fc");
    if (training) {
        const graph::ValueId wrt[] = {x};
        g.backward(y, wrt, g.input("dy", Shape{3, 3}));
    } else {
        g.mark_output(y);
    }
    return g;
}

const char* const kGradients[] = {"x", "conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "conv2.weight",
                                  "fc.weight", "fc.bias"};

Feeds feeds(uint32_t seed) {
    const graph::Graph g = build(true);
    Feeds f;
    uint32_t k = 0;
    for (const char* name : {"dy", "conv1.weight", "conv1.bias", "bn1.bias", "conv2.weight", "fc.weight", "fc.bias"})
        f[name] = uniform(static_cast<size_t>(g.value(*g.find(name)).shape.elements()), seed + k++, -1.0f, 1.0f);
    f["bn1.weight"] = uniform(4, seed + 50, 0.5f, 1.5f);
    f["bn1.running_mean"] = std::vector<float>(4, 0.0f);
    f["bn1.running_var"] = std::vector<float>(4, 1.0f);
    // Distinct inputs 0.05 apart: no two in a pooling window come within a
    // finite-difference step of each other, so no argmax flips.
    std::vector<float> x(3 * 2 * 8 * 8);
    std::iota(x.begin(), x.end(), 0.0f);
    std::vector<float> order = uniform(x.size(), seed + 99);
    std::vector<size_t> idx(x.size());
    std::iota(idx.begin(), idx.end(), size_t{0});
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return order[a] < order[b]; });
    for (size_t i = 0; i < x.size(); ++i) x[idx[i]] = -4.8f + 0.05f * static_cast<float>(i);
    f["x"] = x;
    return f;
}

template <typename Program>
void write_all(Program& prog, const Feeds& f) {
    for (const auto& [name, data] : f) prog.write(name, data);
}

} // namespace

TEST_CASE("graph/cnn: autodiff through conv2d, batch norm and the pools matches finite differences") {
    cpu::ThreadPool pool(2);
    exec::CpuProgram prog(graph::compile(build()), pool);
    Feeds f = feeds(11);
    write_all(prog, f);
    const std::vector<std::string> names(std::begin(kGradients), std::end(kGradients));
    const size_t checked = check_program_gradients(prog, f, names, {.output = "fc", .step = 5e-3f});
    MESSAGE(checked << " gradient elements checked");
}

TEST_CASE_FIXTURE(GpuTest, "graph/cnn: Vulkan matches the CPU, running statistics included, and eval uses them") {
    cpu::ThreadPool pool(2);
    exec::CpuProgram cpu_prog(graph::compile(build()), pool);
    exec::VulkanProgram fast(dev, graph::compile(build()));
    exec::VulkanProgram debug(dev, graph::compile(build(), {.in_place = false}), {.debug_schedule = true});
    MESSAGE("dispatches " << fast.stats().dispatches << ", barriers " << fast.stats().barriers << ", arena "
                          << fast.stats().arena_bytes << " bytes vs naive " << fast.stats().naive_bytes);
    CHECK(fast.stats().barriers < fast.stats().dispatches);

    const Feeds f = feeds(5);
    write_all(cpu_prog, f);
    write_all(fast, f);
    write_all(debug, f);
    for (int step = 0; step < 3; ++step) { // the running statistics move every step
        cpu_prog.run();
        fast.run();
        debug.run();
    }
    std::vector<std::string> names = {"fc", "bn1.running_mean", "bn1.running_var"};
    for (const char* name : kGradients) names.push_back(std::string(name) + ".grad");
    for (const std::string& name : names) {
        const auto v = fast.read(name);
        check_bitwise_equal(debug.read(name), v, name + ": debug vs optimised schedule");
        check_allclose(v, cpu_prog.read(name), 1e-5, 2e-4, name + ": vulkan vs cpu");
    }
    // Momentum 0.1 from (0, 1), three updates with the same batch.
    const auto running_mean = cpu_prog.read("bn1.running_mean");
    CHECK(std::any_of(running_mean.begin(), running_mean.end(), [](float m) { return m != 0.0f; }));

    // An eval program of the same model, fed the trained running statistics.
    exec::CpuProgram eval_cpu(graph::compile(build(false)), pool);
    exec::VulkanProgram eval_gpu(dev, graph::compile(build(false)));
    Feeds weights = f;
    weights.erase("dy");
    weights["bn1.running_mean"] = running_mean;
    weights["bn1.running_var"] = cpu_prog.read("bn1.running_var");
    write_all(eval_cpu, weights);
    write_all(eval_gpu, weights);
    eval_cpu.run();
    eval_gpu.run();
    check_allclose(eval_gpu.read("fc"), eval_cpu.read("fc"), 1e-5, 2e-4, "eval: vulkan vs cpu");
    CHECK(eval_cpu.read("fc") != cpu_prog.read("fc")); // running, not batch, statistics
}

TEST_CASE_FIXTURE(GpuTest, "graph/cnn: batch norm over more than one chunk per channel") {
    // N*H*W = 8192: the statistics and gradient sums take the two-stage path.
    graph::Graph g;
    const auto x = g.input("x", Shape{8, 3, 32, 32}), dy = g.input("dy", Shape{8, 3, 32, 32});
    const auto w = g.parameter("bn.weight", Shape{3}), b = g.parameter("bn.bias", Shape{3});
    const auto m = g.running_stat("bn.running_mean", Shape{3}), v = g.running_stat("bn.running_var", Shape{3});
    const auto y = g.batch_norm2d(x, w, b, m, v, true, {}, "bn");
    const graph::ValueId wrt[] = {x};
    g.backward(y, wrt, dy);

    cpu::ThreadPool pool(2);
    exec::CpuProgram cpu_prog(graph::compile(g), pool);
    exec::VulkanProgram gpu(dev, graph::compile(g));
    const Feeds f{{"x", uniform(8 * 3 * 32 * 32, 1, 2.0f, 5.0f)}, {"dy", uniform(8 * 3 * 32 * 32, 2)},
                  {"bn.weight", {0.5f, 1.0f, 2.0f}}, {"bn.bias", {0.0f, 1.0f, -1.0f}},
                  {"bn.running_mean", {0, 0, 0}}, {"bn.running_var", {1, 1, 1}}};
    write_all(cpu_prog, f);
    write_all(gpu, f);
    cpu_prog.run();
    gpu.run();
    for (std::string name : {"bn", "x.grad", "bn.weight.grad", "bn.bias.grad", "bn.running_mean", "bn.running_var"})
        check_allclose(gpu.read(name), cpu_prog.read(name), 1e-5, 1e-3, name + ": vulkan vs cpu");
}

TEST_CASE("graph/cnn: bad shapes and in-place updates of non-persistent values are errors naming the node") {
    graph::Graph g;
    const auto x = g.input("x", Shape{2, 3, 8, 8});
    const auto w = g.parameter("w", Shape{4, 2, 3, 3});
    CHECK_THROWS_WITH(g.conv2d(x, w, std::nullopt, {}, "conv"), doctest::Contains("node 'conv' (conv2d): conv2d:"));
    const auto flat = g.input("flat", Shape{2, 12});
    CHECK_THROWS_WITH(g.max_pool2d(flat, {}, "pool"), doctest::Contains("node 'pool' (max_pool2d): 'flat' (2, 12) is not 4-D"));

    graph::Graph h;
    const auto hx = h.input("x", Shape{2, 3, 4, 4});
    const auto gw = h.parameter("g", Shape{3}), gb = h.parameter("b", Shape{3});
    const auto not_state = h.input("mean", Shape{3});
    const auto var = h.running_stat("var", Shape{3});
    h.mark_output(h.batch_norm2d(hx, gw, gb, not_state, var, true, {}, "bn"));
    CHECK_THROWS_WITH(graph::compile(h), doctest::Contains("node 'bn' (batch_norm2d) updates 'mean' in place, but its role is input"));
}
