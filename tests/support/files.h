// Helpers for tests that write files and check error messages.
#pragma once

#include "vkcnn/core/error.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <unistd.h>

namespace vkcnn::test {

// A fresh directory under the system's temporary directory, removed (even
// if a test made it read-only) when the object goes.
struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string& prefix = "vkcnn_test") {
        static int counter = 0;
        path = std::filesystem::temp_directory_path() /
               (prefix + "." + std::to_string(::getpid()) + "." + std::to_string(counter++));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::permissions(path, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const std::string& name) const { return (path / name).string(); }
};

// The message of the vkcnn::Error that f throws; fails the check if none.
template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    FAIL_CHECK("no vkcnn::Error thrown");
    return "";
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

} // namespace vkcnn::test
