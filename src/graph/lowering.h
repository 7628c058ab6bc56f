// How a node runs on each backend: on the CPU, a call of the op's CPU kernel
// on host tensors; on a GPU, one or more KernelLaunches whose arguments refer
// to the node's inputs, outputs or temporaries. Each op's OpDef (op_def.h)
// says how; views (reshape) run nothing on either.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/graph/graph.h"

#include <span>
#include <vector>

namespace vkcnn::graph {

struct ArgRef {
    enum Kind : uint8_t { Input, Output, Temp } kind;
    uint32_t index;
};

struct LoweredKernel {
    KernelLaunch launch;
    std::vector<ArgRef> args; // args[i] is launch argument i
};

struct GpuLowering {
    std::vector<uint64_t> temp_bytes; // scratch that lives for this node only
    std::vector<LoweredKernel> kernels;

    // Scratch of `floats` floats for this node, and the argument naming it.
    ArgRef add_temp(uint64_t floats) {
        temp_bytes.push_back(floats * sizeof(float));
        return {ArgRef::Temp, static_cast<uint32_t>(temp_bytes.size() - 1)};
    }
};

using CpuInputs = std::span<const std::span<const float>>;
using CpuOutputs = std::span<const std::span<float>>;

GpuLowering lower_for_gpu(const Graph& g, const Node& n, const GemmTuning& tuning);

// Host tensors of one node: in[i] / out[i] have the shapes of its values
// (elements counted by the graph; i32 values reinterpret the bytes), `out`
// starting with the inputs the op updates in place (OpDef::updates). Throws
// naming the node and the value for a span missing or of another size.
void run_on_cpu(const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out);

} // namespace vkcnn::graph
