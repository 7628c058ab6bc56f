// vkcnn: the command-line tool. Errors from the library reach the user as one
// clear line and a non-zero exit code, never a crash.
#include "commands.h"

#include "vkcnn/core/error.h"

#include <CLI/CLI.hpp>

#include <cstdio>

int main(int argc, char** argv) {
    CLI::App app{"vkcnn: train convolutional networks on any Vulkan GPU"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "vkcnn 0.1.0");

    app.add_subcommand("info", "List Vulkan devices and what vkcnn would use");
    auto* check = app.add_subcommand("check", "Compare the GPU with the CPU backend on a test kernel");
    size_t elements = 1 << 20;
    bool validation = false;
    check->add_option("-n,--elements", elements, "Elements per test tensor")->check(CLI::PositiveNumber);
    check->add_flag("--validation", validation, "Enable the Vulkan validation layer");

    CLI11_PARSE(app, argc, argv);
    try {
        if (app.got_subcommand("info")) return vkcnn::cli::info();
        if (app.got_subcommand("check")) return vkcnn::cli::check(elements, validation);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vkcnn: error: %s\n", e.what());
        return 1;
    }
    return 1;
}
