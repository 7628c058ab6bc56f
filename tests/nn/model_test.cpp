// One model state shared by every program: prediction and evaluation on the
// live weights while a Trainer trains (bitwise those of a fresh program
// loaded with the same state, no parameter crossing the host), layers read
// by path, snapshots that later steps leave alone, checkpoints without a
// Trainer, gradients w.r.t. the input, the losses and the learning rate,
// and a Trainer driven by a host application on its own VkDevice.
#include "vkcnn/exec/vulkan_colormap.h"
#include "vkcnn/exec/vulkan_program.h"
#include "vkcnn/nn/checkpoint.h"
#include "vkcnn/nn/models.h"
#include "vkcnn/nn/trainer.h"

#include "support/compare.h"
#include "support/files.h"
#include "support/gpu.h"
#include "../vulkan/host_app.h"

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

std::vector<int32_t> labels_for(size_t n, uint32_t step) {
    std::vector<int32_t> labels(n);
    for (size_t i = 0; i < n; ++i) labels[i] = static_cast<int32_t>((i * 7 + step) % 10);
    return labels;
}

// Conv, a residual block (paths "1.body.0", "1.body.1") and a classifier: small, but nested.
nn::Sequential small_net() {
    return nn::Sequential(nn::Conv2d(1, 4, 3, {.padding = 1}),
                          nn::Residual(nn::Sequential(nn::Conv2d(4, 4, 3, {.padding = 1}), nn::ReLU())),
                          nn::MaxPool2d(4), nn::Flatten(), nn::Linear(4 * 7 * 7, 10));
}

uint64_t parameter_bytes(const nn::Model& m) {
    uint64_t bytes = 0;
    for (const nn::StateSpec& s : m.parameters()) bytes += static_cast<uint64_t>(s.shape.elements()) * 4;
    return bytes;
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "nn/model: predict and evaluate during training use the live weights bitwise and move no parameter") {
    cpu::ThreadPool pool(2);
    for (Device* device : {&dev, static_cast<Device*>(nullptr)}) {
        CAPTURE(device != nullptr);
        nn::Model model(nn::lenet5(), {.seed = 1}, device, &pool);
        nn::Trainer trainer(model, {.batch = 8});
        const auto images = uniform(4 * 784, 9);
        for (uint32_t step = 1; step <= 3; ++step) trainer.start_step(uniform(8 * 784, step), labels_for(8, step));
        trainer.flush();
        model.predict(images, 4); // compiles the evaluation program at batch 4 (nothing is copied for that either)

        trainer.start_step(uniform(8 * 784, 4), labels_for(8, 4)); // step 4, in flight
        if (device) device->reset_transfer_stats();
        const std::vector<float> logits = model.predict(images, 4); // ordered after step 4 on the queue
        const data::Dataset ds(1, 28, 28, 10, uniform(16 * 784, 11), labels_for(16, 0));
        const nn::EvalResult eval = model.evaluate(ds, 8);
        if (device) {
            const TransferStats moved = device->transfer_stats();
            MESSAGE("predict 4 + evaluate 16 images: " << moved.uploaded << " bytes up, " << moved.downloaded
                                                       << " down; the parameters are " << parameter_bytes(model));
            // The images and labels go up, scores and counts come down: far less than the parameters.
            CHECK(moved.uploaded < (20 * 784 + 20) * 4 + 3 * 256);
            CHECK(moved.downloaded < 4 * 10 * 4 + 2 * 8 * 4 + 4 * 256);
            CHECK(moved.uploaded + moved.downloaded < parameter_bytes(model) / 2);
        }
        trainer.flush();

        // A fresh model given the state at step 4: the same bits.
        nn::Model fresh(nn::lenet5(), {.seed = 99}, device, &pool);
        fresh.load_weights(model.weights());
        auto program = fresh.program({.batch = 4});
        program->set_input(images);
        program->run();
        check_bitwise_equal(logits, program->output(), "predict after step 4 vs a fresh program of the state at step 4");
        CHECK(fresh.evaluate(ds, 8).loss == eval.loss);
        CHECK(fresh.evaluate(ds, 8).correct == eval.correct);
    }
}

TEST_CASE_FIXTURE(GpuTest, "nn/model: layers read by path equal the CPU backend's and a snapshot stays as its step left it") {
    cpu::ThreadPool pool(2);
    nn::Model gpu(small_net(), {.seed = 3}, dev), cpu(small_net(), {.seed = 3}, pool);
    std::vector<std::string> paths;
    for (const nn::LayerInfo& l : gpu.layers()) paths.push_back(l.path);
    CHECK(paths == std::vector<std::string>{"0", "1.body.0", "1.body.1", "1.body", "1", "2", "3", "4"});
    CHECK(gpu.layers()[1].shape == Shape{1, 4, 28, 28});

    const std::vector<std::string> keep{"0", "1.body.0", "1", "3"};
    auto on_gpu = gpu.program({.batch = 2, .keep = keep}), on_cpu = cpu.program({.batch = 2, .keep = keep});
    const auto images = uniform(2 * 784, 5);
    on_gpu->set_input(images);
    on_cpu->set_input(images);
    on_gpu->run();
    on_cpu->run();
    for (const std::string& path : keep) check_allclose(on_gpu->activation(path), on_cpu->activation(path), 1e-5, 1e-5, path);
    CHECK(on_gpu->shape("3") == Shape{2, 196});
    auto plain = cpu.program({.batch = 2});
    plain->set_input(images);
    plain->run();
    CHECK_THROWS_WITH(plain->activation("1.body.0"), doctest::Contains("layer '1.body.0' is not kept: name it in ProgramOptions::keep"));
    CHECK_THROWS_WITH(gpu.program({.keep = {"9"}}), doctest::Contains("'9', which is not a layer of the model (input, 0, 1.body.0"));

    // Snapshots of the training step's kept layer and a weight, taken at
    // step 2 while it runs; steps 3 and 4 run on; the snapshot keeps step 2.
    nn::Trainer trainer(gpu, {.batch = 4, .keep = {"1"}});
    nn::Model twin_model(small_net(), {.seed = 3}, dev);
    nn::Trainer twin(twin_model, {.batch = 4, .keep = {"1"}}); // the same steps, read synchronously
    const std::vector<std::string> names{"1", "0.weight"};
    auto snapshot = trainer.snapshot(names);
    std::vector<float> want_layer, want_weight;
    for (uint32_t step = 1; step <= 4; ++step) {
        const auto x = uniform(4 * 784, 20 + step);
        trainer.start_step(x, labels_for(4, step));
        twin.step(x, labels_for(4, step));
        if (step == 2) {
            snapshot->take(); // queued behind step 2, which is still in flight
            want_layer = twin.activation("1");
            want_weight = twin_model.state().read("0.weight");
        }
    }
    check_bitwise_equal(snapshot->read("1"), want_layer, "snapshot of layer 1 at step 2, read during steps 3-4");
    check_bitwise_equal(snapshot->read("0.weight"), want_weight, "snapshot of 0.weight at step 2");
    trainer.flush();
    CHECK(trainer.activation("1") != want_layer);
    CHECK(gpu.state().read("0.weight") != want_weight);
    check_bitwise_equal(snapshot->read("1"), want_layer, "the snapshot, after step 4");
    CHECK(snapshot->takes() == 1);
    auto* device_snapshot = dynamic_cast<exec::VulkanSnapshot*>(snapshot.get());
    REQUIRE(device_snapshot != nullptr);
    CHECK(device_snapshot->buffer_of("1").size == 4 * 4 * 28 * 28 * 4); // what a renderer binds

    // Drawn as RGBA8 on the device straight from the snapshot: the CPU backend's bytes.
    const std::vector<int64_t> dims{4, 4, 28, 28};
    for (const ops::ColormapAttrs attrs : {ops::ColormapAttrs{}, ops::ColormapAttrs{.map = ops::Colormap::Sequential,
                                                                                    .norm = ops::Normalize::MinMax,
                                                                                    .per_tile = false}}) {
        exec::VulkanColormap image(dev, device_snapshot->buffer_of("1"), dims, attrs);
        image.submit();
        std::vector<uint32_t> want(image.geometry().pixels());
        ops::colormap_cpu(pool, ops::colormap_shape(dims), attrs, want_layer, want);
        CHECK(image.read() == want);
    }
}

TEST_CASE("nn/model: a checkpoint loads without a Trainer from a file or from memory and mismatches name the tensor") {
    cpu::ThreadPool pool(2);
    const TempDir dir;
    const std::string path = (dir.path / "trained.safetensors").string();
    nn::Model trained(nn::lenet5(), {.seed = 4}, pool);
    {
        nn::Trainer trainer(trained, {.batch = 4, .optimizer = ops::AdamAttrs{.lr = 1e-3}});
        trainer.step(uniform(4 * 784, 1), labels_for(4, 1));
        nn::save_checkpoint(path, trainer, {{"model", "lenet5"}});
    }
    const auto images = uniform(3 * 784, 2);
    const std::vector<float> want = trained.predict(images, 3);

    nn::Model from_file(nn::lenet5(), {.seed = 8}, pool);
    CHECK(from_file.load_checkpoint(path).at("model") == "lenet5"); // Adam's moments are skipped
    auto program = from_file.program({.batch = 3});
    program->set_input(images);
    program->run();
    check_bitwise_equal(program->output(), want, "a forward program of the loaded checkpoint");

    std::ifstream in(path, std::ios::binary);
    const std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    nn::Model from_memory(nn::lenet5(), {.seed = 9}, pool);
    from_memory.load_checkpoint(std::as_bytes(std::span(chars)), "fetched lenet5.safetensors");
    check_bitwise_equal(from_memory.predict(images, 3), want, "loaded from memory");

    // Wrong shape, a missing tensor, a tensor the model lacks: the error names it.
    nn::StateDict w = trained.weights();
    const auto save = [&](const nn::StateDict& state, const std::map<std::string, std::vector<int64_t>>& shapes) {
        std::vector<io::SafeTensor> tensors;
        for (const auto& [name, values] : state) {
            const auto s = shapes.find(name);
            std::vector<int64_t> dims = s != shapes.end() ? s->second : std::vector<int64_t>{static_cast<int64_t>(values.size())};
            tensors.push_back(io::SafeTensor::make<float>(name, dims, values));
        }
        io::write_safetensors(path, tensors);
    };
    std::map<std::string, std::vector<int64_t>> shapes;
    for (const nn::StateSpec& s : trained.parameters()) shapes[s.name] = s.shape.dims;
    shapes["3.bias"] = {4, 4};
    save(w, shapes);
    CHECK_THROWS_WITH(from_file.load_checkpoint(path), doctest::Contains("tensor '3.bias' has shape (4, 4), the model has (16,)"));
    shapes["3.bias"] = {16};
    nn::StateDict missing = w;
    missing.erase("9.weight");
    save(missing, shapes);
    CHECK_THROWS_WITH(from_file.load_checkpoint(path), doctest::Contains("tensor '9.weight' (84, 120) is missing"));
    nn::StateDict extra = w;
    extra["12.weight"] = {1.0f};
    save(extra, shapes);
    CHECK_THROWS_WITH(from_file.load_checkpoint(path), doctest::Contains("tensor '12.weight' is not part of this model"));
    check_bitwise_equal(from_file.predict(images, 3), want, "a refused checkpoint leaves the weights alone");
    const std::vector<std::byte> garbage(16, std::byte{7});
    CHECK_THROWS_WITH(from_file.load_checkpoint(garbage, "fetched.bin"), doctest::Contains("fetched.bin"));
}

TEST_CASE_FIXTURE(GpuTest, "nn/model: gradients w.r.t. the input and a layer seeded one-hot or by ones match finite differences") {
    cpu::ThreadPool pool(2);
    // tanh keeps the function smooth for finite differences.
    const nn::Sequential net(nn::Conv2d(1, 3, 5, {.stride = 3}), nn::Tanh(), nn::Flatten(), nn::Linear(3 * 8 * 8, 10));
    nn::Model cpu(net, {.seed = 6}, pool), gpu(net, {.seed = 6}, dev);
    const auto images = uniform(2 * 784, 7);
    const std::vector<int32_t> classes{3, 8};
    const nn::ProgramOptions options{.batch = 2, .keep = {"1"}, .gradient = nn::GradientOptions{.wrt = {"input", "1"}}};
    auto on_cpu = cpu.program(options), on_gpu = gpu.program(options);
    for (auto* p : {on_cpu.get(), on_gpu.get()}) {
        p->set_input(images);
        p->seed_one_hot(classes);
        p->run();
    }
    const std::vector<float> saliency = on_cpu->gradient("input");
    check_allclose(on_gpu->gradient("input"), saliency, 1e-5, 1e-4, "saliency, Vulkan vs CPU");
    check_allclose(on_gpu->gradient("1"), on_cpu->gradient("1"), 1e-5, 1e-4, "gradient w.r.t. layer 1");

    // Finite differences of score[n][class n] on the CPU backend, in double around a few pixels.
    auto probe = cpu.program({.batch = 2});
    const auto score = [&](const std::vector<float>& x) {
        probe->set_input(x);
        probe->run();
        const std::vector<float> out = probe->output();
        return double{out[3]} + double{out[10 + 8]};
    };
    for (size_t pixel : {size_t{100}, size_t{400}, size_t{784 + 300}}) {
        std::vector<float> x = images;
        const float h = 1e-2f;
        x[pixel] = images[pixel] + h;
        const double up = score(x);
        x[pixel] = images[pixel] - h;
        const double down = score(x);
        CAPTURE(pixel);
        CHECK(saliency[pixel] == doctest::Approx((up - down) / (2.0 * h)).epsilon(2e-2));
    }

    // The sum of a layer's output (DeepDream's objective): its gradient w.r.t. the input.
    auto dream = cpu.program({.batch = 2, .gradient = nn::GradientOptions{.of = "1", .wrt = {"input"}}});
    dream->set_input(images);
    dream->seed_ones();
    dream->run();
    const std::vector<float> dream_grad = dream->gradient("input");
    CHECK(std::any_of(dream_grad.begin(), dream_grad.end(), [](float g) { return g != 0; }));
    CHECK_THROWS_WITH(dream->seed_one_hot(classes), doctest::Contains("the gradient's output is (2, 3, 8, 8)"));
    CHECK_THROWS_WITH(cpu.program({.gradient = nn::GradientOptions{.of = "1", .wrt = {"3"}}}),
                      doctest::Contains("'1' does not depend on '3'"));
}

TEST_CASE("nn/trainer: mean squared error for regression and one learning rate") {
    cpu::ThreadPool pool(2);
    const nn::Sequential net(nn::Flatten(), nn::Linear(784, 16), nn::Tanh(), nn::Linear(16, 3));
    nn::Model model(net, {.classes = 3, .seed = 2}, pool);
    nn::Trainer trainer(model, {.batch = 4, .optimizer = ops::SgdAttrs{.lr = 0.1}, .loss = nn::Loss::MeanSquaredError});
    const auto images = uniform(4 * 784, 3);
    const auto targets = uniform(12, 4);
    // The first step's loss is torch's mse_loss (mean over every element) of the model's output.
    const std::vector<float> out = model.predict(images, 4);
    double mse = 0;
    for (size_t i = 0; i < out.size(); ++i) mse += (double{out[i]} - targets[i]) * (double{out[i]} - targets[i]);
    const nn::StepResult first = trainer.step(images, targets);
    CHECK(first.loss == doctest::Approx(mse / 12).epsilon(1e-5));
    CHECK(first.correct == 0);
    float last = first.loss;
    for (int step = 0; step < 20; ++step) last = trainer.step(images, targets).loss;
    CHECK(last < 0.5f * first.loss);
    CHECK_THROWS_WITH(trainer.step(images, std::vector<int32_t>(4)), doctest::Contains("the mean squared error takes float targets"));

    CHECK(trainer.learning_rate() == 0.1);
    trainer.set_learning_rate(0);
    const nn::StateDict before = model.weights();
    trainer.step(images, targets);
    for (const auto& [name, values] : before) check_bitwise_equal(model.state().read(name), values, name + " at lr 0");
    CHECK_THROWS_WITH(trainer.set_learning_rate(-1), doctest::Contains("-1 is not a learning rate"));
}

// A host application that lent us its VkDevice: it orders our step after its
// own work with a timeline semaphore, spreads a step over frames by a FLOP
// budget, records a step into its own command buffer and reads the
// per-node GPU times of that recording — with validation on both sides silent.
TEST_CASE("nn/trainer: driven by a host application with its semaphores and frames and command buffer and profile") {
    host_messages = 0;
    HostApp host;
    if (!host.timeline) {
        MESSAGE("the device has no timeline semaphores: skipped");
        return;
    }
    {
        auto dev = host.adopt_validated();
        nn::Model model(nn::lenet5(), {.seed = 5}, *dev), reference_model(nn::lenet5(), {.seed = 5}, *dev);
        nn::Trainer reference(reference_model, {.batch = 4});
        const double flops = [&] {
            nn::Trainer probe(reference_model, {.batch = 4});
            return probe.vulkan_program().step_flops();
        }();
        nn::Trainer trainer(model, {.batch = 4, .profile = true, .max_segment_flops = flops / 4});
        exec::VulkanProgram& gpu = trainer.vulkan_program();
        REQUIRE(gpu.segment_count() >= 3);

        VkSemaphore timeline = host.create_timeline();
        uint64_t value = 0;
        for (uint32_t step = 1; step <= 2; ++step) {
            const auto x = uniform(4 * 784, 30 + step);
            const uint32_t slot = trainer.prepare_step(x, labels_for(4, step));
            // Frames of a third of the step's work: our segments wait for the host's frame (value + 1).
            size_t next = 0, frames = 0;
            while (next < gpu.segment_count()) {
                const size_t n = gpu.segments_within(next, flops / 3);
                const uint64_t wait_value = value + 1, signal_value = value + 2;
                gpu.submit_segments(slot, next, n, {{&timeline, 1}, {&wait_value, 1}, {&timeline, 1}, {&signal_value, 1}});
                host.signal_timeline(timeline, wait_value); // the host's frame work is done
                // The end of the frame: the host waits for our part (a timeline only counts up).
                host.wait_timeline(timeline, signal_value);
                value = signal_value;
                next += n;
                ++frames;
            }
            CHECK(frames >= 2);
            const nn::StepResult r = trainer.finish_step(slot), want = reference.step(x, labels_for(4, step));
            CHECK(r.loss == want.loss); // bitwise: the same recording, submitted in parts
            CHECK(r.correct == want.correct);
        }
        // Recorded into the host's own command buffer, with timestamps.
        const auto x = uniform(4 * 784, 40);
        const uint32_t slot = trainer.prepare_step(x, labels_for(4, 3));
        VkCommandBuffer cmd = host.begin_commands();
        gpu.record(cmd, slot);
        host.submit_and_wait(cmd);
        CHECK(trainer.finish_step(slot).loss == reference.step(x, labels_for(4, 3)).loss);
        const std::vector<exec::NodeTime> rows = gpu.profile(slot);
        REQUIRE_FALSE(rows.empty());
        double us = 0;
        for (const exec::NodeTime& row : rows) us += row.microseconds;
        MESSAGE("the host-recorded step's GPU time: " << us << " us over " << rows.size() << " nodes, slowest "
                                                      << rows[0].node);
        CHECK(us > 0);
        check_bitwise_equal(model.state().read("11.weight"), reference_model.state().read("11.weight"),
                            "weights after three host-scheduled steps");
        CHECK_THROWS_WITH(trainer.finish_step(slot), doctest::Contains("holds no prepared step"));
        CHECK(dev->validation_log().take().empty());
        vkDestroySemaphore(host.device, timeline, nullptr);
    }
    CHECK(host_messages == 0);
}

TEST_CASE_FIXTURE(GpuTest, "nn/model: the gradient of the loss is the output's seeded by d loss / d logits, and the loss is the mean cross-entropy") {
    cpu::ThreadPool pool(2);
    const nn::Sequential net(nn::Conv2d(1, 3, 5, {.stride = 3}), nn::ReLU(), nn::Flatten(), nn::Linear(3 * 8 * 8, 10));
    const auto images = uniform(3 * 784, 9);
    const std::vector<int32_t> labels{3, 8, 0};
    for (Device* device : {static_cast<Device*>(nullptr), &dev}) {
        nn::Model m(net, {.seed = 4}, device, &pool);
        auto of_loss = m.program({.batch = 3, .gradient = nn::GradientOptions{.loss = true}});
        auto seeded = m.program({.batch = 3, .gradient = nn::GradientOptions{}});
        of_loss->set_input(images);
        of_loss->set_labels(labels);
        of_loss->run();
        seeded->set_input(images);
        seeded->run();
        // By hand, in double: loss = mean_n (logsumexp(z_n) - z_n[y_n]); d loss / d z = (softmax(z) - onehot) / N.
        const std::vector<float> z = seeded->output();
        std::vector<float> dz(z.size());
        double loss = 0;
        for (size_t n = 0; n < 3; ++n) {
            const auto row = std::span(z).subspan(n * 10, 10);
            const double top = *std::max_element(row.begin(), row.end());
            double sum = 0;
            for (float v : row) sum += std::exp(double(v) - top);
            loss += (std::log(sum) + top - row[size_t(labels[n])]) / 3;
            for (size_t k = 0; k < 10; ++k)
                dz[n * 10 + k] = float((std::exp(double(row[k]) - top) / sum - (int32_t(k) == labels[n])) / 3);
        }
        seeded->seed(dz);
        seeded->run();
        CHECK(of_loss->loss() == doctest::Approx(loss).epsilon(1e-5));
        check_allclose(of_loss->gradient("input"), seeded->gradient("input"), 1e-7, 1e-4, "d loss / d input");
        CHECK_THROWS_WITH(of_loss->set_labels(std::vector<int32_t>{1, 10, 2}),
                          doctest::Contains("label 10 of sample 1 is not in [0, 10)"));
        CHECK_THROWS_WITH(seeded->set_labels(labels), doctest::Contains("not of the loss"));
        CHECK_THROWS_WITH(seeded->loss(), doctest::Contains("not of the loss"));
    }
    nn::Model m(net, {}, pool);
    CHECK_THROWS_WITH(m.program({.gradient = nn::GradientOptions{.of = "1", .loss = true}}),
                      doctest::Contains("of the loss or of '1', not both"));
    graph::Graph g;
    const graph::ValueId x = g.input("x", Shape{4});
    const graph::ValueId y = g.relu(x, "r");
    const graph::GradientOverride twice[] = {{graph::Op::relu, graph::guided_relu_gradient},
                                             {graph::Op::relu, graph::deconvnet_relu_gradient}};
    const graph::ValueId wrt[] = {x};
    CHECK_THROWS_WITH(g.backward(y, wrt, g.input("seed", Shape{4}), twice), doctest::Contains("relu is overridden twice"));
}
