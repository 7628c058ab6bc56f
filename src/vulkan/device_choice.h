// Which device vkcnn uses when it creates its own (Device::create, `vkcnn
// info`), and why: the user's selector if given, else the most capable type
// present, ties broken by the quirk table's preference, then by order.
#pragma once

#include "vkcnn/vulkan/device_info.h"

#include <string>
#include <string_view>
#include <vector>

namespace vkcnn::vulkan {

struct DeviceChoice {
    size_t index = 0; // into the list given
    std::string why;  // one sentence, for `vkcnn info`
};

// `selector` (usually $VKCNN_DEVICE) is an index or a case-insensitive
// substring of the name; empty picks by type, discrete > integrated > virtual
// > CPU, then by Quirks::preference (SwiftShader after lavapipe). Unusable
// devices are never picked. Throws an error listing the devices when nothing fits.
DeviceChoice choose_device(const std::vector<DeviceInfo>& devices, std::string_view selector);

} // namespace vkcnn::vulkan
