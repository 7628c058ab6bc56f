// libFuzzer harness: a checkpoint file loaded into a model, as `vkcnn eval`
// (weights only), `predict` and `train --resume` (with optimizer state) do:
// nn::read_checkpoint checks names, shapes and dtypes against the trainer's
// state, then Trainer::load_state takes it; and Model::load_checkpoint, from memory. The model is LeNet-5 in
// miniature — a convolution, batch norm (running statistics), pooling and a
// linear layer, SGD with momentum (optimizer state) — so that a complete,
// valid checkpoint is a 1 KB seed rather than LeNet-5's 500 KB.
#include "vkcnn/core/error.h"
#include "vkcnn/nn/checkpoint.h"
#include "vkcnn/nn/layers.h"
#include "vkcnn/nn/trainer.h"

#include <cstddef>
#include <cstdint>
#include <span>

namespace {

using namespace vkcnn;

struct Fixture {
    cpu::ThreadPool pool{1};
    nn::Model model{nn::Sequential(nn::Conv2d(1, 2, 5, {.padding = 2}), nn::BatchNorm2d(2), nn::ReLU(), nn::MaxPool2d(2),
                                   nn::AdaptiveAvgPool2d(1, 1), nn::Flatten(), nn::Linear(2, 10)),
                    {},
                    pool};
    nn::Trainer trainer{model, {.batch = 1}};
};

} // namespace

// The bytes as a file of weights (Model::load_checkpoint, from memory as the
// browser loads one) and as a training checkpoint (read_checkpoint against
// the trainer's layout, then load_state).
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Fixture f;
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    try {
        f.model.load_checkpoint(bytes, "fuzz input");
    } catch (const Error&) {
    }
    try {
        const io::SafeTensors file = io::parse_safetensors(bytes, "fuzz input");
        f.trainer.load_state(nn::read_checkpoint(file, "fuzz input", f.trainer).state, 0);
    } catch (const Error&) {
    }
    return 0;
}
