#include "support/trained.h"

#include "support/data_dir.h"

#include "vkcnn/core/error.h"
#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/io/safetensors.h"
#include "vkcnn/nn/models.h"
#include "vkcnn/nn/trainer.h"

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <vector>

namespace vkcnn::test {

namespace {

std::filesystem::path cache_dir() {
    if (const char* d = std::getenv("VKCNN_TEST_CACHE")) return d;
    return VKCNN_TEST_CACHE_DIR; // <build>/test-cache, from tests/CMakeLists.txt
}

// The file's name says how the weights were made: a change of recipe is a new file.
constexpr const char* kFile = "lenet5-mnist-1epoch-cpu-seed1-b64-sgd0.05m0.9.safetensors";

std::optional<nn::StateDict> load_cached(const std::filesystem::path& path, const std::vector<nn::StateSpec>& specs) {
    if (!std::filesystem::exists(path)) return std::nullopt;
    try {
        const io::SafeTensors file = io::read_safetensors(path.string());
        nn::StateDict weights;
        for (const nn::StateSpec& s : specs) {
            const io::SafeTensor* t = file.find(s.name);
            if (!t || t->shape != s.shape.dims) return std::nullopt; // another LeNet-5: train anew
            weights[s.name] = t->values<float>();
        }
        return weights;
    } catch (const Error&) {
        return std::nullopt;
    }
}

nn::StateDict train() {
    const data::Dataset train = data::load_mnist((data_dir() / "mnist").string(), data::Split::Train);
    cpu::ThreadPool pool(2);
    nn::Model model(nn::lenet5(), {.seed = 1}, pool);
    nn::Trainer trainer(model, {.batch = 64});
    data::BatchLoader loader(train, {.batch_size = 64, .seed = 1, .drop_last = true});
    std::vector<float> images(static_cast<size_t>(64 * train.image_elements()));
    std::vector<int32_t> labels(64);
    while (loader.next(images, labels) == 64) trainer.start_step(images, labels);
    trainer.flush();
    return model.weights();
}

} // namespace

bool have_mnist() { return std::filesystem::exists(data_dir() / "mnist"); }

const data::Dataset& mnist_test() {
    static const data::Dataset test = data::load_mnist((data_dir() / "mnist").string(), data::Split::Test);
    return test;
}

const nn::StateDict& trained_lenet5() {
    static const nn::StateDict weights = [] {
        const std::filesystem::path path = cache_dir() / kFile;
        const std::vector<nn::StateSpec> specs = nn::model_state(nn::lenet5(), {1, 28, 28});
        if (auto cached = load_cached(path, specs)) return *cached;
        nn::StateDict trained = train();
#if defined(__EMSCRIPTEN__)
        // Only the native tree writes the shared file. The WebAssembly build's
        // GEMM rounds differently (SIMD128 has no FMA), so its weights are
        // another model, and the native viz tests' bars (FGSM below 10% at
        // epsilon 0.3: 4.9% on the native model, 10.6% on the wasm one) are
        // measured on the native one: wasm/unit, run first, must not decide it.
        return trained;
#endif
        std::filesystem::create_directories(cache_dir());
        std::vector<io::SafeTensor> tensors;
        for (const nn::StateSpec& s : specs) {
            const std::vector<float>& v = trained.at(s.name);
            tensors.push_back(io::SafeTensor::make<float>(s.name, s.shape.dims, v));
        }
        io::write_safetensors(path.string(), tensors, {{"recipe", kFile}});
        return trained;
    }();
    return weights;
}

std::unique_ptr<nn::Model> trained_model(Device* device, cpu::ThreadPool& pool) {
    auto model = std::make_unique<nn::Model>(nn::lenet5(), nn::ModelOptions{}, device, &pool);
    model->load_weights(trained_lenet5());
    return model;
}

} // namespace vkcnn::test
