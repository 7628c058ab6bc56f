// Layers one by one: ConvTranspose2d's state names, shapes and default
// initialisation as torch.nn.ConvTranspose2d's (fan_in from the weight's
// second dimension, out / groups * k * k, not from in_channels).
#include "vkcnn/nn/layers.h"
#include "vkcnn/nn/trainer.h"

#include <doctest/doctest.h>

#include <cmath>
#include <map>

using namespace vkcnn;

TEST_CASE("nn/layers: ConvTranspose2d state names, shapes and default initialisation as PyTorch's") {
    graph::Graph g;
    nn::BuildContext ctx(g, true);
    const auto x = g.input("x", Shape{2, 8, 5, 5});
    // Sequential names its children "0", "1": torch's state_dict keys.
    const nn::Sequential net(
        nn::ConvTranspose2d(8, 6, 3, {.stride = 2, .padding = 1, .output_padding = 1, .groups = 2}),
        nn::ConvTranspose2d(6, 4, 2, {.bias = false}));
    // (5 - 1) * 2 - 2 + 2 + 1 + 1 = 10, then 10 + 1 = 11.
    CHECK(g.value(net.forward(ctx, x)).shape == Shape{2, 4, 11, 11});
    {
        // in_channels far from out / groups * k * k: a fan_in taken from
        // in_channels would show in the bound.
        nn::BuildContext::Scope scope(ctx, "2");
        nn::ConvTranspose2d(64, 16, 4).forward(ctx, g.input("wide", Shape{1, 64, 3, 3}));
    }

    std::map<std::string, Shape> shapes;
    std::map<std::string, float> bounds;
    for (const nn::StateSpec& s : ctx.state()) {
        shapes[s.name] = s.shape;
        CHECK(s.init.kind == nn::Init::Uniform);
        bounds[s.name] = s.init.value;
    }
    const std::map<std::string, Shape> want{{"0.weight", Shape{8, 3, 3, 3}}, {"0.bias", Shape{6}},
                                            {"1.weight", Shape{6, 4, 2, 2}}, {"2.weight", Shape{64, 16, 4, 4}},
                                            {"2.bias", Shape{16}}};
    CHECK(shapes == want);
    // fan_in = weight.size(1) * kH * kW: 3 * 9, 4 * 4, 16 * 16.
    const std::map<std::string, double> fan_in{{"0.weight", 27}, {"0.bias", 27}, {"1.weight", 16},
                                               {"2.weight", 256}, {"2.bias", 256}};
    for (const auto& entry : bounds) { // not a structured binding: INFO captures it, which clang 14 refuses
        const std::string& name = entry.first;
        const float bound = entry.second;
        INFO(name);
        CHECK(bound == doctest::Approx(1.0 / std::sqrt(fan_in.at(name))));
    }

    // The drawn values: within the bound, and U(-b, b)'s standard deviation b / sqrt(3).
    const nn::StateDict state = nn::initial_state(ctx.state(), 7);
    for (const auto& entry : state) {
        const std::string& name = entry.first;
        const std::vector<float>& values = entry.second;
        const double bound = 1.0 / std::sqrt(fan_in.at(name));
        double sq = 0, max_abs = 0;
        for (float v : values) {
            sq += double{v} * v;
            max_abs = std::max(max_abs, double{std::abs(v)});
        }
        INFO(name);
        CHECK(max_abs <= bound);
        if (values.size() >= 400)
            CHECK(std::sqrt(sq / static_cast<double>(values.size())) ==
                  doctest::Approx(bound / std::sqrt(3.0)).epsilon(0.1));
    }

    CHECK_THROWS_WITH(nn::ConvTranspose2d(6, 4, 3, {.groups = 4}),
                      doctest::Contains("ConvTranspose2d(6, 4): channels are not divisible by groups 4"));
    // Attributes the op rejects name the layer's node.
    graph::Graph bad;
    nn::BuildContext bad_ctx(bad, true);
    const auto bx = bad.input("x", Shape{1, 2, 4, 4});
    const nn::Sequential bad_net(nn::ConvTranspose2d(2, 2, 3, {.output_padding = 1}));
    CHECK_THROWS_WITH(bad_net.forward(bad_ctx, bx), doctest::Contains("node '0' (conv_transpose2d)"));
}
