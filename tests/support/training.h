// A Model and a Trainer of it in one object, as most tests want them: it
// is a Trainer, and model() is its Model.
#pragma once

#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/nn/trainer.h"

#include <utility>

namespace vkcnn::test {

struct ModelHolder {
    template <typename M>
    ModelHolder(M&& net, const nn::ModelOptions& options, Device* device, cpu::ThreadPool& pool)
        : held(std::forward<M>(net), options, device, &pool) {}
    nn::Model held;
};

class Training : private ModelHolder, public nn::Trainer {
public:
    template <typename M>
    Training(M&& net, const nn::ModelOptions& model, nn::TrainerOptions options, Device* device, cpu::ThreadPool& pool)
        : ModelHolder(std::forward<M>(net), model, device, pool), nn::Trainer(held, std::move(options)) {}
};

} // namespace vkcnn::test
