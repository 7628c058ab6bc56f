// An application with its own Vulkan device (a game, a renderer) that trains a
// small CNN on it with vkcnn, each training step spread over several frames.
// README.md shows this program; the test suite builds it against the
// installed package and runs it (tests/consumer/run.cmake).
#include <vkcnn/exec/vulkan_program.h>
#include <vkcnn/nn/layers.h>
#include <vkcnn/nn/trainer.h>
#include <vkcnn/vulkan/device.h>

#include <vulkan/vulkan.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

using namespace vkcnn;

constexpr int kClasses = 4, kBatch = 32, kSteps = 60;
constexpr double kFrameFlops = 2e6; // the training work one frame may submit

// Synthetic 1x28x28 images, so no dataset is needed: a bright 6x6 square in
// quadrant `label` (jittered) on noise.
void make_batch(std::mt19937& rng, int n, std::vector<float>& images, std::vector<int32_t>& labels) {
    std::uniform_int_distribution<int> klass(0, kClasses - 1), jitter(0, 8);
    std::uniform_real_distribution<float> noise(0.0f, 0.8f);
    images.resize(size_t(n) * 28 * 28);
    labels.resize(size_t(n));
    for (int i = 0; i < n; ++i) {
        float* image = &images[size_t(i) * 28 * 28];
        for (int p = 0; p < 28 * 28; ++p) image[p] = noise(rng);
        labels[i] = klass(rng);
        const int y0 = labels[i] / 2 * 14 + jitter(rng), x0 = labels[i] % 2 * 14 + jitter(rng);
        for (int y = y0; y < y0 + 6; ++y)
            for (int x = x0; x < x0 + 6; ++x) image[y * 28 + x] = 1.0f;
    }
}

// The application's own Vulkan objects, made with the system loader: the
// first device and a queue of its first compute-capable family. vkcnn
// borrows them (Device::adopt) and never destroys them.
struct HostVulkan {
    VkInstance instance = VK_NULL_HANDLE;
    VkPhysicalDevice physical = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    uint32_t family = 0;
    VkQueue queue = VK_NULL_HANDLE;

    // False when this machine has no Vulkan driver or no device with a compute queue.
    bool create() {
        const VkApplicationInfo app{.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .apiVersion = VK_API_VERSION_1_2};
        const VkInstanceCreateInfo ici{.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app};
        uint32_t n = 1;
        if (vkCreateInstance(&ici, nullptr, &instance) != VK_SUCCESS ||
            vkEnumeratePhysicalDevices(instance, &n, &physical) < 0 || n == 0)
            return false;
        vkGetPhysicalDeviceQueueFamilyProperties(physical, &n, nullptr);
        std::vector<VkQueueFamilyProperties> families(n);
        vkGetPhysicalDeviceQueueFamilyProperties(physical, &n, families.data());
        while (family < n && !(families[family].queueFlags & VK_QUEUE_COMPUTE_BIT)) ++family;
        const float priority = 1.0f;
        const VkDeviceQueueCreateInfo qci{.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                          .queueFamilyIndex = family, .queueCount = 1, .pQueuePriorities = &priority};
        const VkDeviceCreateInfo dci{.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .queueCreateInfoCount = 1,
                                     .pQueueCreateInfos = &qci};
        if (family == n || vkCreateDevice(physical, &dci, nullptr, &device) != VK_SUCCESS) return false;
        vkGetDeviceQueue(device, family, 0, &queue);
        return true;
    }
    ~HostVulkan() {
        if (device) vkDestroyDevice(device, nullptr);
        if (instance) vkDestroyInstance(instance, nullptr);
    }
};

// Every vkcnn object lives in this function, so all are gone before the
// host destroys its device. Returns the exit status.
int train(const HostVulkan& host) {
    // vkcnn computes on the host's device and queue; it submits only inside our calls, on this thread.
    auto device = Device::adopt({.instance = host.instance, .physical_device = host.physical, .device = host.device,
                                 .queue_family = host.family, .queue = host.queue});
    std::printf("consumer: training on %s, adopted\n", device->info().name.c_str());

    // A tiny CNN: conv (8, 24, 24) -> ReLU -> 4x4 max pool (8, 6, 6) -> linear to the classes.
    nn::Model model(nn::Sequential(nn::Conv2d(1, 8, 5), nn::ReLU(), nn::MaxPool2d(4), nn::Flatten(),
                                   nn::Linear(8 * 6 * 6, kClasses)),
                    {.input = {1, 28, 28}, .classes = kClasses, .seed = 1}, *device);
    // The step is cut into command buffers of bounded work, so a frame submits only what its budget allows.
    nn::Trainer trainer(model, {.batch = kBatch, .optimizer = ops::SgdAttrs{.lr = 0.01, .momentum = 0.9},
                                .max_segment_flops = kFrameFlops / 2});
    exec::VulkanProgram& gpu = trainer.vulkan_program();
    // A forward program on the same live weights that keeps layer "1" (the ReLU): what a renderer would draw.
    auto viewer = model.program({.batch = 1, .keep = {"1"}});

    std::mt19937 rng(7);
    std::vector<float> images, test_images;
    std::vector<int32_t> labels, test_labels;
    make_batch(rng, 256, test_images, test_labels); // held out
    double first_loss = 0, last_loss = 0, accuracy = 0;
    size_t frames = 0;
    for (int step = 0; step < kSteps; ++step) {
        // Stage the batch into a free upload slot; nothing runs yet.
        make_batch(rng, kBatch, images, labels);
        const uint32_t slot = trainer.prepare_step(images, labels);
        // One frame at a time: submit the segments that fit the frame's budget (at least one),
        // which returns at once; the application would record and submit its frame here.
        for (size_t next = 0; next < gpu.segment_count(); ++frames) {
            const size_t n = gpu.segments_within(next, kFrameFlops);
            gpu.submit_segments(slot, next, n);
            next += n;
        }
        // Waits on vkcnn's own fence (never the whole queue) and reads the step's loss.
        const nn::StepResult r = trainer.finish_step(slot);
        if (step < 5) first_loss += r.loss / 5;
        if (step >= kSteps - 5) last_loss += r.loss / 5;

        if (step % 15 == 14) {
            // Between steps, on the live weights (nothing copied): held-out accuracy ...
            const std::vector<float> logits = model.predict(test_images, 256);
            int correct = 0;
            for (size_t i = 0; i < test_labels.size(); ++i) {
                const float* row = &logits[i * kClasses];
                correct += std::max_element(row, row + kClasses) - row == test_labels[i];
            }
            accuracy = correct / 256.0;
            // ... and one image's feature maps.
            viewer->set_input({test_images.data(), 28 * 28});
            viewer->run();
            const std::vector<float> maps = viewer->activation("1");
            const auto active = std::count_if(maps.begin(), maps.end(), [](float v) { return v > 0; });
            std::printf("consumer: step %2d  loss %.3f  held-out accuracy %5.1f%%  layer 1: %zu values, %td > 0\n",
                        step + 1, r.loss, 100 * accuracy, maps.size(), active);
        }
    }
    std::printf("consumer: %zu segments per step of %.1f MFLOP, %.1f frames per step; mean loss %.3f -> %.3f\n",
                gpu.segment_count(), gpu.step_flops() / 1e6, double(frames) / kSteps, first_loss, last_loss);
    if (!(last_loss < 0.5 * first_loss) || accuracy < 0.9) {
        std::printf("consumer: FAILED: the loss did not halve or the accuracy is below 90%% (chance: 25%%)\n");
        return 1;
    }
    std::printf("consumer: ok\n");
    return 0;
}

int main() {
    HostVulkan host;
    if (!host.create()) {
        std::printf("consumer: skipped: no Vulkan driver or device with a compute queue\n");
        return 77; // run.cmake reports the test skipped
    }
    try {
        return train(host);
    } catch (const vkcnn::Error& e) {
        std::printf("consumer: %s\n", e.what());
        return 1;
    }
}
