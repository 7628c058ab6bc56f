// The trained network the visualisation tests inspect: LeNet-5 after one
// epoch of MNIST on the CPU backend (seed 1, batch 64, SGD lr 0.05 with
// momentum 0.9: 97.5% on the test set). Trained once per build tree and
// kept as a safetensors file in <build>/test-cache (VKCNN_TEST_CACHE
// overrides the directory), written atomically, so the test processes ctest
// runs in parallel share one training and none reads a half-written file.
#pragma once

#include "vkcnn/data/dataset.h"
#include "vkcnn/nn/model.h"

#include <memory>

namespace vkcnn::test {

// Whether data/mnist is there (scripts/fetch_data.sh); tests that need it
// skip with a message otherwise.
bool have_mnist();
// MNIST's test set (normalised as the training data), loaded once per process.
const data::Dataset& mnist_test();
// The trained LeNet-5's parameters, loaded from the cache or trained (~15 s) and cached.
const nn::StateDict& trained_lenet5();
// A LeNet-5 holding those weights, on `device` (nullptr: the CPU backend on `pool`).
std::unique_ptr<nn::Model> trained_model(Device* device, cpu::ThreadPool& pool);

} // namespace vkcnn::test

// In a test case that needs MNIST: returns, saying so, when data/mnist is missing.
#define VKCNN_REQUIRE_MNIST()                                                                                          \
    if (!::vkcnn::test::have_mnist()) {                                                                                \
        MESSAGE("data/mnist is missing (scripts/fetch_data.sh): skipped");                                             \
        return;                                                                                                        \
    }
