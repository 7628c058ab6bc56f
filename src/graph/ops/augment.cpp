// augment in the graph: inputs (x, key), key a (2,) i32 input holding the
// PhiloxKey {seed, step} that the host rewrites every step, as dropout's, so
// the recorded step draws new transforms each run. No gradient rule: it
// transforms the input batch, before anything trained, so none flows through it
// (autodiff names the node if a graph ever asks for one).
#include "vkcnn/graph/op_def.h"

#include "vkcnn/core/error.h"
#include "vkcnn/ops/augment.h"

#include <cstring>

namespace vkcnn::graph {

namespace {

std::vector<TensorType> augment_shape(std::span<const Value* const> in, const Attributes& attrs) {
    expect_inputs(in, 2);
    ops::check_augment_attrs(attrs_as<ops::AugmentAttrs>(attrs));
    const Value& x = *in[0];
    check(x.shape.rank() == 4 && x.dtype == DType::F32, "x '", x.name, "' ", x.shape.str(), " ", dtype_name(x.dtype),
          " is not an f32 batch of images (N, C, H, W)");
    for (size_t d = 0; d < 4; ++d) check(x.shape[d] > 0, "x '", x.name, "' ", x.shape.str(), " has an empty dimension");
    check(in[1]->shape == Shape{2} && in[1]->dtype == DType::I32, "key '", in[1]->name, "' ", in[1]->shape.str(), " ",
          dtype_name(in[1]->dtype), " is not the (2,) i32 Philox key {seed, step}");
    return {{x.shape}};
}

ops::PhiloxKey key_of(std::span<const float> k) {
    ops::PhiloxKey key;
    std::memcpy(&key.seed, &k[0], 4); // i32 values travel in float-sized slots (lowering.h)
    std::memcpy(&key.step, &k[1], 4);
    return key;
}

const ops::AugmentAttrs& attrs_of(const Node& n) { return attrs_as<ops::AugmentAttrs>(n.attrs); }

} // namespace

const OpDef augment_def{
    augment_shape,
    nullptr,
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return single(ops::augment_launch(attrs_of(n), g.value(n.inputs[0]).shape.dims), n);
    },
    [](const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::augment_cpu(pool, attrs_of(n), key_of(in[1]), g.value(n.inputs[0]).shape.dims, in[0], out[0]);
    },
    false,
    0,
    false, // not in place: each output pixel reads its neighbours' inputs
};

ValueId Graph::augment(ValueId x, ValueId key, const ops::AugmentAttrs& attrs, std::string name) {
    return add_node(Op::augment, std::move(name), {x, key}, attrs)[0];
}

} // namespace vkcnn::graph
