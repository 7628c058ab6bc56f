// Whole training steps as one Program: forward, loss, accuracy, backward and
// optimizer updates in place, replayed with only the batch and the step
// scalars changing. SGD's first step is exactly p - lr * grad; a small CNN
// with batch norm and Adam learns a synthetic task, one submit per step, and
// the optimised schedule stays bitwise equal to the debug schedule.
#include "vkcnn/exec/cpu_program.h"
#include "vkcnn/exec/vulkan_program.h"

#include "support/compare.h"
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

// Logistic regression on 4 features, 3 classes, batch 8, plain SGD.
graph::Graph linear_classifier(const ops::SgdAttrs& sgd) {
    graph::Graph g;
    const auto x = g.input("x", Shape{8, 4}), labels = g.input("labels", Shape{8}, DType::I32);
    const auto scalars = g.input("sgd.scalars", Shape{4});
    const auto w = g.parameter("fc.weight", Shape{3, 4}), b = g.parameter("fc.bias", Shape{3});
    const auto loss = g.cross_entropy(g.linear(x, w, b, "fc"), labels, {}, "loss");
    const auto grads = g.backward(loss);
    for (const auto& [param, grad] : grads) g.sgd_step(param, grad, scalars, sgd);
    return g;
}

// A blob in one of four quadrants of a 12x12 image; the label is the quadrant.
void synthetic_batch(uint32_t seed, std::vector<float>& images, std::vector<int32_t>& labels) {
    const size_t n = labels.size();
    const std::vector<float> noise = uniform(n * 144, seed, -0.3f, 0.3f);
    const std::vector<float> pick = uniform(n, seed + 1, 0.0f, 4.0f);
    images.assign(n * 144, 0.0f);
    for (size_t i = 0; i < n; ++i) {
        labels[i] = std::min(3, static_cast<int32_t>(pick[i]));
        const int oy = labels[i] / 2 * 6, ox = labels[i] % 2 * 6;
        for (int y = 0; y < 12; ++y)
            for (int x = 0; x < 12; ++x) {
                const bool blob = y >= oy + 1 && y < oy + 5 && x >= ox + 1 && x < ox + 5;
                images[i * 144 + y * 12 + x] = (blob ? 1.0f : 0.0f) + noise[i * 144 + y * 12 + x];
            }
    }
}

constexpr int64_t kBatch = 16;

graph::Graph small_cnn(const ops::AdamAttrs& adam) {
    graph::Graph g;
    const auto x = g.input("x", Shape{kBatch, 1, 12, 12}), labels = g.input("labels", Shape{kBatch}, DType::I32);
    const auto scalars = g.input("adam.scalars", Shape{4});
    const auto w1 = g.parameter("conv1.weight", Shape{4, 1, 3, 3}), b1 = g.parameter("conv1.bias", Shape{4});
    const auto gamma = g.parameter("bn1.weight", Shape{4}), beta = g.parameter("bn1.bias", Shape{4});
    const auto mean = g.running_stat("bn1.running_mean", Shape{4}), var = g.running_stat("bn1.running_var", Shape{4});
    const auto w2 = g.parameter("fc.weight", Shape{4, 100}), b2 = g.parameter("fc.bias", Shape{4});
    auto h = g.conv2d(x, w1, b1, {}, "conv1"); // (16, 4, 10, 10)
    h = g.relu(g.batch_norm2d(h, gamma, beta, mean, var, true, {}, "bn1"), "relu1");
    h = g.flatten(g.max_pool2d(h, {.kernel = {2, 2}}, "pool1"), "flat"); // (16, 100)
    const auto logits = g.linear(h, w2, b2, "fc");
    const auto loss = g.cross_entropy(logits, labels, {}, "loss");
    g.mark_output(g.accuracy(logits, labels, "correct"));
    for (const auto& [param, grad] : g.backward(loss)) g.adam_step(param, grad, scalars, adam);
    return g;
}

Feeds cnn_weights() {
    return {{"conv1.weight", uniform(36, 1, -0.33f, 0.33f)}, {"conv1.bias", uniform(4, 2, -0.3f, 0.3f)},
            {"bn1.weight", std::vector<float>(4, 1.0f)},    {"bn1.bias", std::vector<float>(4, 0.0f)},
            {"bn1.running_var", std::vector<float>(4, 1.0f)}, {"fc.weight", uniform(400, 3, -0.1f, 0.1f)},
            {"fc.bias", uniform(4, 4, -0.1f, 0.1f)}};
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "graph/training: an SGD step is p - lr * grad, in place, on both executors") {
    const ops::SgdAttrs sgd{.lr = 0.5};
    cpu::ThreadPool pool(2);
    exec::CpuProgram cpu_prog(graph::compile(linear_classifier(sgd)), pool);
    exec::VulkanProgram gpu(dev, graph::compile(linear_classifier(sgd)));
    const Feeds f{{"x", uniform(32, 1)}, {"fc.weight", uniform(12, 2)}, {"fc.bias", uniform(3, 3)}};
    const std::vector<int32_t> labels{0, 1, 2, 0, 1, 2, 2, 1};
    const ops::StepScalars scalars = ops::sgd_step_scalars(sgd, 1);
    write_all(cpu_prog, f);
    write_all(gpu, f);
    cpu_prog.write("labels", labels);
    gpu.write("labels", labels);
    cpu_prog.write("sgd.scalars", scalars);
    gpu.write("sgd.scalars", scalars);
    cpu_prog.run();
    gpu.run();

    for (std::string name : {"fc.weight", "fc.bias"}) {
        const auto grad = cpu_prog.read(name + ".grad"), after = cpu_prog.read(name);
        const std::vector<float>& before = f.at(name);
        std::vector<float> want(before.size());
        for (size_t i = 0; i < want.size(); ++i) want[i] = before[i] - scalars[0] * grad[i];
        check_bitwise_equal(after, want, name + ": CPU step");
        check_allclose(gpu.read(name), after, 1e-6, 1e-5, name + ": vulkan vs cpu");
    }
    check_allclose(gpu.read("loss"), cpu_prog.read("loss"), 1e-6, 1e-5, "loss");
    CHECK_THROWS_WITH(cpu_prog.write("labels", std::vector<float>(8)), doctest::Contains("as f32: it holds i32"));
}

TEST_CASE_FIXTURE(GpuTest, "graph/training: SGD with nesterov momentum and weight decay agrees across executors") {
    const ops::SgdAttrs sgd{.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-2, .nesterov = true};
    cpu::ThreadPool pool(2);
    exec::CpuProgram cpu_prog(graph::compile(linear_classifier(sgd)), pool);
    exec::VulkanProgram gpu(dev, graph::compile(linear_classifier(sgd)));
    const Feeds f{{"x", uniform(32, 1)}, {"fc.weight", uniform(12, 2)}, {"fc.bias", uniform(3, 3)}};
    const std::vector<int32_t> labels{0, 1, 2, 0, 1, 2, 2, 1};
    write_all(cpu_prog, f);
    write_all(gpu, f);
    cpu_prog.write("labels", labels);
    gpu.write("labels", labels);
    for (uint64_t t = 1; t <= 3; ++t) {
        cpu_prog.write("sgd.scalars", ops::sgd_step_scalars(sgd, t));
        gpu.write("sgd.scalars", ops::sgd_step_scalars(sgd, t));
        cpu_prog.run();
        gpu.run();
    }
    for (std::string name : {"fc.weight", "fc.bias", "fc.weight.momentum_buffer", "fc.bias.momentum_buffer", "loss"})
        check_allclose(gpu.read(name), cpu_prog.read(name), 1e-6, 1e-5, name + ": vulkan vs cpu");
}

TEST_CASE_FIXTURE(GpuTest, "graph/training: a CNN with batch norm learns with Adam, one submit per step, schedules bitwise equal") {
    const ops::AdamAttrs adam{.lr = 1e-2};
    cpu::ThreadPool pool(2);
    exec::CpuProgram cpu_prog(graph::compile(small_cnn(adam)), pool);
    exec::VulkanProgram fast(dev, graph::compile(small_cnn(adam)));
    exec::VulkanProgram debug(dev, graph::compile(small_cnn(adam), {.in_place = false}), {.debug_schedule = true});
    // The same step in command buffers of at most a quarter of its estimated work.
    exec::VulkanProgram split(dev, graph::compile(small_cnn(adam)), {.max_segment_flops = fast.step_flops() / 4});
    MESSAGE("segments of at most a quarter of " << fast.step_flops() << " FLOPs: " << split.segment_count());
    CHECK(split.segment_count() >= 4);
    const auto& s = fast.stats();
    MESSAGE("dispatches " << s.dispatches << ", barriers per step " << s.barriers << ", arena " << s.arena_bytes
                          << " bytes vs naive " << s.naive_bytes);
    CHECK(s.barriers < s.dispatches);
    // Measured 52% (relu in place over batch norm's output, its backward over
    // max-pool's dx): a guard against regressions in the planner.
    CHECK(s.arena_bytes * 100 <= s.naive_bytes * 55);

    write_all(cpu_prog, cnn_weights());
    write_all(fast, cnn_weights());
    write_all(debug, cnn_weights());
    write_all(split, cnn_weights());
    std::vector<float> images;
    std::vector<int32_t> labels(kBatch);
    std::vector<float> losses;
    int32_t last_correct = 0;
    constexpr int kSteps = 20;
    for (int step = 1; step <= kSteps; ++step) {
        synthetic_batch(100 + step % 4, images, labels); // four batches in turn
        const ops::StepScalars scalars = ops::adam_step_scalars(adam, static_cast<uint64_t>(step));
        cpu_prog.write("x", images);
        cpu_prog.write("labels", labels);
        cpu_prog.write("adam.scalars", scalars);
        for (exec::VulkanProgram* p : {&fast, &debug, &split}) {
            p->write("x", images);
            p->write("labels", labels);
            p->write("adam.scalars", scalars);
            p->run();
        }
        cpu_prog.run();
        const float loss = fast.read("loss")[0];
        losses.push_back(loss);
        check_bitwise_equal(debug.read("loss"), fast.read("loss"), "loss, debug vs optimised schedule");
        check_bitwise_equal(split.read("loss"), fast.read("loss"), "loss, split into segments vs one command buffer");
        if (step <= 5) { // later, rounding differences have had time to grow
            INFO("step " << step);
            CHECK(std::abs(loss - cpu_prog.read("loss")[0]) <= 1e-3 * std::abs(loss));
        }
        last_correct = fast.read_i32("correct")[0];
    }
    MESSAGE("loss " << losses.front() << " -> " << losses.back() << ", last batch " << last_correct << "/" << kBatch);
    CHECK(losses.back() < 0.5f * losses.front());
    CHECK(last_correct >= kBatch * 3 / 4);
    CHECK(fast.submit_count() == kSteps);
    CHECK(split.submit_count() == kSteps); // all segments in one vkQueueSubmit
    for (std::string name : {"conv1.weight", "bn1.running_mean", "bn1.running_var", "fc.weight", "fc.bias",
                             "fc.weight.exp_avg", "fc.weight.exp_avg_sq"}) {
        check_bitwise_equal(debug.read(name), fast.read(name), name + ": debug vs optimised after 20 steps");
        check_bitwise_equal(split.read(name), fast.read(name), name + ": split vs one command buffer after 20 steps");
    }
}

TEST_CASE("graph/training: augment sits on the input, no gradient through it, bad inputs named") {
    graph::Graph g;
    const auto x = g.input("x", Shape{2, 1, 8, 8}), key = g.input("augment.key", Shape{2}, DType::I32);
    const ops::AugmentAttrs attrs{10.0f, 0.1f, 1.0f, 0.0f, 0};
    CHECK(g.value(g.augment(x, key, attrs, "aug")).shape == Shape{2, 1, 8, 8});
    CHECK_THROWS_WITH(g.augment(g.input("flat", Shape{2, 64}), key, attrs),
                      doctest::Contains("'flat' (2, 64) f32 is not an f32 batch of images (N, C, H, W)"));
    CHECK_THROWS_WITH(g.augment(x, g.input("k3", Shape{3}, DType::I32), attrs),
                      doctest::Contains("key 'k3' (3,) i32 is not the (2,) i32 Philox key"));
    CHECK_THROWS_WITH(g.augment(x, key, {.max_degrees = 200.0f}), doctest::Contains("max_degrees has to be in [0, 180]"));
    // Training needs no gradient through it (nothing trained comes before);
    // asking for the input's gradient names the node.
    for (const bool wrt_input : {false, true}) {
        graph::Graph t;
        const auto tx = t.input("x", Shape{2, 1, 8, 8}), tkey = t.input("augment.key", Shape{2}, DType::I32);
        const auto w = t.parameter("fc.weight", Shape{3, 64});
        const auto logits = t.linear(t.flatten(t.augment(tx, tkey, attrs, "aug")), w);
        const auto loss = t.mse_loss(logits, t.fill(Shape{2, 3}, 0.0f));
        if (!wrt_input) CHECK(t.backward(loss).size() == 1);
        else CHECK_THROWS_WITH(t.backward(loss, std::vector<graph::ValueId>{tx}),
                               doctest::Contains("a gradient must flow through node 'aug' (augment)"));
    }
}

TEST_CASE("graph/training: optimizer steps added for parameters created long before, as values_ grows") {
    // sgd_step / adam_step once held a reference to the parameter's name across
    // the calls that append their state to the graph's values: each of these
    // appends reallocates values_ now and then, and the name read afterwards
    // was freed memory (seen as std::bad_alloc or a crash; ASan in CI).
    for (const bool adam : {false, true}) {
        graph::Graph g;
        constexpr int kParams = 200;
        std::vector<graph::ValueId> params, grads;
        for (int i = 0; i < kParams; ++i)
            params.push_back(g.parameter(cat("layer", i, ".a_parameter_name_too_long_for_small_strings"), Shape{3}));
        for (int i = 0; i < kParams; ++i) grads.push_back(g.input(cat("grad", i), Shape{3}));
        const auto scalars = g.input("optimizer.scalars", Shape{4});
        for (int i = 0; i < kParams; ++i) {
            if (adam) g.adam_step(params[i], grads[i], scalars, ops::AdamAttrs{});
            else g.sgd_step(params[i], grads[i], scalars, ops::SgdAttrs{.lr = 0.1f, .momentum = 0.9f});
        }
        for (int i = 0; i < kParams; ++i) {
            const std::string p = cat("layer", i, ".a_parameter_name_too_long_for_small_strings");
            INFO(p);
            for (const char* state : adam ? std::vector<const char*>{".exp_avg", ".exp_avg_sq"}
                                          : std::vector<const char*>{".momentum_buffer"})
                CHECK(g.find(p + state).has_value());
            CHECK(g.node(static_cast<size_t>(i)).name == p + (adam ? ".adam_step" : ".sgd_step"));
        }
    }
}
