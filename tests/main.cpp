// doctest's main for the vkcnn suite.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "support/fuzz_seeds.h"

#include <cstdlib>
#include <string_view>

#if defined(__SANITIZE_ADDRESS__)
#include <dlfcn.h>
#endif

int main(int argc, char** argv) {
#if defined(__SANITIZE_ADDRESS__)
    // The Vulkan loader unloads the driver and the validation layer when an
    // instance is destroyed; what they kept until then would be reported at
    // exit as leaks in an "<unknown module>", which no suppression can name.
    // Loaded here first and never unloaded, they keep their names and
    // tests/sanitize.supp suppresses them; every leak of ours still shows.
    for (const char* lib : {"libvulkan_lvp.so", "libVkLayer_khronos_validation.so"}) dlopen(lib, RTLD_NOW | RTLD_NODELETE);
#endif
    // Ours beside doctest's options (doctest ignores what it does not know).
    for (int i = 1; i < argc; ++i)
        if (const std::string_view arg = argv[i]; arg.starts_with("--fuzz-cases="))
            vkcnn::test::fuzz_cases_option() = static_cast<uint32_t>(std::strtoul(argv[i] + 13, nullptr, 10));
    return doctest::Context(argc, argv).run();
}
