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
    for (const io::SafeTensor& t : file.tensors) {
        const size_t dot = t.name.rfind('.');
        const bool state_of_parameter = dot != std::string::npos && parameters.contains(t.name.substr(0, dot));
        check(known.contains(t.name) || (!optimizer && state_of_parameter), path, ": tensor '", t.name,
              "' is not part of this model");
    }
    return c;
}

} // namespace vkcnn::nn
