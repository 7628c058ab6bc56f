// Decoder ops in the graph: conv_transpose2d and concat (a U-Net's
// upsampling and skip connection). Autodiff matches central finite
// differences; the Vulkan program matches the CPU program, and its optimised
// schedule the debug one bit for bit, for that graph and for an
// encoder-decoder trained with mse_loss; bad shapes name the node.
#include "vkcnn/exec/cpu_program.h"
#include "vkcnn/exec/vulkan_program.h"
#include "vkcnn/graph/lowering.h"
#include "vkcnn/graph/work.h"

#include "support/compare.h"
#include "support/program_gradcheck.h"
#include "support/gpu.h"

#include <doctest/doctest.h>

#include <map>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

using Feeds = std::map<std::string, std::vector<float>>;

template <typename Program>
void write_all(Program& prog, const Feeds& f) {
    for (const auto& [name, data] : f) prog.write(name, data);
}

Feeds random_feeds(const graph::Graph& g, std::initializer_list<const char*> names, uint32_t seed) {
    Feeds f;
    for (const char* name : names)
        f[name] = uniform(static_cast<size_t>(g.value(*g.find(name)).shape.elements()), seed++, -1.0f, 1.0f);
    return f;
}

// y = conv_transpose2d(concat(t, s, t), w2), t = tanh(conv_transpose2d(x, w1, b1)):
// stride 2 with padding and output padding, then groups and dilation without
// bias; t used twice, so concat's gradients are summed.
graph::Graph build_decoder() {
    graph::Graph g;
    const auto x = g.input("x", Shape{2, 4, 5, 5}), s = g.input("s", Shape{2, 2, 10, 10});
    const auto w1 = g.parameter("up1.weight", Shape{4, 3, 3, 3}), b1 = g.parameter("up1.bias", Shape{3});
    const auto w2 = g.parameter("up2.weight", Shape{8, 1, 2, 2});
    ops::ConvTranspose2dAttrs a1;
    a1.stride_h = a1.stride_w = 2;
    a1.output_padding_h = a1.output_padding_w = 1;
    a1.pad(1, 1); // (5 - 1) * 2 - 2 + 2 + 1 + 1 = 10
    const auto t = g.tanh(g.conv_transpose2d(x, w1, b1, a1, "up1"), "act1");
    const auto cat = g.concat({t, s, t}, "cat"); // (2, 8, 10, 10)
    ops::ConvTranspose2dAttrs a2;
    a2.groups = 2;
    a2.dilation_h = a2.dilation_w = 2; // 9 + 2 + 1 = 12
    const auto y = g.conv_transpose2d(cat, w2, std::nullopt, a2, "y");
    const graph::ValueId wrt[] = {x, s};
    g.backward(y, wrt, g.input("dy", Shape{2, 2, 12, 12}));
    return g;
}

// An encoder-decoder with a skip from the input: conv2d stride 2 -> relu ->
// conv_transpose2d stride 2 -> concat with x -> conv2d 1x1 -> mse_loss. Only
// the parameters get gradients, so concat's backward leaves out x's.
graph::Graph build_unet() {
    graph::Graph g;
    const auto x = g.input("x", Shape{2, 3, 64, 64}), target = g.input("target", Shape{2, 3, 64, 64});
    const auto w1 = g.parameter("down.weight", Shape{4, 3, 3, 3}), b1 = g.parameter("down.bias", Shape{4});
    const auto w2 = g.parameter("up.weight", Shape{4, 4, 2, 2}), b2 = g.parameter("up.bias", Shape{4});
    const auto w3 = g.parameter("head.weight", Shape{3, 7, 1, 1}), b3 = g.parameter("head.bias", Shape{3});
    ops::Conv2dAttrs down;
    down.stride_h = down.stride_w = 2;
    down.pad(1, 1);
    const auto h = g.relu(g.conv2d(x, w1, b1, down, "down"), "act"); // (2, 4, 32, 32)
    ops::ConvTranspose2dAttrs up;
    up.stride_h = up.stride_w = 2;
    const auto u = g.conv_transpose2d(h, w2, b2, up, "up"); // (2, 4, 64, 64)
    const auto cat = g.concat({u, x}, "cat");                // (2, 7, 64, 64)
    const auto y = g.conv2d(cat, w3, b3, {}, "head");
    g.mark_output(y);
    g.backward(g.mse_loss(y, target, "loss"));
    return g;
}

const char* const kUnetParams[] = {"down.weight", "down.bias", "up.weight", "up.bias", "head.weight", "head.bias"};

} // namespace

TEST_CASE("graph/decoder: autodiff through conv_transpose2d and concat matches finite differences") {
    cpu::ThreadPool pool(2);
    const graph::Graph g = build_decoder();
    exec::CpuProgram prog(graph::compile(g), pool);
    Feeds f = random_feeds(g, {"x", "s", "dy", "up1.weight", "up1.bias", "up2.weight"}, 21);
    write_all(prog, f);
    const size_t checked = check_program_gradients(prog, f, {"x", "s", "up1.weight", "up1.bias", "up2.weight"});
    MESSAGE(checked << " gradient elements checked");
}

TEST_CASE_FIXTURE(GpuTest, "graph/decoder: an encoder-decoder with a skip runs the same on Vulkan and the CPU") {
    const graph::Graph g = build_unet();
    // The transposed convolution's weight gradient (4, 4, 2, 2) fills one
    // workgroup, its reduction runs over 2 * 32 * 32 positions: it takes the
    // split path, partials in scratch summed by a second launch.
    size_t backward_nodes = 0;
    for (size_t i = 0; i < g.node_count(); ++i)
        if (g.node(i).op == graph::Op::conv_transpose2d_backward) {
            ++backward_nodes;
            const auto lowered = graph::lower_for_gpu(g, g.node(i), dev.quirks().gemm);
            CHECK(lowered.temp_bytes.size() == 1);
            CHECK(lowered.kernels.size() == 4); // dx, dweight's partials and sum, dbias
            CHECK(graph::estimated_flops(g, g.node(i)) > 2.0 * 2 * 4 * 32 * 32 * 16);
        }
    CHECK(backward_nodes == 1);
    cpu::ThreadPool pool(2);
    exec::CpuProgram cpu_prog(graph::compile(build_unet()), pool);
    exec::VulkanProgram fast(dev, graph::compile(build_unet()));
    exec::VulkanProgram debug(dev, graph::compile(build_unet(), {.in_place = false}), {.debug_schedule = true});
    Feeds f = random_feeds(g, {"x", "target", "down.weight", "down.bias", "up.weight", "up.bias", "head.weight",
                               "head.bias"},
                           3);
    write_all(cpu_prog, f);
    write_all(fast, f);
    write_all(debug, f);
    cpu_prog.run();
    fast.run();
    debug.run();
    std::vector<std::string> names = {"head", "loss"};
    for (const char* name : kUnetParams) names.push_back(std::string(name) + ".grad");
    for (const std::string& name : names) {
        const auto v = fast.read(name);
        check_bitwise_equal(debug.read(name), v, name + ": debug vs optimised schedule");
        check_allclose(v, cpu_prog.read(name), 1e-5, 2e-4, name + ": vulkan vs cpu");
    }
    CHECK(!g.find("x.grad")); // concat's backward computed no gradient for the input
}

TEST_CASE_FIXTURE(GpuTest, "graph/decoder: groups, dilation, output padding and a value concatenated twice on Vulkan") {
    const graph::Graph g = build_decoder();
    cpu::ThreadPool pool(2);
    exec::CpuProgram cpu_prog(graph::compile(build_decoder()), pool);
    exec::VulkanProgram fast(dev, graph::compile(build_decoder()));
    exec::VulkanProgram debug(dev, graph::compile(build_decoder(), {.in_place = false}), {.debug_schedule = true});
    const Feeds f = random_feeds(g, {"x", "s", "dy", "up1.weight", "up1.bias", "up2.weight"}, 9);
    write_all(cpu_prog, f);
    write_all(fast, f);
    write_all(debug, f);
    cpu_prog.run();
    fast.run();
    debug.run();
    for (std::string name : {"y", "x.grad", "s.grad", "up1.weight.grad", "up1.bias.grad", "up2.weight.grad"}) {
        const auto v = fast.read(name);
        check_bitwise_equal(debug.read(name), v, name + ": debug vs optimised schedule");
        check_allclose(v, cpu_prog.read(name), 1e-5, 2e-4, name + ": vulkan vs cpu");
    }
}

TEST_CASE("graph/decoder: bad shapes name the node and its inputs") {
    graph::Graph g;
    const auto x = g.input("x", Shape{2, 3, 8, 8});
    const auto w = g.parameter("w", Shape{4, 2, 3, 3}); // expects 4 input channels
    CHECK_THROWS_WITH(g.conv_transpose2d(x, w, std::nullopt, {}, "up"),
                      doctest::Contains("node 'up' (conv_transpose2d): conv_transpose2d: input has 3 channels, "
                                        "weight expects 4"));
    CHECK_THROWS_WITH(g.conv_transpose2d(x, w, std::nullopt, {}, "up"), doctest::Contains("'x' (2, 3, 8, 8)"));
    const auto w3 = g.parameter("w3", Shape{3, 2, 3, 3});
    const auto bad_bias = g.parameter("b", Shape{3});
    CHECK_THROWS_WITH(g.conv_transpose2d(x, w3, bad_bias, {}, "up_b"),
                      doctest::Contains("node 'up_b' (conv_transpose2d): bias 'b' has shape (3,), expected (2,)"));
    ops::ConvTranspose2dAttrs too_much;
    too_much.output_padding_h = 1; // not below stride 1 or dilation 1
    CHECK_THROWS_WITH(g.conv_transpose2d(x, w3, std::nullopt, too_much, "up_op"),
                      doctest::Contains("node 'up_op' (conv_transpose2d): conv_transpose2d: output_padding 1x0"));

    const auto other = g.input("other", Shape{2, 5, 4, 8});
    CHECK_THROWS_WITH(g.concat({x, other}, "cat"),
                      doctest::Contains("node 'cat' (concat): concat: input 1 (2, 5, 4, 8) and input 0 (2, 3, 8, 8) "
                                        "differ outside the channel dimension"));
    const auto flat = g.input("flat", Shape{2, 12});
    CHECK_THROWS_WITH(g.concat({x, flat}, "cat2"), doctest::Contains("node 'cat2' (concat): input 'flat' (2, 12) is not 4-D"));
    CHECK_THROWS_WITH(g.concat({}, "cat3"), doctest::Contains("node 'cat3' (concat): concat: no inputs"));
}
