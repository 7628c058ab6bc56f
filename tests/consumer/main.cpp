// An application linking the installed vkcnn: relu on the GPU, checked on the CPU.
#include <vkcnn/ops/relu.h>
#include <vkcnn/vulkan/recorder.h>

#include <cstdio>

int main() {
    try {
        auto dev = vkcnn::Device::create();
        const std::vector<float> x = {-1.0f, 2.0f, -3.0f, 4.0f};
        std::vector<float> y(x.size()), want(x.size());
        auto bx = dev->create_buffer(16, "x"), by = dev->create_buffer(16, "y");
        dev->upload<float>(bx, x);
        vkcnn::vulkan::Recorder rec(*dev);
        const vkcnn::vulkan::BufferRange args[] = {bx, by};
        rec.dispatch(vkcnn::ops::relu_forward_launch(x.size()), args);
        rec.submit_and_wait();
        dev->download<float>(by, y);
        vkcnn::ops::relu_forward_reference(x, want);
        if (y != want) {
            std::printf("consumer: wrong result\n");
            return 1;
        }
        std::printf("consumer: ok on %s\n", dev->info().name.c_str());
        return 0;
    } catch (const vkcnn::Error& e) {
        std::printf("consumer: %s\n", e.what());
        return 1;
    }
}
