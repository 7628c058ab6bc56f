// Checkpoints: a Trainer's state in the safetensors format, PyTorch's names
// ("0.weight", "3.running_mean", "0.weight.exp_avg"), float32, plus metadata
// (model, dataset, epoch, step, seed, vkcnn version). Written atomically: a
// run killed mid-write leaves the previous checkpoint intact.
#pragma once

#include "vkcnn/io/safetensors.h"
#include "vkcnn/nn/trainer.h"

#include <string>

namespace vkcnn::nn {

void save_checkpoint(const std::string& path, const Trainer& trainer, io::Metadata metadata);

struct Checkpoint {
    State state;
    io::Metadata metadata;
};

// Reads and checks a checkpoint against the trainer's model: every
// parameter and running statistic present, every tensor a float32 of the
// shape the model has, no tensor the model lacks. Errors name the file and
// the tensor. Optimizer state may be absent (weights-only checkpoints). With
// `optimizer` false (evaluation, prediction) the file's optimizer state is
// skipped, whichever optimizer wrote it.
Checkpoint read_checkpoint(const std::string& path, const Trainer& trainer, bool optimizer = true);

} // namespace vkcnn::nn
