// The GPU test fixture: one validated Device per test process (the Khronos
// validation layer with synchronization validation), and a check after every
// test that no validation message arrived. Any message fails the test.
#pragma once

#include "vkcnn/vulkan/device.h"

#include <doctest/doctest.h>

namespace vkcnn::test {

// The shared device, created on first use with validation on. Its pipeline
// cache lives in a per-process temporary directory.
Device& gpu();

// Options every test device uses: validation + sync validation, temporary cache dir.
DeviceOptions validated_options();

// Fails the current test with every validation message collected on `device`.
void expect_no_validation_messages(Device& device);

// Use as TEST_CASE_FIXTURE(GpuTest, "...") — checks the log when the test ends.
struct GpuTest {
    Device& dev = gpu();
    GpuTest() { dev.validation_log().take(); }
    ~GpuTest() { expect_no_validation_messages(dev); }
};

} // namespace vkcnn::test
