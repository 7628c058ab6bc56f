// Image decoding through stb_image (Debian's libstb-dev, header-only here:
// compiled into this file alone, its functions static, so the library needs
// no stb at link time — in the WebAssembly build neither — and a host
// application's own stb cannot clash with ours). Two guards stand between a
// hostile file and stb: the size from the header, checked before decoding,
// and an allocation budget per decode (stb grows a PNG's inflate buffer
// without limit, so a small IDAT that inflates to gigabytes would otherwise
// be decoded in full before "corrupt PNG").
#include "vkcnn/io/image.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>

namespace vkcnn::io {
namespace {

// What the decode running on this thread may still allocate, and whether it
// asked for more. Every block carries its size in front so that a free gives
// its bytes back.
thread_local size_t g_budget_left = SIZE_MAX;
thread_local bool g_budget_exceeded = false;
constexpr size_t kBlockHeader = alignof(std::max_align_t);

void* budget_malloc(size_t n) {
    if (n > g_budget_left) {
        g_budget_exceeded = true;
        return nullptr;
    }
    void* block = std::malloc(n + kBlockHeader);
    if (!block) return nullptr;
    std::memcpy(block, &n, sizeof n);
    g_budget_left -= n;
    return static_cast<char*>(block) + kBlockHeader;
}

void budget_free(void* p) {
    if (!p) return;
    void* block = static_cast<char*>(p) - kBlockHeader;
    size_t n = 0;
    std::memcpy(&n, block, sizeof n);
    g_budget_left += n;
    std::free(block);
}

void* budget_realloc(void* p, size_t n) {
    if (!p) return budget_malloc(n);
    void* block = static_cast<char*>(p) - kBlockHeader;
    size_t old = 0;
    std::memcpy(&old, block, sizeof old);
    if (n > old && n - old > g_budget_left) {
        g_budget_exceeded = true;
        return nullptr;
    }
    void* grown = std::realloc(block, n + kBlockHeader);
    if (!grown) return nullptr;
    std::memcpy(grown, &n, sizeof n);
    g_budget_left = g_budget_left + old - n;
    return static_cast<char*>(grown) + kBlockHeader;
}

// Sets the budget for one decode; the frees after it still give bytes back.
struct BudgetScope {
    explicit BudgetScope(size_t bytes) {
        g_budget_left = bytes;
        g_budget_exceeded = false;
    }
    ~BudgetScope() { g_budget_left = SIZE_MAX; }
    BudgetScope(const BudgetScope&) = delete;
    BudgetScope& operator=(const BudgetScope&) = delete;
};

} // namespace
} // namespace vkcnn::io

// PNG, BMP, TGA and PNM only. Debian's stb_image is 2.27, whose JPEG
// decoder writes past a Huffman table for a DHT segment of more than 256
// codes (tests/fuzz found it in seconds; fixed in 2.28) and whose GIF decoder
// has known overflows of its own; PSD, HDR (float) and Softimage PIC are
// nothing a digit classifier is fed. Each format left in is fuzzed
// (tests/fuzz/image_fuzz.cpp).
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_TGA
#define STBI_ONLY_PNM
#define STBI_NO_STDIO
#define STBI_MALLOC(n) vkcnn::io::budget_malloc(n)
#define STBI_REALLOC(p, n) vkcnn::io::budget_realloc(p, n)
#define STBI_FREE(p) vkcnn::io::budget_free(p)
#include <stb/stb_image.h>

namespace vkcnn::io {
namespace {

constexpr char kFormats[] = "PNG, BMP, TGA or PNM";

uint32_t be32(const std::byte* p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

bool starts_with(std::span<const std::byte> bytes, std::string_view magic) {
    return bytes.size() >= magic.size() && std::memcmp(bytes.data(), magic.data(), magic.size()) == 0;
}

// The format the first bytes announce, for the error when stb cannot read
// the header ("a PNG with a corrupt header", not "unknown image type").
const char* sniff_format(std::span<const std::byte> bytes) {
    if (starts_with(bytes, "\x89PNG\r\n\x1a\n")) return "PNG";
    if (starts_with(bytes, "BM")) return "BMP";
    if (starts_with(bytes, "P5") || starts_with(bytes, "P6")) return "PNM";
    return nullptr;
}

// Formats stb could read but this reader does not (see above), named so the
// error says what to do rather than "not an image".
const char* refused_format(std::span<const std::byte> bytes) {
    if (starts_with(bytes, "\xFF\xD8\xFF")) return "JPEG";
    if (starts_with(bytes, "GIF8")) return "GIF";
    return nullptr;
}

void check_size(uint64_t width, uint64_t height, std::string_view source, uint32_t max_side) {
    check(width > 0 && height > 0, source, ": the image is ", width, "x", height, ": it has no pixels");
    check(width <= max_side && height <= max_side, source, ": the image is ", width, "x", height,
          ", larger than the ", max_side, "x", max_side, " this reader takes (nothing was decoded)");
}

// stb 2.27 reads a PNM header's numbers (width, height, largest value) into
// an int with no overflow check (fixed in 2.28): they are read here first,
// tokenised as stb does (whitespace and # comments between them), and a
// number over 65535 is refused before stb sees it. stb never reads a digit
// this does not, so its numbers are no larger.
void check_pnm_numbers(std::span<const std::byte> bytes, std::string_view source) {
    const auto at = [&](size_t i) { return char(bytes[i]); };
    const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; };
    size_t i = 2; // after "P5" or "P6"
    for (const char* what : {"width", "height", "largest value"}) {
        for (;;) {
            while (i < bytes.size() && space(at(i))) ++i;
            if (i >= bytes.size() || at(i) != '#') break;
            while (i < bytes.size() && at(i) != '\n' && at(i) != '\r') ++i;
        }
        uint32_t value = 0;
        for (; i < bytes.size() && at(i) >= '0' && at(i) <= '9'; ++i) {
            value = value * 10 + uint32_t(at(i) - '0');
            check(value <= 65535, source, ": cannot read the image: a PNM file whose ", what, " is over 65535");
        }
    }
}

// Why stb failed, never empty. stb's reasons are terse codes ("outofdata",
// "bad huffman code"), sometimes none, and one quotes the file's bytes (an
// unknown PNG chunk's type): it is kept as a detail, printable ASCII only.
std::string decode_failure() {
    const char* r = stbi_failure_reason();
    if (!r || !*r) return "corrupt or truncated image data";
    std::string code;
    for (; *r && code.size() < 80; ++r) code += *r >= 0x20 && *r < 0x7F ? *r : '?';
    return cat("corrupt or truncated image data (stb_image: ", code, ")");
}

// The most a decode of a width x height image may allocate: stb's PNG path
// holds the compressed data (grown by doubling, so up to twice the file),
// the inflated rows (16-bit RGBA: 8 bytes a pixel plus a filter byte a row,
// doubled while growing), the unfiltered image (an interlaced one once more,
// pass by pass) and a converted copy: 40 bytes a pixel covers them with room
// to spare.
size_t decode_budget(size_t file_bytes, uint64_t width, uint64_t height) {
    // width and height are stb's ints (< 2^31), so 40 * width * height can pass 2^64: saturate instead.
    const uint64_t pixels = width * height;
    const uint64_t rest = 2 * uint64_t{file_bytes} + 32 * height + (uint64_t{1} << 20);
    const uint64_t bytes = pixels > (UINT64_MAX - rest) / 40 ? UINT64_MAX : 40 * pixels + rest;
    return size_t(std::min<uint64_t>(bytes, SIZE_MAX)); // wasm32: size_t is 32 bits
}

struct StbFree {
    void operator()(stbi_uc* p) const { stbi_image_free(p); }
};

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

} // namespace

Image decode_image(std::span<const std::byte> bytes, std::string_view source, uint32_t max_side) {
    check(!bytes.empty(), source, ": the file is empty, not an image");
    check(bytes.size() <= size_t(INT_MAX), source, ": ", bytes.size(), " bytes, more than the image reader takes");
    if (const char* refused = refused_format(bytes))
        throw Error(cat(source, ": cannot read the image: a ", refused, " file; this reader takes ", kFormats,
                        " (convert it to PNG)"));
    const char* format = sniff_format(bytes);
    // A PNG's size is at fixed offsets of its first chunk, IHDR: checked here
    // so a 0x0 or huge PNG gets its own message, not stb's "corrupt".
    if (format && std::string_view(format) == "PNG") {
        check(bytes.size() >= 24 && std::memcmp(bytes.data() + 12, "IHDR", 4) == 0, source,
              ": cannot read the image: a PNG truncated or corrupt before its IHDR header (", bytes.size(), " bytes)");
        check_size(be32(bytes.data() + 16), be32(bytes.data() + 20), source, max_side);
    }
    if (format && std::string_view(format) == "PNM") check_pnm_numbers(bytes, source);
    const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
    const int length = int(bytes.size());
    int width = 0, height = 0, channels = 0;
    if (!stbi_info_from_memory(data, length, &width, &height, &channels)) {
        if (format) throw Error(cat(source, ": cannot read the image: a ", format, " file with a corrupt or truncated header"));
        throw Error(cat(source, ": cannot read the image: not a ", kFormats, " image"));
    }
    check_size(uint64_t(width), uint64_t(height), source, max_side);

    const size_t budget = decode_budget(bytes.size(), uint64_t(width), uint64_t(height));
    BudgetScope scope(budget);
    // stb leaves the reason as it was on some failures (a reserved deflate
    // block type): a reason from an earlier call must not be reported as this one's.
    stbi__g_failure_reason = nullptr;
    int w = 0, h = 0, n = 0;
    const std::unique_ptr<stbi_uc, StbFree> pixels(stbi_load_from_memory(data, length, &w, &h, &n, 0));
    if (!pixels) {
        if (g_budget_exceeded)
            throw Error(cat(source, ": cannot decode the ", width, "x", height, " image: corrupt data (decoding it needs "
                            "more than the ", budget, " bytes an image of this size can need)"));
        throw Error(cat(source, ": cannot decode the ", width, "x", height, " image: ", decode_failure()));
    }
    // stb read the header twice; a file whose second reading differs is corrupt.
    check(w == width && h == height && n >= 1 && n <= 4, source, ": corrupt image: the header says ", width, "x",
          height, ", the decoder found ", w, "x", h, " with ", n, " channels");
    Image image{uint32_t(w), uint32_t(h), uint32_t(n), {}};
    image.pixels.assign(pixels.get(), pixels.get() + size_t(w) * size_t(h) * size_t(n));
    return image;
}

Image read_image(const std::filesystem::path& path, uint32_t max_side) {
    const std::string name = path.string();
    std::error_code ec;
    const std::filesystem::file_status status = std::filesystem::status(path, ec);
    if (ec) throw Error(cat(name, ": cannot open: ", ec.message()));
    check(!std::filesystem::is_directory(status), name, ": is a directory, not an image");
    check(std::filesystem::is_regular_file(status), name, ": not a regular file, not an image");
    const uintmax_t size = std::filesystem::file_size(path, ec);
    if (ec) throw Error(cat(name, ": cannot read: ", ec.message()));
    // An uncompressed 16-bit RGBA image of max_side x max_side (8 bytes a
    // pixel, a filter byte a row) and room for headers and metadata: a bigger
    // file is not an image this reader would accept.
    // max_side up to 2^32 - 1: side * side * 8 can pass 2^64, so INT_MAX caps it first.
    const uint64_t side = max_side;
    const uint64_t max_bytes =
        side * side > uint64_t{INT_MAX} / 8 ? uint64_t{INT_MAX}
                                            : std::min<uint64_t>(side * side * 8 + side + (uint64_t{1} << 20), INT_MAX);
    check(size <= max_bytes, name, ": ", size, " bytes, larger than any image of at most ", max_side, "x", max_side,
          " pixels should be (", max_bytes, " bytes)");
    const std::unique_ptr<std::FILE, FileCloser> f(std::fopen(name.c_str(), "rb"));
    if (!f) throw Error(cat(name, ": cannot open: ", std::strerror(errno)));
    std::vector<std::byte> bytes(static_cast<size_t>(size));
    const size_t got = std::fread(bytes.data(), 1, bytes.size(), f.get());
    if (std::ferror(f.get())) throw Error(cat(name, ": read error: ", std::strerror(errno)));
    bytes.resize(got); // a file that shrank meanwhile is read as it now is
    return decode_image(bytes, name, max_side);
}

std::vector<uint8_t> grey_pixels(const Image& image) {
    const size_t count = size_t(image.width) * image.height, c = image.channels;
    check(c >= 1 && c <= 4 && image.pixels.size() == count * c, "grey_pixels: a ", image.width, "x", image.height,
          " image of ", c, " channels needs ", count * c, " bytes, has ", image.pixels.size());
    std::vector<uint8_t> grey(count);
    for (size_t i = 0; i < count; ++i) {
        const uint8_t* p = image.pixels.data() + i * c;
        grey[i] = c >= 3 ? uint8_t((77 * p[0] + 150 * p[1] + 29 * p[2]) >> 8) : p[0];
    }
    return grey;
}

} // namespace vkcnn::io
