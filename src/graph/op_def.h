// Everything the graph knows about one op, in one place: its shape rule, its
// gradient rule and how it runs on each backend. src/graph/ops/<family>.cpp
// define the OpDefs (and the Graph builder methods) of a family of ops;
// adding an op is an entry in VKCNN_GRAPH_OPS (graph.h) and an OpDef.
#pragma once

#include "vkcnn/graph/graph.h"
#include "vkcnn/graph/lowering.h"

#include <array>
#include <optional>
#include <span>
#include <vector>

namespace vkcnn::graph {

struct TensorType {
    Shape shape;
    DType dtype = DType::F32;
};

// Infers the output types from the inputs; throws vkcnn::Error saying what
// does not fit (add_node prefixes the node and its inputs).
using ShapeRule = std::vector<TensorType> (*)(std::span<const Value* const> in, const Attributes& attrs);

// GradRule (graph.h): the gradient rule; inputs whose `need` is unset may get none.

using GpuRule = GpuLowering (*)(const Graph& g, const Node& n, const GemmTuning& tuning);
using CpuRule = void (*)(const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out);

struct OpDef {
    ShapeRule shape;
    GradRule grad = nullptr; // nullptr: not differentiable
    GpuRule gpu = nullptr;   // nullptr with `view`: runs nothing
    CpuRule cpu = nullptr;
    bool view = false;       // output 0 is input 0's memory under another shape (reshape): no kernel, no copy
    // The first `updates` inputs are persistent values the op changes in place
    // (optimizer steps, running statistics); its launches declare them
    // ReadWrite, and its CPU call gets them again, writable, at the front of `out`.
    uint32_t updates = 0;
    // Elementwise with one output, each element's inputs read before it is
    // written: the output may be written over an input of its size that
    // nothing reads later; compile() decides where (CompileOptions::in_place).
    bool in_place = false;
};

// Throws naming the number for an op outside VKCNN_GRAPH_OPS.
const OpDef& op_def(Op op);

#define VKCNN_DECLARE_OP_DEF(name) extern const OpDef name##_def;
VKCNN_GRAPH_OPS(VKCNN_DECLARE_OP_DEF)
#undef VKCNN_DECLARE_OP_DEF

// Helpers shared by the op families.
void expect_inputs(std::span<const Value* const> in, size_t n);
// A node's attributes as the kind T its op takes. Every shape rule of an op
// with attributes reads them through this, so add_node refuses a node given
// another kind ("takes ops::Conv2dAttrs attributes, got none"), and the other
// rules of a node in a graph find the kind they expect.
[[noreturn]] void wrong_attributes(const Attributes& want, const Attributes& got);
template <typename T>
const T& attrs_as(const Attributes& attrs) {
    if (const T* a = std::get_if<T>(&attrs)) return *a;
    wrong_attributes(Attributes(std::in_place_type<T>), attrs);
}
// The shape rule of an op that takes no attributes: an error naming the kind given.
void expect_no_attributes(const Attributes& attrs);
void expect_same_shape(const Value& a, const Value& b);
size_t elements(const Graph& g, ValueId v);
// An (N, C, H, W) value's dimensions, as the convolution and concat ops take
// them; an error naming `what`, the value and its shape unless it is 4-D.
std::array<uint32_t, 4> nchw(const Value& v, const char* what);
// For layers whose backward node computes only the wanted gradients
// (WantedGradients): its output types, the wanted of x, weight, bias in that
// order (an error if none is wanted); and the forward inputs' gradients from
// its outputs, the inputs x, weight and bias being at positions `at`.
std::vector<TensorType> wanted_gradient_types(const WantedGradients& want, const TensorType& x,
                                              const TensorType& weight, const TensorType& bias);
std::vector<std::optional<ValueId>> wanted_gradients(const WantedGradients& want, const std::vector<ValueId>& outputs,
                                                     size_t inputs, std::array<size_t, 3> at);
// A convolution's weight gradient into `dw` (conv2d's kernels, also under
// conv_transpose2d): one launch, or, where the weight alone gives a device
// few workgroups, its reduction split into chunks of scratch summed by a
// second pass in a fixed order (ops::conv2d_backward_weight_split).
void append_conv2d_weight_gradient(GpuLowering& lowered, const ops::Conv2dShape& s, const GemmTuning& tuning,
                                   ArgRef x, ArgRef dy, ArgRef dw);
// Such a node's outputs on the CPU: empty spans for the unwanted ones.
struct GradientSpans {
    std::span<float> dx, dweight, dbias;
};
GradientSpans wanted_gradient_spans(const WantedGradients& want, CpuOutputs out);
// Host tensors hold i32 values (labels, argmax indices) in float-sized slots
// (lowering.h): the same bytes, seen as int32_t.
inline std::span<int32_t> as_i32(std::span<float> s) { return {reinterpret_cast<int32_t*>(s.data()), s.size()}; }
inline std::span<const int32_t> as_i32(std::span<const float> s) {
    return {reinterpret_cast<const int32_t*>(s.data()), s.size()};
}
// One launch taking the node's inputs, then its outputs, as its arguments.
GpuLowering single(KernelLaunch launch, const Node& n);

} // namespace vkcnn::graph
