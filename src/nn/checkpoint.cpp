// Checkpoints (see checkpoint.h).
#include "vkcnn/nn/checkpoint.h"

#include "vkcnn/core/error.h"
#include "vkcnn/nn/trainer.h"

#include <cmath>
#include <set>

namespace vkcnn::nn {

void save_checkpoint(const std::string& path, const Trainer& trainer, io::Metadata metadata) {
    const StateDict state = trainer.state();
    std::vector<io::SafeTensor> tensors;
    for (const StateSpec& spec : trainer.state_layout())
        tensors.push_back(io::SafeTensor::make<float>(spec.name, spec.shape.dims, state.at(spec.name)));
    metadata["format"] = "vkcnn";
    metadata["vkcnn_version"] = "0.1.0";
    metadata["step"] = std::to_string(trainer.steps());
    io::write_safetensors(path, tensors, metadata);
}

Checkpoint read_checkpoint(const std::string& path, const Trainer& trainer, bool optimizer) {
    return read_checkpoint(io::read_safetensors(path), path, trainer, optimizer);
}

Checkpoint read_checkpoint(const io::SafeTensors& file, const std::string& path, const Trainer& trainer,
                           bool optimizer) {
    return read_checkpoint(file, path, optimizer ? trainer.state_layout() : trainer.parameters());
}

Checkpoint read_checkpoint(const io::SafeTensors& file, const std::string& path, std::span<const StateSpec> layout) {
    Checkpoint c{{}, file.metadata, path};
    std::set<std::string> known, parameters;
    for (const StateSpec& spec : layout)
        if (spec.role != graph::Role::OptimizerState) parameters.insert(spec.name);
    for (const StateSpec& spec : layout) {
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
    std::set<std::string> stepped; // parameters with optimizer state in the layout
    for (const StateSpec& spec : layout)
        if (spec.role == graph::Role::OptimizerState) stepped.insert(spec.name.substr(0, spec.name.rfind('.')));
    for (const io::SafeTensor& t : file.tensors) {
        const size_t dot = t.name.rfind('.');
        const std::string owner = dot == std::string::npos ? std::string() : t.name.substr(0, dot);
        // Optimizer state of a parameter this run does not step (evaluation,
        // or a parameter now frozen) is left unread; state of another
        // optimizer for a stepped parameter is a mismatch.
        const bool unread_state = parameters.contains(owner) && !stepped.contains(owner);
        check(known.contains(t.name) || unread_state, path, ": tensor '", t.name, "' is not part of this model");
    }
    return c;
}

std::string quoted_value(std::string_view value) {
    constexpr size_t kMax = 40;
    std::string s = "'";
    for (size_t i = 0; i < value.size() && i < kMax; ++i) {
        const auto ch = static_cast<unsigned char>(value[i]);
        s += ch < 0x20 || ch == 0x7F ? '?' : value[i];
    }
    if (value.size() > kMax) s += cat("...' (", value.size(), " characters)");
    else s += "'";
    return s;
}

const std::string& metadata_text(const Checkpoint& c, std::string_view key) {
    const auto it = c.metadata.find(std::string(key));
    check(it != c.metadata.end(), c.path, ": metadata '", key, "' is missing: not a vkcnn training checkpoint");
    return it->second;
}

uint64_t metadata_u64(const Checkpoint& c, std::string_view key) {
    const std::string& v = metadata_text(c, key);
    // std::stoull would take "-1" as 2^64 - 1, skip spaces and stop at the first non-digit.
    check(!v.empty() && v.find_first_not_of("0123456789") == std::string::npos, c.path, ": metadata '", key, "' is ",
          quoted_value(v), ", not a non-negative integer");
    uint64_t n = 0;
    for (const char ch : v) {
        const auto d = static_cast<uint64_t>(ch - '0');
        check(n <= (UINT64_MAX - d) / 10, c.path, ": metadata '", key, "' is ", quoted_value(v),
              ", more than 2^64 - 1");
        n = n * 10 + d;
    }
    return n;
}

std::vector<std::string> nonfinite_tensors(const StateDict& state) {
    std::vector<std::string> bad;
    for (const auto& [name, values] : state) {
        size_t n = 0;
        for (const float v : values) n += std::isfinite(v) ? 0 : 1;
        if (n > 0) bad.push_back(cat("'", name, "' (", n, " of ", values.size(), " values)"));
    }
    return bad;
}

} // namespace vkcnn::nn
