// reshape and flatten: the same elements under another shape. A view — the
// executors give the output its input's memory (graph/compile.h: Plan::home)
// and run nothing; the gradient is the output gradient reshaped back.
#include "vkcnn/graph/op_def.h"

#include "vkcnn/core/error.h"

namespace vkcnn::graph {

const OpDef reshape_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        expect_inputs(in, 1);
        const Shape& to = attrs_as<ReshapeAttrs>(attrs).shape;
        check(to.elements() == in[0]->shape.elements(), "cannot view ", in[0]->shape.elements(), " elements as ",
              to.str(), " (", to.elements(), " elements)");
        return {{to, in[0]->dtype}};
    },
    [](Graph& g, const Node& n, std::span<const std::optional<ValueId>> dy, const std::vector<bool>&)
        -> std::vector<std::optional<ValueId>> {
        return {g.reshape(*dy[0], g.value(n.inputs[0]).shape, n.name + ".backward")};
    },
    nullptr,
    nullptr,
    true,
};

ValueId Graph::reshape(ValueId x, Shape shape, std::string name) {
    return add_node(Op::reshape, std::move(name), {x}, ReshapeAttrs{std::move(shape)})[0];
}

ValueId Graph::flatten(ValueId x, std::string name) {
    check(x < value_count(), "flatten: value ", x, " does not exist");
    const Shape& s = value(x).shape;
    check(s.rank() >= 1, "flatten: '", value(x).name, "' is a scalar");
    return reshape(x, Shape{s[0], s.elements() / s[0]}, std::move(name));
}

} // namespace vkcnn::graph
