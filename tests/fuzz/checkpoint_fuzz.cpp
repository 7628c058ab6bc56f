// libFuzzer harness: a checkpoint file loaded into a model, as `vkcnn eval`
// (weights only), `predict` and `train --resume` (with optimizer state) do:
// nn::read_checkpoint checks names, shapes and dtypes against the trainer's
// state, then Trainer::load_state takes it. The model is LeNet-5 in
// miniature — a convolution, batch norm (running statistics), pooling and a
// linear layer, SGD with momentum (optimizer state) — so that a complete,
// valid checkpoint is a 1 KB seed rather than LeNet-5's 500 KB.
#include "vkcnn/core/error.h"
#include "vkcnn/nn/checkpoint.h"
#include "vkcnn/nn/layers.h"
#include "vkcnn/nn/trainer.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace {

using namespace vkcnn;
using vkcnn::test::Training;

struct Model {
    nn::Sequential net{nn::Conv2d(1, 2, 5, {.padding = 2}), nn::BatchNorm2d(2), nn::ReLU(), nn::MaxPool2d(2),
                       nn::AdaptiveAvgPool2d(1, 1), nn::Flatten(), nn::Linear(2, 10)};
    cpu::ThreadPool pool{1};
    Training trainer{net, {}, {.batch = 1}, nullptr, pool};
    // read_checkpoint reads a path: each input goes through this file, in
    // memory where there is a tmpfs (a disk-backed /tmp costs ms a run).
    std::string path = (std::filesystem::is_directory("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                                  : std::filesystem::temp_directory_path()) /
                       ("vkcnn_fuzz_checkpoint." + std::to_string(::getpid()) + ".safetensors");
    ~Model() { std::remove(path.c_str()); }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Model m;
    std::FILE* f = std::fopen(m.path.c_str(), "wb");
    if (!f || std::fwrite(data, 1, size, f) != size || std::fclose(f) != 0) __builtin_trap();
    for (const bool optimizer : {true, false}) {
        try {
            const nn::Checkpoint c = nn::read_checkpoint(m.path, m.trainer, optimizer);
            m.trainer.load_state(c.state, 0);
        } catch (const Error&) {
        }
    }
    return 0;
}
