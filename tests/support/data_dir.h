// Where the datasets are: $VKCNN_DATA_DIR, else data/ in the source tree
// (filled by scripts/fetch_data.sh).
#pragma once

#include <cstdlib>
#include <filesystem>

namespace vkcnn::test {

inline std::filesystem::path data_dir() {
    if (const char* d = std::getenv("VKCNN_DATA_DIR")) return d;
    return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "data";
}

} // namespace vkcnn::test
