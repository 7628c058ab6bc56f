// Order, storage classes and lifetimes of a graph's values (see compile.h).
#include "vkcnn/graph/compile.h"

#include "vkcnn/core/error.h"

namespace vkcnn::graph {

Plan compile(Graph graph, const CompileOptions& options) {
    Plan plan;
    const size_t values = graph.value_count(), nodes = graph.node_count();
    // Nodes were appended in a valid order (a node only uses existing values),
    // so append order is a deterministic topological order.
    for (uint32_t i = 0; i < nodes; ++i) plan.order.push_back(i);

    std::vector<int64_t> last_use(values, -1);
    for (uint32_t pos = 0; pos < nodes; ++pos)
        for (ValueId v : graph.node(plan.order[pos]).inputs) last_use[v] = pos;

    plan.storage.resize(values);
    plan.lifetimes.resize(values);
    plan.kept.assign(values, false);
    for (const std::string& name : options.keep) {
        auto v = graph.find(name);
        check(v.has_value(), "compile: keep names '", name, "', which is not a value of this graph");
        plan.kept[*v] = true;
    }
    const uint32_t end = static_cast<uint32_t>(nodes ? nodes - 1 : 0);
    for (ValueId v = 0; v < values; ++v) {
        const Value& value = graph.value(v);
        if (value.role == Role::Input) {
            plan.storage[v] = Storage::Feed;
            check(last_use[v] >= 0, "compile: input '", value.name, "' ", value.shape.str(),
                  " is not connected to anything");
        } else if (is_persistent(value.role)) {
            plan.storage[v] = Storage::Persistent;
        } else {
            plan.storage[v] = Storage::Transient;
            check(value.producer >= 0, "compile: ", role_name(value.role), " '", value.name, "' has no producer");
            if (last_use[v] < 0 || value.output) plan.kept[v] = true; // a result of the step
            const uint32_t first = static_cast<uint32_t>(value.producer); // order is the identity
            const uint32_t last = plan.kept[v] ? end : static_cast<uint32_t>(std::max<int64_t>(last_use[v], first));
            plan.lifetimes[v] = {static_cast<uint64_t>(value.shape.elements()) * dtype_size(value.dtype), first, last};
        }
    }
    plan.graph = std::move(graph);
    return plan;
}

} // namespace vkcnn::graph
