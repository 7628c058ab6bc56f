// Name and size checks for host access to a compiled step's values (see value_access.h).
#include "vkcnn/exec/value_access.h"

#include "vkcnn/core/error.h"

namespace vkcnn::exec {

namespace {

graph::ValueId lookup(const graph::Plan& plan, std::string_view name, size_t elements, DType dtype, const char* verb) {
    const auto v = plan.graph.find(name);
    check(v.has_value(), "cannot ", verb, " '", name, "': no value of that name in this program");
    const graph::Value& value = plan.graph.value(*v);
    check(static_cast<int64_t>(elements) == value.shape.elements(), "cannot ", verb, " '", name, "': it has shape ",
          value.shape.str(), " (", value.shape.elements(), " elements), ", elements, " were given");
    check(dtype == value.dtype, "cannot ", verb, " '", name, "' as ", dtype_name(dtype), ": it holds ",
          dtype_name(value.dtype));
    return *v;
}

} // namespace

graph::ValueId writable_value(const graph::Plan& plan, std::string_view name, size_t elements, DType dtype) {
    const graph::ValueId v = lookup(plan, name, elements, dtype, "write");
    check(plan.storage[v] != graph::Storage::Transient && plan.home[v] == v, "cannot write '", name, "': it is a ",
          graph::role_name(plan.graph.value(v).role), " computed by the program");
    return v;
}

graph::ValueId readable_value(const graph::Plan& plan, std::string_view name, size_t elements, DType dtype) {
    const graph::ValueId v = lookup(plan, name, elements, dtype, "read");
    check(plan.storage[v] != graph::Storage::Transient || plan.kept[v], "cannot read '", name,
          "': its memory is reused during the step; name it in CompileOptions::keep to keep it readable");
    return v;
}

} // namespace vkcnn::exec
