// Profile tables (see profile.h).
#include "vkcnn/exec/profile.h"

#include <algorithm>
#include <cstdio>

namespace vkcnn::exec {

std::vector<NodeTime> finish_profile(std::vector<NodeTime> rows) {
    double total = 0;
    for (const NodeTime& r : rows) total += r.microseconds;
    for (NodeTime& r : rows) r.share = total > 0 ? r.microseconds / total : 0.0;
    std::stable_sort(rows.begin(), rows.end(), [](const NodeTime& a, const NodeTime& b) {
        return a.microseconds != b.microseconds ? a.microseconds > b.microseconds : a.node < b.node;
    });
    return rows;
}

std::string format_profile(const std::vector<NodeTime>& rows) {
    size_t node_w = 4, op_w = 2, shape_w = 5;
    for (const NodeTime& r : rows) {
        node_w = std::max(node_w, r.node.size());
        op_w = std::max(op_w, r.op.size());
        shape_w = std::max(shape_w, r.shape.str().size());
    }
    std::string out;
    char line[512];
    const auto row = [&](const char* node, const char* op, const char* shape, const char* dispatches, const char* us,
                         const char* share) {
        std::snprintf(line, sizeof line, "%-*s  %-*s  %-*s  %10s  %12s  %6s\n", static_cast<int>(node_w), node,
                      static_cast<int>(op_w), op, static_cast<int>(shape_w), shape, dispatches, us, share);
        out += line;
    };
    row("node", "op", "shape", "dispatches", "microseconds", "share");
    double total = 0;
    for (const NodeTime& r : rows) {
        char d[32], us[32], share[32];
        std::snprintf(d, sizeof d, "%zu", r.dispatches);
        std::snprintf(us, sizeof us, "%.1f", r.microseconds);
        std::snprintf(share, sizeof share, "%.1f%%", 100.0 * r.share);
        row(r.node.c_str(), r.op.c_str(), r.shape.str().c_str(), d, us, share);
        total += r.microseconds;
    }
    char us[32];
    std::snprintf(us, sizeof us, "%.1f", total);
    row("total", "", "", "", us, "100.0%");
    return out;
}

} // namespace vkcnn::exec
