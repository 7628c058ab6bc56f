// Receptive fields propagated through the model's graph (see receptive_field.h).
#include "vkcnn/viz/receptive_field.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <variant>

namespace vkcnn::viz {

namespace {

struct Field {
    FieldAxis y, x;
    bool whole = false;
};

// A window of k taps spaced d apart, moved s at a time, over a layer whose
// units are `f`: the new unit 0 starts p layer-units before the old one.
FieldAxis through_window(FieldAxis f, int64_t k, int64_t s, int64_t p, int64_t d) {
    return {f.size + (k - 1) * d * f.jump, f.jump * s, f.start - p * f.jump};
}

Field through_window(const Field& f, std::array<int64_t, 2> k, std::array<int64_t, 2> s, std::array<int64_t, 2> p,
                     std::array<int64_t, 2> d) {
    if (f.whole) return f;
    return {through_window(f.y, k[0], s[0], p[0], d[0]), through_window(f.x, k[1], s[1], p[1], d[1]), false};
}

// The union of two branches that meet on one output grid (a residual sum, a
// concatenation): the largest window over both. Branches that step through
// the input differently have no common grid; the whole input bounds them.
Field merge(const Field& a, const Field& b) {
    if (a.whole || b.whole || a.y.jump != b.y.jump || a.x.jump != b.x.jump) return {{}, {}, true};
    const auto axis = [](FieldAxis u, FieldAxis v) {
        const int64_t start = std::min(u.start, v.start);
        const int64_t end = std::max(u.start + u.size, v.start + v.size);
        return FieldAxis{end - start, u.jump, start};
    };
    return {axis(a.y, b.y), axis(a.x, b.x), false};
}

bool passes_through(graph::Op op) {
    using graph::Op;
    switch (op) {
    case Op::relu: case Op::leaky_relu: case Op::sigmoid: case Op::tanh: case Op::batch_norm2d:
    case Op::batch_norm2d_eval: case Op::dropout: case Op::add: case Op::mul: case Op::concat:
        return true;
    default:
        return false;
    }
}

// The field of one node's first output from its inputs' fields.
Field node_field(const graph::Graph& g, const graph::Node& n, const std::unordered_map<graph::ValueId, Field>& fields) {
    using graph::Op;
    const auto field_of = [&](graph::ValueId v) -> std::optional<Field> {
        const auto it = fields.find(v);
        if (it == fields.end()) return std::nullopt;
        return it->second;
    };
    if (passes_through(n.op)) { // elementwise: every input that depends on the image joins
        std::optional<Field> f;
        for (graph::ValueId in : n.inputs)
            if (const auto fi = field_of(in)) f = f ? merge(*f, *fi) : *fi;
        return f ? *f : Field{{}, {}, true};
    }
    const std::optional<Field> in = n.inputs.empty() ? std::nullopt : field_of(n.inputs[0]);
    if (!in) return {{}, {}, true};
    switch (n.op) {
    case Op::conv2d: {
        const auto& a = std::get<ops::Conv2dAttrs>(n.attrs);
        const Shape& w = g.value(n.inputs[1]).shape; // (Cout, Cin / groups, kH, kW)
        return through_window(*in, {w[2], w[3]}, {a.stride_h, a.stride_w}, {a.pad_top, a.pad_left},
                              {a.dilation_h, a.dilation_w});
    }
    case Op::max_pool2d: {
        const auto& a = std::get<ops::MaxPool2dAttrs>(n.attrs);
        const bool by_kernel = a.stride[0] == 0 && a.stride[1] == 0; // PyTorch's stride=None
        const auto& s = by_kernel ? a.kernel : a.stride;
        return through_window(*in, {a.kernel[0], a.kernel[1]}, {s[0], s[1]}, {a.padding[0], a.padding[1]},
                              {a.dilation[0], a.dilation[1]});
    }
    case Op::avg_pool2d: {
        const auto& a = std::get<ops::AvgPool2dAttrs>(n.attrs);
        const bool by_kernel = a.stride[0] == 0 && a.stride[1] == 0;
        const auto& s = by_kernel ? a.kernel : a.stride;
        return through_window(*in, {a.kernel[0], a.kernel[1]}, {s[0], s[1]}, {a.padding[0], a.padding[1]}, {1, 1});
    }
    case Op::adaptive_avg_pool2d: {
        // Windows [floor(i H / OH), ceil((i + 1) H / OH)): a fixed grid (k = s
        // = H / OH) when OH divides H, of varying size otherwise.
        const Shape& x = g.value(n.inputs[0]).shape;
        const Shape& y = g.value(n.outputs[0]).shape;
        if (x[2] % y[2] != 0 || x[3] % y[3] != 0) return {{}, {}, true};
        const int64_t kh = x[2] / y[2], kw = x[3] / y[3];
        return through_window(*in, {kh, kw}, {kh, kw}, {0, 0}, {1, 1});
    }
    default: // Flatten, Linear, softmax, transposed convolution, ...
        return {{}, {}, true};
    }
}

} // namespace

std::vector<ReceptiveField> receptive_fields(const nn::Module& net, std::array<int64_t, 3> input) {
    graph::Graph g;
    nn::BuildContext ctx(g, false); // eval mode: no dropout nodes, batch norm as an affine map
    const graph::ValueId x = g.input("input", Shape{1, input[0], input[1], input[2]});
    net.forward(ctx, x);
    std::unordered_map<graph::ValueId, Field> fields{{x, Field{}}};
    for (size_t i = 0; i < g.node_count(); ++i) {
        const graph::Node& n = g.node(i);
        const Field f = node_field(g, n, fields);
        for (graph::ValueId out : n.outputs) fields[out] = f;
    }
    std::vector<ReceptiveField> out;
    out.push_back({"input", g.value(x).shape, {}, {}, false});
    for (const nn::BuildContext::Layer& l : ctx.layers()) {
        const auto it = fields.find(l.value);
        const Field f = it != fields.end() ? it->second : Field{{}, {}, true};
        // A spatial field is only meaningful on a (1, C, H, W) output.
        const bool spatial = g.value(l.value).shape.rank() == 4;
        out.push_back({l.path, g.value(l.value).shape, f.y, f.x, f.whole || !spatial});
    }
    return out;
}

std::vector<ReceptiveField> receptive_fields(const nn::Model& model) {
    return receptive_fields(model.module(), model.options().input);
}

ReceptiveField receptive_field(const nn::Model& model, std::string_view path) {
    for (ReceptiveField& f : receptive_fields(model))
        if (f.path == path) return std::move(f);
    throw Error(cat("receptive_field: '", path, "' is not a layer of the model (", model.layer_paths(), ")"));
}

Box field_box(const ReceptiveField& f, std::array<int64_t, 3> input, Unit unit) {
    const Shape& s = f.shape;
    const bool spatial = s.rank() == 4;
    const int64_t channels = s.rank() >= 2 ? s[1] : 1;
    const int64_t h = spatial ? s[2] : 1, w = spatial ? s[3] : 1;
    check(unit.channel >= 0 && unit.channel < channels && unit.y >= 0 && unit.y < h && unit.x >= 0 && unit.x < w,
          "receptive field of layer '", f.path, "': unit (channel ", unit.channel, ", y ", unit.y, ", x ", unit.x,
          ") is outside its output ", s.str());
    if (f.whole) return {0, 0, input[2], input[1]};
    const int64_t y0 = f.y.start + unit.y * f.y.jump, x0 = f.x.start + unit.x * f.x.jump;
    return {x0, y0, x0 + f.x.size, y0 + f.y.size};
}

Box input_box(const ReceptiveField& f, std::array<int64_t, 3> input, Unit unit) {
    const Box b = field_box(f, input, unit);
    const auto clip = [](int64_t v, int64_t hi) { return std::clamp<int64_t>(v, 0, hi); };
    return {clip(b.x0, input[2]), clip(b.y0, input[1]), clip(b.x1, input[2]), clip(b.y1, input[1])};
}

} // namespace vkcnn::viz
