// Measured GEMM tilings on disk (see tuning_file.h).
#include "vkcnn/vulkan/tuning_file.h"

#include "vkcnn/core/error.h"

#include <fstream>

namespace vkcnn::vulkan {

namespace fs = std::filesystem;

fs::path tuning_file(const fs::path& cache_dir, const DeviceInfo& d) {
    return cache_dir / cat("gemm-tuning-", cache_key(d), ".txt");
}

std::optional<GemmTuning> read_tuning(const fs::path& file) {
    std::ifstream in(file);
    if (!in) return std::nullopt;
    std::string k1, k2, k3;
    int shared = -1;
    int64_t m = 0, n = 0;
    in >> k1 >> shared >> k2 >> m >> k3 >> n;
    const auto fits = [](int64_t v) { return v >= 4 && v <= 1024 && v % 4 == 0; };
    check(in && k1 == "shared_memory_tiles" && (shared == 0 || shared == 1) && k2 == "tile_m" && fits(m) &&
              k3 == "tile_n" && fits(n),
          file.string(), ": not a GEMM tuning file (expected \"shared_memory_tiles 0|1 tile_m N tile_n N\", tiles "
          "multiples of 4 up to 1024); delete it or run `vkcnn tune` again");
    GemmTuning t;
    t.shared_memory_tiles = shared == 1;
    t.tile_m = static_cast<uint32_t>(m);
    t.tile_n = static_cast<uint32_t>(n);
    return t;
}

GemmTuning parse_gemm_tiles(std::string_view text) {
    const auto fail = [&] {
        return Error(cat("VKCNN_GEMM_TILES='", text, "': expected registers:MxN or shared:MxN, M and N multiples of "
                         "4 up to 1024 (e.g. shared:64x64)"));
    };
    const size_t colon = text.find(':'), x = text.find('x', colon == std::string_view::npos ? 0 : colon);
    if (colon == std::string_view::npos || x == std::string_view::npos) throw fail();
    const std::string_view kind = text.substr(0, colon), m = text.substr(colon + 1, x - colon - 1), n = text.substr(x + 1);
    const auto tile = [&](std::string_view s) {
        uint32_t v = 0;
        if (s.empty() || s.size() > 4) throw fail();
        for (char c : s) {
            if (c < '0' || c > '9') throw fail();
            v = v * 10 + static_cast<uint32_t>(c - '0');
        }
        if (v < 4 || v > 1024 || v % 4 != 0) throw fail();
        return v;
    };
    if (kind != "registers" && kind != "shared") throw fail();
    GemmTuning t;
    t.shared_memory_tiles = kind == "shared";
    t.tile_m = tile(m);
    t.tile_n = tile(n);
    return t;
}

void write_tuning(const fs::path& file, const GemmTuning& t) {
    std::error_code ec;
    if (file.has_parent_path()) fs::create_directories(file.parent_path(), ec);
    check(!ec, "cannot create ", file.parent_path().string(), " for the GEMM tuning: ", ec.message());
    const fs::path temp = file.string() + ".tmp";
    {
        std::ofstream out(temp, std::ios::trunc);
        out << "shared_memory_tiles " << (t.shared_memory_tiles ? 1 : 0) << " tile_m " << t.tile_m << " tile_n "
            << t.tile_n << "\n";
        out.flush();
        check(static_cast<bool>(out), "cannot write ", temp.string());
    }
    fs::rename(temp, file, ec);
    if (ec) {
        std::error_code ignored;
        fs::remove(temp, ignored);
        throw Error(cat("cannot replace ", file.string(), ": ", ec.message()));
    }
}

} // namespace vkcnn::vulkan
