// Gradients through a network in eval mode (batch norm on its running
// statistics), as saliency maps, adversarial examples and fine-tuning with
// frozen statistics need: conv2d -> batch_norm2d (eval) -> relu. The CPU
// program's autodiff w.r.t. the input and the parameters matches central
// finite differences of the same network in double (the ops' references);
// the Vulkan program matches the CPU program with every subset of the
// gradients wanted (all; dbias alone; dx alone, the saliency case) and with
// the batch norm's sums over more than one chunk per channel.
#include "vkcnn/exec/cpu_program.h"
#include "vkcnn/exec/vulkan_program.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/gradcheck.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

using Feeds = std::map<std::string, std::vector<float>>;

// eps other than torch's default: it must reach the backward node.
const ops::BatchNorm2dAttrs kBn{.eps = 0.01f};
constexpr uint32_t kCin = 2, kCout = 4;

// Which gradients the graph asks for.
struct Wanted {
    bool conv = true, bn_weight = true, bn_bias = true, x = true;
};

// y = relu(bn_eval(conv3x3(x))), a seed dy of y's shape.
graph::Graph build(const Shape& x_shape, const Wanted& want) {
    graph::Graph g;
    const auto x = g.input("x", x_shape);
    const auto w = g.parameter("conv.weight", Shape{kCout, kCin, 3, 3}), b = g.parameter("conv.bias", Shape{kCout});
    const auto gamma = g.parameter("bn.weight", Shape{kCout}), beta = g.parameter("bn.bias", Shape{kCout});
    const auto mean = g.running_stat("bn.running_mean", Shape{kCout});
    const auto var = g.running_stat("bn.running_var", Shape{kCout});
    if (!want.conv) g.freeze(w), g.freeze(b);
    if (!want.bn_weight) g.freeze(gamma);
    if (!want.bn_bias) g.freeze(beta);
    const auto h = g.conv2d(x, w, b, ops::Conv2dAttrs{}.pad(1, 1), "conv");
    const auto y = g.relu(g.batch_norm2d(h, gamma, beta, mean, var, false, kBn, "bn"), "act");
    std::vector<graph::ValueId> wrt;
    if (want.x) wrt.push_back(x);
    g.backward(y, wrt, g.input("dy", g.value(y).shape));
    return g;
}

Feeds feeds(const Shape& x_shape, uint32_t seed) {
    const auto n = static_cast<size_t>(x_shape.elements());
    Feeds f;
    f["x"] = uniform(n, seed, -2.0f, 2.0f);
    f["dy"] = uniform(n / kCin * kCout, seed + 1);
    f["conv.weight"] = uniform(kCout * kCin * 9, seed + 2, -0.5f, 0.5f);
    f["conv.bias"] = uniform(kCout, seed + 3);
    f["bn.weight"] = {1.5f, -0.75f, 0.5f, 2.0f}; // a negative scale too
    f["bn.bias"] = uniform(kCout, seed + 4);
    f["bn.running_mean"] = uniform(kCout, seed + 5, -0.5f, 0.5f);
    f["bn.running_var"] = uniform(kCout, seed + 6, 0.25f, 2.0f);
    return f;
}

template <typename Program>
void write_all(Program& prog, const Feeds& f) {
    for (const auto& [name, data] : f) prog.write(name, data);
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// sum(dy * relu(bn_eval(conv(x)))) in double through the ops' references.
double loss(const Shape& x_shape, const std::map<std::string, std::vector<double>>& v) {
    const ops::Conv2dShape cs = ops::conv2d_shape(
        {static_cast<uint32_t>(x_shape[0]), kCin, static_cast<uint32_t>(x_shape[2]), static_cast<uint32_t>(x_shape[3])},
        {kCout, kCin, 3, 3}, ops::Conv2dAttrs{}.pad(1, 1), true);
    std::vector<double> h(cs.y_size()), y(cs.y_size());
    ops::conv2d_forward_reference<double>(cs, v.at("x"), v.at("conv.weight"), v.at("conv.bias"), h);
    const ops::BatchNorm2dShape bs{cs.n, cs.c_out, cs.oh, cs.ow};
    ops::batch_norm2d_forward_eval_reference<double>(bs, kBn, h, v.at("bn.weight"), v.at("bn.bias"),
                                                     v.at("bn.running_mean"), v.at("bn.running_var"), y);
    for (double& e : y) e = std::max(e, 0.0);
    return weighted_sum(y, v.at("dy"));
}

} // namespace

TEST_CASE("graph/eval_grad: autodiff through eval-mode conv, batch norm and relu matches finite differences") {
    const Shape x_shape{3, kCin, 5, 5};
    cpu::ThreadPool pool(2);
    exec::CpuProgram prog(graph::compile(build(x_shape, {})), pool);
    const Feeds f = feeds(x_shape, 21);
    write_all(prog, f);
    prog.run();

    std::map<std::string, std::vector<double>> v;
    for (const auto& [name, data] : f) v[name] = to_double(data);
    for (const char* name : {"x", "conv.weight", "conv.bias", "bn.weight", "bn.bias"}) {
        CAPTURE(name);
        std::map<std::string, std::vector<double>> probe = v;
        const auto numeric = numerical_gradient(
            [&](const std::vector<double>& p) {
                probe[name] = p;
                return loss(x_shape, probe);
            },
            v[name]);
        // The program runs in float: sums of up to 100 terms of order 1.
        check_gradient(to_double(prog.read(std::string(name) + ".grad")), numeric, name, 1e-4, 1e-4);
    }
}

TEST_CASE("graph/eval_grad: the running statistics get no gradient, even when asked for") {
    graph::Graph g;
    const auto x = g.input("x", Shape{2, 3, 4, 4});
    const auto w = g.parameter("w", Shape{3}), b = g.parameter("b", Shape{3});
    const auto mean = g.running_stat("mean", Shape{3}), var = g.running_stat("var", Shape{3});
    const auto y = g.batch_norm2d(x, w, b, mean, var, false, {}, "bn");
    const graph::ValueId wrt[] = {x, mean, var};
    const auto grads = g.backward(y, wrt, g.input("dy", Shape{2, 3, 4, 4}));
    CHECK(grads.contains(x));
    CHECK(grads.contains(w));
    CHECK_FALSE(grads.contains(mean));
    CHECK_FALSE(grads.contains(var));

    // Only the statistics asked for: nothing to compute, no backward node.
    graph::Graph h;
    const auto hx = h.input("x", Shape{2, 3, 4, 4});
    const auto hw = h.parameter("w", Shape{3}), hb = h.parameter("b", Shape{3});
    h.freeze(hw), h.freeze(hb);
    const auto hm = h.running_stat("mean", Shape{3}), hv = h.running_stat("var", Shape{3});
    const auto hy = h.batch_norm2d(hx, hw, hb, hm, hv, false, {}, "bn");
    const graph::ValueId only_stats[] = {hm};
    CHECK(h.backward(hy, only_stats, h.input("dy", Shape{2, 3, 4, 4})).empty());
}

TEST_CASE_FIXTURE(GpuTest, "graph/eval_grad: Vulkan matches the CPU for every subset of the gradients") {
    struct Case {
        const char* what;
        Shape x;
        Wanted want;
    };
    const Case cases[] = {
        {"all", Shape{3, kCin, 5, 5}, {}},
        {"bn.bias alone", Shape{3, kCin, 5, 5}, {.conv = false, .bn_weight = false, .bn_bias = true, .x = false}},
        {"bn.weight alone", Shape{1, kCin, 1, 1}, {.conv = false, .bn_weight = true, .bn_bias = false, .x = false}},
        {"x alone (saliency)", Shape{1, kCin, 17, 17}, {.conv = false, .bn_weight = false, .bn_bias = false, .x = true}},
        // N*H*W = 8192: the sums take the two-stage path.
        {"all, chunked", Shape{8, kCin, 32, 32}, {}},
    };
    cpu::ThreadPool pool(2);
    uint32_t seed = 40;
    for (const Case& c : cases) {
        CAPTURE(c.what);
        const graph::Graph g = build(c.x, c.want);
        exec::CpuProgram cpu_prog(graph::compile(g), pool);
        exec::VulkanProgram fast(dev, graph::compile(g));
        exec::VulkanProgram debug(dev, graph::compile(g, {.in_place = false}), {.debug_schedule = true});
        const Feeds f = feeds(c.x, seed += 10);
        write_all(cpu_prog, f);
        write_all(fast, f);
        write_all(debug, f);
        cpu_prog.run();
        fast.run();
        debug.run();
        std::vector<std::string> names = {"act"};
        if (c.want.x) names.push_back("x.grad");
        if (c.want.conv) names.insert(names.end(), {"conv.weight.grad", "conv.bias.grad"});
        if (c.want.bn_weight) names.push_back("bn.weight.grad");
        if (c.want.bn_bias) names.push_back("bn.bias.grad");
        for (const std::string& name : names) {
            const auto got = fast.read(name);
            check_bitwise_equal(debug.read(name), got, name + ": debug vs optimised schedule");
            check_allclose(got, cpu_prog.read(name), 1e-5, 2e-4, name + ": vulkan vs cpu");
        }
    }
}
