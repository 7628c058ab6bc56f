// Lazy compute-pipeline creation and the persisted pipeline cache (see pipeline.h).
#include "vkcnn/vulkan/pipeline.h"

#include "vkcnn/core/error.h"
#include "vkcnn/vulkan/result.h"
#include "vkcnn/vulkan/shader_registry.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace vkcnn::vulkan {

namespace fs = std::filesystem;

fs::path default_cache_dir() {
    if (const char* d = std::getenv("VKCNN_CACHE_DIR"); d && *d) return d;
    if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return fs::path(d) / "vkcnn";
    if (const char* d = std::getenv("HOME"); d && *d) return fs::path(d) / ".cache" / "vkcnn";
    return {};
}

bool pipeline_cache_matches(std::span<const std::byte> data, const DeviceInfo& info) {
    // VkPipelineCacheHeaderVersionOne: headerSize, headerVersion, vendorID,
    // deviceID (4 bytes each), then pipelineCacheUUID.
    constexpr size_t kHeader = 16 + VK_UUID_SIZE;
    if (data.size() < kHeader) return false;
    uint32_t words[4];
    std::memcpy(words, data.data(), sizeof words);
    return words[0] >= kHeader && words[1] == VK_PIPELINE_CACHE_HEADER_VERSION_ONE &&
           words[2] == info.vendor_id && words[3] == info.device_id &&
           std::memcmp(data.data() + 16, info.pipeline_cache_uuid.data(), VK_UUID_SIZE) == 0;
}

PipelineCache::PipelineCache(const DeviceFunctions& fns, VkDevice device, const DeviceInfo& info,
                             fs::path cache_dir, DebugUtils debug)
    : fns_(fns), device_(device), info_(info), debug_(debug) {
    std::vector<std::byte> initial;
    if (!cache_dir.empty()) {
        file_ = cache_dir / cat("pipelines-", cache_key(info), ".bin");
        std::ifstream in(file_, std::ios::binary);
        if (in) {
            const std::vector<char> bytes(std::istreambuf_iterator<char>(in), {});
            initial.resize(bytes.size());
            std::memcpy(initial.data(), bytes.data(), bytes.size());
            if (!pipeline_cache_matches(initial, info_)) {
                std::fprintf(stderr, "vkcnn: ignoring pipeline cache %s: written by another device or driver\n",
                             file_.c_str());
                initial.clear();
            }
        }
    }
    loaded_from_disk_ = !initial.empty();
    VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    ci.initialDataSize = initial.size();
    ci.pInitialData = initial.data();
    VkPipelineCache cache = VK_NULL_HANDLE;
    VKCNN_VK(fns_.vkCreatePipelineCache(device_, &ci, nullptr, &cache));
    cache_ = Owned<VkPipelineCache>(fns_, device_, cache);
}

PipelineCache::~PipelineCache() {
    if (const char* v = std::getenv("VKCNN_PIPELINE_STATS"); v && *v && *v != '0')
        std::fprintf(stderr, "vkcnn: %zu pipelines created in %.2f s\n", stats_.created, stats_.seconds);
    try {
        save();
    } catch (const std::exception& e) { // a cache is an optimisation: never fail teardown for it
        std::fprintf(stderr, "vkcnn: could not save the pipeline cache: %s\n", e.what());
    }
}

void PipelineCache::save() const {
    if (file_.empty() || pipelines_.empty()) return;
    size_t size = 0;
    VKCNN_VK(fns_.vkGetPipelineCacheData(device_, cache_.get(), &size, nullptr));
    std::vector<char> data(size);
    VKCNN_VK(fns_.vkGetPipelineCacheData(device_, cache_.get(), &size, data.data()));
    std::error_code ec;
    fs::create_directories(file_.parent_path(), ec);
    check(!ec, "cannot create ", file_.parent_path().string(), " for the pipeline cache: ", ec.message());
    const fs::path tmp = cat(file_.string(), ".tmp.", reinterpret_cast<uintptr_t>(this));
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out.write(data.data(), static_cast<std::streamsize>(size));
        check(out.good(), "writing ", tmp.string(), " failed");
    }
    fs::rename(tmp, file_, ec); // readers see the old file or the new one, never half of one
    if (ec) {
        std::error_code ignored;
        fs::remove(tmp, ignored);
        throw Error(cat("cannot replace ", file_.string(), ": ", ec.message()));
    }
}

size_t PipelineCache::size() const {
    std::lock_guard lock(mutex_);
    return pipelines_.size();
}

PipelineCache::Stats PipelineCache::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

const Pipeline& PipelineCache::get(std::string_view shader, std::span<const uint32_t> spec) {
    std::lock_guard lock(mutex_);
    auto key = std::make_pair(std::string(shader), std::vector<uint32_t>(spec.begin(), spec.end()));
    if (auto it = pipelines_.find(key); it != pipelines_.end()) return *it->second;

    const ShaderBlob& blob = find_shader(shader);
    auto p = std::make_unique<Pipeline>();
    p->name = std::string(shader);
    if (!spec.empty()) {
        p->name += "<";
        for (size_t i = 0; i < spec.size(); ++i) p->name += cat(i ? "," : "", spec[i]);
        p->name += ">";
    }
    p->bindings = count_bindings(blob.spirv);

    std::vector<VkDescriptorSetLayoutBinding> bindings(p->bindings);
    for (uint32_t i = 0; i < p->bindings; ++i)
        bindings[i] = {i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
    VkDescriptorSetLayoutCreateInfo dsl{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    dsl.bindingCount = p->bindings;
    dsl.pBindings = bindings.data();
    VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
    VKCNN_VK(fns_.vkCreateDescriptorSetLayout(device_, &dsl, nullptr, &set_layout));
    p->set_layout = Owned<VkDescriptorSetLayout>(fns_, device_, set_layout);

    VkPushConstantRange push{VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushConstantBytes};
    VkPipelineLayoutCreateInfo pl{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    pl.setLayoutCount = 1;
    pl.pSetLayouts = &set_layout;
    pl.pushConstantRangeCount = 1;
    pl.pPushConstantRanges = &push;
    VkPipelineLayout layout = VK_NULL_HANDLE;
    VKCNN_VK(fns_.vkCreatePipelineLayout(device_, &pl, nullptr, &layout));
    p->layout = Owned<VkPipelineLayout>(fns_, device_, layout);

    VkShaderModuleCreateInfo sm{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    sm.codeSize = blob.spirv.size_bytes();
    sm.pCode = blob.spirv.data();
    VkShaderModule module = VK_NULL_HANDLE;
    VKCNN_VK(fns_.vkCreateShaderModule(device_, &sm, nullptr, &module));
    Owned<VkShaderModule> module_owner(fns_, device_, module);

    std::vector<VkSpecializationMapEntry> entries(spec.size());
    for (uint32_t i = 0; i < spec.size(); ++i) entries[i] = {i, i * 4u, 4u};
    VkSpecializationInfo si{static_cast<uint32_t>(entries.size()), entries.data(), spec.size_bytes(),
                            spec.data()};
    VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    ci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
    ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    ci.stage.module = module;
    ci.stage.pName = "main";
    ci.stage.pSpecializationInfo = spec.empty() ? nullptr : &si;
    ci.layout = layout;
    VkPipeline pipeline = VK_NULL_HANDLE;
    const auto start = std::chrono::steady_clock::now();
    VKCNN_VK(fns_.vkCreateComputePipelines(device_, cache_.get(), 1, &ci, nullptr, &pipeline));
    stats_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++stats_.created;
    if (const char* v = std::getenv("VKCNN_PIPELINE_STATS"); v && std::strcmp(v, "2") == 0)
        std::fprintf(stderr, "vkcnn: pipeline %s\n", p->name.c_str());
    p->pipeline = Owned<VkPipeline>(fns_, device_, pipeline);
    debug_.name(VK_OBJECT_TYPE_PIPELINE, pipeline, p->name);

    const Pipeline& ref = *p;
    pipelines_.emplace(std::move(key), std::move(p));
    return ref;
}

} // namespace vkcnn::vulkan
