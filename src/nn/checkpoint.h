// Checkpoints: a model's state (and a Trainer's optimizer state) in the safetensors format, PyTorch's names
// ("0.weight", "3.running_mean", "0.weight.exp_avg"), float32, plus metadata
// (model, dataset, epoch, step, seed, vkcnn version). Written atomically: a
// run killed mid-write leaves the previous checkpoint intact, and the
// temporary file it leaves is removed by the next write.
#pragma once

#include "vkcnn/io/safetensors.h"
#include "vkcnn/nn/model.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vkcnn::nn {

class Trainer;

// Writes the trainer's state (its model's weights and its optimizer state)
// through io::write_safetensors (atomic; it also removes the temporaries of
// earlier writers of `path` that were killed).
void save_checkpoint(const std::string& path, const Trainer& trainer, io::Metadata metadata);

struct Checkpoint {
    StateDict state;
    io::Metadata metadata;
    std::string path; // where it was read from, for errors about its contents
};

// Reads and checks a checkpoint against the trainer's model: every
// parameter and running statistic present, every tensor a float32 of the
// shape the model has, no tensor the model lacks. Errors name the file and
// the tensor. Optimizer state may be absent (weights-only checkpoints). With
// `optimizer` false (evaluation, prediction) the file's optimizer state is
// skipped, whichever optimizer wrote it.
Checkpoint read_checkpoint(const std::string& path, const Trainer& trainer, bool optimizer = true);
// The same for a file already read (so its metadata can be checked first).
Checkpoint read_checkpoint(const io::SafeTensors& file, const std::string& path, const Trainer& trainer,
                           bool optimizer = true);
// The same against a layout (parameters, running statistics and optimizer
// state, as Trainer::state_layout() lists them); optimizer state in the file
// for parameters the layout gives none is skipped.
Checkpoint read_checkpoint(const io::SafeTensors& file, const std::string& path, std::span<const StateSpec> layout);

// Metadata is input like any other (a file edited, damaged or written by
// another tool): read strictly, errors naming the file, the key and the
// value (cut short when long). metadata_text throws when the key is absent;
// metadata_u64 accepts decimal digits only ("-1", "1e3", " 7", "" are
// refused) and values up to 2^64 - 1.
const std::string& metadata_text(const Checkpoint& c, std::string_view key);
uint64_t metadata_u64(const Checkpoint& c, std::string_view key);
// The value as errors quote it: at most 40 characters, control characters
// as '?', in single quotes.
std::string quoted_value(std::string_view value);

// The tensors of `state` that hold NaN or infinity, each as
// "'0.weight' (3 of 150 values)", in name order; empty when all are finite.
std::vector<std::string> nonfinite_tensors(const StateDict& state);

} // namespace vkcnn::nn
