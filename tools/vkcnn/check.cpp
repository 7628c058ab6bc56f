// `vkcnn check`: the smallest end-to-end proof that a machine works: relu
// forward and backward on the chosen GPU and on the CPU backend, compared bit
// for bit (relu involves no rounding, so any difference is a bug).
#include "commands.h"

#include "vkcnn/ops/relu.h"
#include "vkcnn/vulkan/recorder.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>

namespace vkcnn::cli {

namespace {

size_t first_difference(const std::vector<float>& a, const std::vector<float>& b) {
    for (size_t i = 0; i < a.size(); ++i)
        if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return i;
    return a.size();
}

} // namespace

int check_gpu(size_t n, bool validation) {
    DeviceOptions options;
    if (validation) options.validation = true;
    auto dev = Device::create(options);
    std::printf("device: %s (%s, %s)\n", dev->info().name.c_str(), vulkan::device_type_name(dev->info().type),
                dev->info().driver_name.c_str());

    std::mt19937 rng(1234);
    std::normal_distribution<float> normal;
    std::vector<float> x(n), dy(n);
    for (auto& v : x) v = normal(rng);
    for (auto& v : dy) v = normal(rng);

    cpu::ThreadPool pool;
    std::vector<float> y_cpu(n), dx_cpu(n);
    ops::relu_forward_cpu(pool, x, y_cpu);
    ops::relu_backward_cpu(pool, x, dy, dx_cpu);

    auto bx = dev->create_buffer(n * 4, "x"), bdy = dev->create_buffer(n * 4, "dy");
    auto by = dev->create_buffer(n * 4, "y"), bdx = dev->create_buffer(n * 4, "dx");
    dev->upload<float>(bx, x);
    dev->upload<float>(bdy, dy);
    vulkan::Recorder rec(*dev);
    const vulkan::BufferRange fwd[] = {bx, by}, bwd[] = {bx, bdy, bdx};
    rec.fill(by, 0x7fc00000u); // NaN: an element the kernel misses cannot pass
    rec.fill(bdx, 0x7fc00000u);
    rec.dispatch(ops::relu_forward_launch(n), fwd);
    rec.dispatch(ops::relu_backward_launch(n), bwd);
    const auto t0 = std::chrono::steady_clock::now();
    rec.submit_and_wait("vkcnn check");
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::vector<float> y_gpu(n), dx_gpu(n);
    dev->download<float>(by, y_gpu);
    dev->download<float>(bdx, dx_gpu);

    const size_t fy = first_difference(y_gpu, y_cpu), fdx = first_difference(dx_gpu, dx_cpu);
    const size_t messages = dev->validation_log().count();
    if (fy != n || fdx != n || messages) {
        if (fy != n) std::printf("relu_forward differs at %zu: GPU %g, CPU %g\n", fy, y_gpu[fy], y_cpu[fy]);
        if (fdx != n) std::printf("relu_backward differs at %zu: GPU %g, CPU %g\n", fdx, dx_gpu[fdx], dx_cpu[fdx]);
        if (messages) std::printf("%zu validation messages\n", messages);
        std::printf("check FAILED\n");
        return 1;
    }
    std::printf("check passed: relu forward + backward on %zu elements, GPU == CPU bit for bit (%.2f ms on the GPU, "
                "submission included)\n", n, ms);
    return 0;
}

} // namespace vkcnn::cli
