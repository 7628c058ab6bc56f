// The device-choice rule (see device_choice.h).
#include "vkcnn/vulkan/device_choice.h"

#include "vkcnn/core/error.h"
#include "vkcnn/vulkan/quirks.h"

#include <algorithm>
#include <cctype>
#include <optional>

namespace vkcnn::vulkan {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

int type_rank(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
    }
}

std::string device_list(const std::vector<DeviceInfo>& devices) {
    std::string s;
    for (auto& d : devices)
        s += cat("\n  [", d.index, "] ", d.name, " (", device_type_name(d.type), ")",
                 d.usable ? "" : cat(" — unusable: ", d.unusable_reason));
    return s.empty() ? "\n  (none)" : s;
}

DeviceChoice choose_by_selector(const std::vector<DeviceInfo>& devices, std::string_view selector) {
    const bool is_index =
        std::all_of(selector.begin(), selector.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    for (size_t i = 0; i < devices.size(); ++i) {
        const bool match = is_index ? std::to_string(devices[i].index) == selector
                                    : lower(devices[i].name).find(lower(selector)) != std::string::npos;
        if (!match) continue;
        check(devices[i].usable, "VKCNN_DEVICE='", selector, "' selects ", devices[i].name, ", which ",
              devices[i].unusable_reason, ". Devices:", device_list(devices));
        return {i, cat("VKCNN_DEVICE='", selector, "' ", is_index ? "is its index" : "is part of its name")};
    }
    throw Error(cat("VKCNN_DEVICE='", selector, "' matches no device (give an index or part of a name). Devices:",
                    device_list(devices)));
}

} // namespace

DeviceChoice choose_device(const std::vector<DeviceInfo>& devices, std::string_view selector) {
    if (devices.empty())
        throw VulkanUnavailableError(
            "no Vulkan device found: no driver is installed (on Debian `apt-get install "
            "mesa-vulkan-drivers` gives lavapipe, a CPU implementation). The CPU backend works without one.");
    if (!selector.empty()) return choose_by_selector(devices, selector);

    std::vector<Quirks> quirks;
    for (const DeviceInfo& d : devices) quirks.push_back(quirks_for(d, nullptr));
    const auto better = [&](size_t a, size_t b) { // a is chosen over b
        const int ta = type_rank(devices[a].type), tb = type_rank(devices[b].type);
        return ta != tb ? ta > tb : quirks[a].preference > quirks[b].preference;
    };
    std::optional<size_t> best;
    for (size_t i = 0; i < devices.size(); ++i)
        if (devices[i].usable && (!best || better(i, *best))) best = i;
    if (!best) throw VulkanUnavailableError(cat("no usable Vulkan device. Devices:", device_list(devices)));

    // Why: the type, then whatever it beat that had the same type.
    const DeviceInfo& chosen = devices[*best];
    std::string why = cat("the highest-ranked type present, ", device_type_name(chosen.type),
                          " (discrete GPU > integrated > virtual > CPU)");
    for (size_t i = 0; i < devices.size(); ++i) {
        if (i == *best || !devices[i].usable || devices[i].type != chosen.type) continue;
        if (quirks[i].preference < quirks[*best].preference)
            why += cat("; before ", devices[i].name, ": ", quirks[i].preference_reason);
        else
            why += cat("; before ", devices[i].name, ": listed first");
    }
    return {*best, why};
}

} // namespace vkcnn::vulkan
