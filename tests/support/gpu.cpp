// The validated test device (see gpu.h).
#include "support/gpu.h"

#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>

namespace vkcnn::test {

DeviceOptions validated_options() {
    DeviceOptions o;
    o.validation = true;
    o.sync_validation = true;
    o.cache_dir = std::filesystem::temp_directory_path() / ("vkcnn-test-cache-" + std::to_string(getpid()));
    return o;
}

Device& gpu() {
    static std::unique_ptr<Device> device = [] {
        auto d = Device::create(validated_options());
        d->validation_log().echo_to_stderr = false; // reported by the check instead
        return d;
    }();
    return *device;
}

void expect_no_validation_messages(Device& device) {
    for (const std::string& m : device.validation_log().take()) FAIL_CHECK("validation message: " << m);
}

} // namespace vkcnn::test
