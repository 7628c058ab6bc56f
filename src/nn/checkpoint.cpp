// Checkpoints (see checkpoint.h).
#include "vkcnn/nn/checkpoint.h"

#include "vkcnn/core/error.h"

#include <set>

namespace vkcnn::nn {

void save_checkpoint(const std::string& path, const Trainer& trainer, io::Metadata metadata) {
    const State state = trainer.state();
    std::vector<io::SafeTensor> tensors;
    for (const StateSpec& spec : trainer.state_layout())
        tensors.push_back(io::SafeTensor::make<float>(spec.name, spec.shape.dims, state.at(spec.name)));
    metadata["format"] = "vkcnn";
    metadata["vkcnn_version"] = "0.1.0";
    metadata["step"] = std::to_string(trainer.steps());
    io::write_safetensors(path, tensors, metadata);
}

Checkpoint read_checkpoint(const std::string& path, const Trainer& trainer, bool optimizer) {
    const io::SafeTensors file = io::read_safetensors(path);
    Checkpoint c{{}, file.metadata};
    std::set<std::string> known, parameters;
    for (const StateSpec& spec : trainer.parameters()) parameters.insert(spec.name);
    for (const StateSpec& spec : optimizer ? trainer.state_layout() : trainer.parameters()) {
        known.insert(spec.name);
        const io::SafeTensor* t = file.find(spec.name);
        if (!t) {
            check(spec.role == graph::Role::OptimizerState, path, ": tensor '", spec.name, "' ", spec.shape.str(),
                  " is missing");
            continue;
        }
        check(Shape(t->shape) == spec.shape, path, ": tensor '", spec.name, "' has shape ", Shape(t->shape).str(),
              ", the model has ", spec.shape.str());
        c.state[spec.name] = t->values<float>(); // throws naming the tensor unless it is F32
    }
    std::set<std::string> stepped; // parameters with optimizer state in this trainer
    for (const StateSpec& spec : trainer.state_layout())
        if (spec.role == graph::Role::OptimizerState) stepped.insert(spec.name.substr(0, spec.name.rfind('.')));
    for (const io::SafeTensor& t : file.tensors) {
        const size_t dot = t.name.rfind('.');
        const std::string owner = dot == std::string::npos ? std::string() : t.name.substr(0, dot);
        // Optimizer state of a parameter this run does not step (evaluation,
        // or a parameter now frozen) is left unread; state of another
        // optimizer for a stepped parameter is a mismatch.
        const bool unread_state = parameters.contains(owner) && (!optimizer || !stepped.contains(owner));
        check(known.contains(t.name) || unread_state, path, ": tensor '", t.name, "' is not part of this model");
    }
    return c;
}

} // namespace vkcnn::nn
