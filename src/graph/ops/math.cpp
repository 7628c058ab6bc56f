// Math ops in the graph: the unary math family (ops/unary_math.h: scale, abs,
// sign, clamp, square, sqrt, exp, log; one forward op, the kind in its
// attributes, and one backward op) and sum / mean over the whole tensor or a
// block of trailing axes (ops/reduce.h's deterministic kernels), whose
// gradient is one broadcast of dy (ops::broadcast_rows).
#include "vkcnn/graph/op_def.h"

#include "vkcnn/core/error.h"
#include "vkcnn/ops/reduce.h"
#include "vkcnn/ops/unary_math.h"

#include <algorithm>
#include <string>

namespace vkcnn::graph {

namespace {

using Grads = std::vector<std::optional<ValueId>>;
using Dy = std::span<const std::optional<ValueId>>;

void expect_f32(const Value& v) {
    check(v.dtype == DType::F32, "'", v.name, "' ", v.shape.str(), " is ", dtype_name(v.dtype), ", expected f32");
}

const ops::UnaryMathAttrs& math(const Node& n) { return attrs_as<ops::UnaryMathAttrs>(n.attrs); }

// unary_math (x) -> y
std::vector<TensorType> unary_math_shape(std::span<const Value* const> in, const Attributes& attrs) {
    ops::unary_math_check(attrs_as<ops::UnaryMathAttrs>(attrs));
    expect_inputs(in, 1);
    expect_f32(*in[0]);
    return {{in[0]->shape}};
}

// unary_math_backward (saved, dy) -> dx
std::vector<TensorType> unary_math_backward_shape(std::span<const Value* const> in, const Attributes& attrs) {
    ops::unary_math_check(attrs_as<ops::UnaryMathAttrs>(attrs));
    expect_inputs(in, 2);
    expect_same_shape(*in[0], *in[1]);
    return {{in[0]->shape}};
}

// One backward op for every kind, reading what the kind's derivative needs:
// x (abs, clamp, square, log) or y (sqrt, exp: the derivative is a function
// of the output, as PyTorch saves it, so x need not stay alive). scale and
// sign need neither; their node takes dy in both slots rather than keeping
// x alive for a read that never happens.
Grads unary_math_gradient(Graph& g, const Node& n, Dy dy, const std::vector<bool>&) {
    ValueId saved = *dy[0];
    switch (ops::unary_math_backward_reads(math(n).kind)) {
    case ops::UnaryMathSaved::none: break;
    case ops::UnaryMathSaved::x: saved = n.inputs[0]; break;
    case ops::UnaryMathSaved::y: saved = n.outputs[0]; break;
    }
    return {g.add_node(Op::unary_math_backward, n.name + ".backward", {saved, *dy[0]}, n.attrs)[0]};
}

// A sum or mean node's reduction as the rows kernels see it: (rows, cols),
// cols the product of the reduced axes; `whole` when that is every element
// (the two-pass whole-tensor kernels then, and a (1,) output).
struct Reduction {
    size_t rows, cols;
    bool whole;
    Shape out;
};

std::string list(const std::vector<int64_t>& axes) {
    std::string s = "[";
    for (size_t i = 0; i < axes.size(); ++i) s += (i ? ", " : "") + std::to_string(axes[i]);
    return s + "]";
}

Reduction reduction(const Value& x, const ReduceAttrs& a) {
    const Shape& shape = x.shape;
    const auto rank = static_cast<int64_t>(shape.rank());
    check(shape.elements() > 0, "'", x.name, "' ", shape.str(), " has no elements to reduce");
    int64_t first = 0; // the first reduced axis; 0 when none are given: the whole tensor
    if (!a.axes.empty()) {
        std::vector<int64_t> axes;
        for (const int64_t axis : a.axes) {
            check(axis >= -rank && axis < rank, "axis ", axis, " is out of range for '", x.name, "' ", shape.str(),
                  " (rank ", rank, ")");
            axes.push_back(axis < 0 ? axis + rank : axis);
        }
        std::sort(axes.begin(), axes.end());
        bool trailing_block = axes.back() == rank - 1;
        for (size_t i = 1; i < axes.size(); ++i) trailing_block = trailing_block && axes[i] == axes[i - 1] + 1;
        check(trailing_block, "axes ", list(a.axes), " of '", x.name, "' ", shape.str(),
              " are not a contiguous block of trailing axes (each once, the last axis included)");
        first = axes.front();
    }
    Reduction r{1, 1, first == 0, Shape{1}};
    for (size_t d = 0; d < shape.rank(); ++d) {
        const auto extent = static_cast<size_t>(shape[d]);
        if (static_cast<int64_t>(d) < first) r.rows *= extent;
        else r.cols *= extent;
    }
    if (!r.whole) r.out = Shape(std::vector<int64_t>(shape.dims.begin(), shape.dims.begin() + first));
    return r;
}

Reduction reduction(const Graph& g, const Node& n) {
    return reduction(g.value(n.inputs[0]), attrs_as<ReduceAttrs>(n.attrs));
}

// sum / mean (x) -> the leading dims, or (1,)
std::vector<TensorType> reduce_shape(std::span<const Value* const> in, const Attributes& attrs) {
    const auto& a = attrs_as<ReduceAttrs>(attrs);
    expect_inputs(in, 1);
    expect_f32(*in[0]);
    return {{reduction(*in[0], a).out}};
}

template <bool Mean>
Grads reduce_gradient(Graph& g, const Node& n, Dy dy, const std::vector<bool>&) {
    return {g.add_node(Op::reduce_backward, n.name + ".backward", {*dy[0]},
                       ReduceBackwardAttrs{g.value(n.inputs[0]).shape, Mean})[0]};
}

template <bool Mean>
GpuLowering reduce_gpu(const Graph& g, const Node& n, const GemmTuning& tuning) {
    const Reduction r = reduction(g, n);
    if (!r.whole) return single(ops::reduce_rows_launch(r.rows, r.cols, Mean, tuning.subgroup_reductions), n);
    // One workgroup per row would leave a device idle on a whole tensor: partial
    // sums, then their fixed-order total (divided by the count for a mean).
    GpuLowering lowered;
    const ArgRef partials = lowered.add_temp(ops::reduce_partial_count(r.cols));
    lowered.kernels.push_back(
        {ops::reduce_partials_launch(r.cols, tuning.subgroup_reductions), {{ArgRef::Input, 0}, partials}});
    lowered.kernels.push_back({ops::reduce_finish_launch(ops::reduce_partial_count(r.cols),
                                                         Mean ? static_cast<float>(r.cols) : 1.0f),
                               {partials, {ArgRef::Output, 0}}});
    return lowered;
}

template <bool Mean>
void reduce_cpu(const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
    const Reduction r = reduction(g, n);
    if (r.whole) out[0][0] = Mean ? ops::mean_cpu(pool, in[0]) : ops::sum_cpu(pool, in[0]);
    else if (Mean) ops::mean_rows_cpu(pool, r.rows, r.cols, in[0], out[0]);
    else ops::sum_rows_cpu(pool, r.rows, r.cols, in[0], out[0]);
}

// reduce_backward (dy) -> dx of the forward input's shape: dy's elements are
// the rows, each broadcast over the reduced (trailing) elements.
struct Broadcast {
    size_t rows, cols;
    float scale;
};

Broadcast broadcast(const Value& dy, const ReduceBackwardAttrs& a) {
    const auto rows = static_cast<size_t>(dy.shape.elements());
    const auto x = static_cast<size_t>(a.x_shape.elements());
    check(rows > 0 && x % rows == 0, "dy '", dy.name, "' ", dy.shape.str(), " is not the reduction of ",
          a.x_shape.str(), " over trailing axes");
    const size_t cols = x / rows;
    return {rows, cols, a.mean ? 1.0f / static_cast<float>(cols) : 1.0f};
}

Broadcast broadcast(const Graph& g, const Node& n) {
    return broadcast(g.value(n.inputs[0]), attrs_as<ReduceBackwardAttrs>(n.attrs));
}

} // namespace

const OpDef unary_math_def{
    unary_math_shape,
    unary_math_gradient,
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return single(ops::unary_math_forward_launch(math(n), elements(g, n.outputs[0])), n);
    },
    [](const Graph&, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::unary_math_forward_cpu(pool, math(n), in[0], out[0]);
    },
    false, // view
    0,     // updates
    true,  // in place
};

const OpDef unary_math_backward_def{
    unary_math_backward_shape,
    nullptr, // second derivatives are not supported
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return single(ops::unary_math_backward_launch(math(n), elements(g, n.outputs[0])), n);
    },
    [](const Graph&, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::unary_math_backward_cpu(pool, math(n), in[0], in[1], out[0]);
    },
    false, // view
    0,     // updates
    true,  // in place
};

const OpDef sum_def{reduce_shape, reduce_gradient<false>, reduce_gpu<false>, reduce_cpu<false>};
const OpDef mean_def{reduce_shape, reduce_gradient<true>, reduce_gpu<true>, reduce_cpu<true>};

const OpDef reduce_backward_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        const auto& a = attrs_as<ReduceBackwardAttrs>(attrs);
        expect_inputs(in, 1);
        broadcast(*in[0], a);
        return {{a.x_shape}};
    },
    nullptr,
    [](const Graph& g, const Node& n, const GemmTuning&) {
        const Broadcast b = broadcast(g, n);
        return single(ops::broadcast_rows_launch(b.rows, b.cols, b.scale), n);
    },
    [](const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        const Broadcast b = broadcast(g, n);
        ops::broadcast_rows_cpu(pool, b.rows, b.cols, b.scale, in[0], out[0]);
    },
};

ValueId Graph::unary_math(ValueId x, const ops::UnaryMathAttrs& attrs, std::string name) {
    return add_node(Op::unary_math, std::move(name), {x}, attrs)[0];
}
ValueId Graph::scale(ValueId x, float a, float b, std::string name) {
    return unary_math(x, ops::scale_attrs(a, b), std::move(name));
}
ValueId Graph::abs(ValueId x, std::string name) {
    return unary_math(x, ops::unary_math(ops::UnaryMath::abs), std::move(name));
}
ValueId Graph::sign(ValueId x, std::string name) {
    return unary_math(x, ops::unary_math(ops::UnaryMath::sign), std::move(name));
}
ValueId Graph::clamp(ValueId x, float lo, float hi, std::string name) {
    return unary_math(x, ops::clamp_attrs(lo, hi), std::move(name));
}
ValueId Graph::square(ValueId x, std::string name) {
    return unary_math(x, ops::unary_math(ops::UnaryMath::square), std::move(name));
}
ValueId Graph::sqrt(ValueId x, std::string name) {
    return unary_math(x, ops::unary_math(ops::UnaryMath::sqrt), std::move(name));
}
ValueId Graph::exp(ValueId x, std::string name) {
    return unary_math(x, ops::unary_math(ops::UnaryMath::exp), std::move(name));
}
ValueId Graph::log(ValueId x, std::string name) {
    return unary_math(x, ops::unary_math(ops::UnaryMath::log), std::move(name));
}
ValueId Graph::sum(ValueId x, std::vector<int64_t> axes, std::string name) {
    return add_node(Op::sum, std::move(name), {x}, ReduceAttrs{std::move(axes)})[0];
}
ValueId Graph::mean(ValueId x, std::vector<int64_t> axes, std::string name) {
    return add_node(Op::mean, std::move(name), {x}, ReduceAttrs{std::move(axes)})[0];
}

} // namespace vkcnn::graph
