// Images: every PNG colour type and depth predict may get, decoded exactly,
// and one case per kind of hostile file (each checks what the error says).
// The PNGs are made here, by hand with zlib, so any header can be forged.
#include "vkcnn/io/image.h"

#include "vkcnn/core/error.h"

#include "support/files.h"

#include <doctest/doctest.h>

#include <zlib.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace vkcnn;
using namespace vkcnn::test;
using namespace vkcnn::io;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<uint8_t>;

void put_be32(Bytes& out, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(v >> shift));
}

void put_chunk(Bytes& png, const char* type, const Bytes& data) {
    put_be32(png, uint32_t(data.size()));
    Bytes body(type, type + 4);
    body.insert(body.end(), data.begin(), data.end());
    png.insert(png.end(), body.begin(), body.end());
    put_be32(png, uint32_t(crc32(0, body.data(), uInt(body.size()))));
}

Bytes zlib_compress(const Bytes& raw) {
    uLongf n = compressBound(uLong(raw.size()));
    Bytes out(n);
    REQUIRE(compress2(out.data(), &n, raw.data(), uLong(raw.size()), 6) == Z_OK);
    out.resize(n);
    return out;
}

// A PNG of the given header whose IDAT is `idat` as given (already zlib data).
Bytes png_with_idat(uint32_t width, uint32_t height, uint8_t depth, uint8_t color, const Bytes& idat,
                    const Bytes& palette = {}) {
    Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    Bytes ihdr;
    put_be32(ihdr, width);
    put_be32(ihdr, height);
    ihdr.insert(ihdr.end(), {depth, color, 0, 0, 0});
    put_chunk(png, "IHDR", ihdr);
    if (!palette.empty()) put_chunk(png, "PLTE", palette);
    put_chunk(png, "IDAT", idat);
    put_chunk(png, "IEND", {});
    return png;
}

// A valid PNG: `samples` row-major, `channels` samples a pixel, each one
// byte (depth 8) or two big-endian bytes (depth 16); filter 0 on every row.
Bytes make_png(uint32_t width, uint32_t height, uint8_t depth, uint8_t color, uint32_t channels,
               const std::vector<uint16_t>& samples) {
    Bytes raw;
    const size_t row = size_t(width) * channels;
    for (uint32_t y = 0; y < height; ++y) {
        raw.push_back(0);
        for (size_t i = 0; i < row; ++i) {
            const uint16_t s = samples[y * row + i];
            if (depth == 16) raw.push_back(uint8_t(s >> 8));
            raw.push_back(uint8_t(s));
        }
    }
    return png_with_idat(width, height, depth, color, zlib_compress(raw));
}

std::span<const std::byte> as_bytes(const Bytes& b) { return std::as_bytes(std::span(b)); }

std::string decode_error(const Bytes& b, uint32_t max_side = 4096) {
    return error_of([&] { decode_image(as_bytes(b), "test.png", max_side); });
}

// A message that ends in ": " has lost its reason.
void check_has_reason(const std::string& msg) {
    CHECK(!msg.empty());
    CHECK(msg.find_last_not_of(' ') != std::string::npos);
    CHECK(msg.substr(msg.size() - 2) != ": ");
    CHECK(contains(msg, "test.png: "));
}

void write_bytes(const std::string& path, const Bytes& bytes) {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

} // namespace

TEST_CASE("io/image: grey, RGB and RGBA PNGs decode exactly") {
    const std::vector<uint16_t> grey{0, 50, 100, 150, 200, 255};
    Image g = decode_image(as_bytes(make_png(3, 2, 8, 0, 1, grey)), "grey.png");
    CHECK(g.width == 3);
    CHECK(g.height == 2);
    CHECK(g.channels == 1);
    CHECK(g.pixels == Bytes{0, 50, 100, 150, 200, 255});
    CHECK(grey_pixels(g) == g.pixels);

    const std::vector<uint16_t> rgb{255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};
    const Image c = decode_image(as_bytes(make_png(2, 2, 8, 2, 3, rgb)), "rgb.png");
    CHECK(c.channels == 3);
    CHECK(c.pixels == Bytes{255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30});
    // stb's luminance: (77 R + 150 G + 29 B) >> 8.
    CHECK(grey_pixels(c) == Bytes{76, 149, 28, (77 * 10 + 150 * 20 + 29 * 30) >> 8});

    const std::vector<uint16_t> rgba{1, 2, 3, 4, 250, 251, 252, 0};
    const Image a = decode_image(as_bytes(make_png(2, 1, 8, 6, 4, rgba)), "rgba.png");
    CHECK(a.channels == 4);
    CHECK(a.pixels == Bytes{1, 2, 3, 4, 250, 251, 252, 0});
    CHECK(grey_pixels(a).size() == 2); // alpha dropped

    const std::vector<uint16_t> grey_alpha{7, 255, 9, 0};
    const Image ga = decode_image(as_bytes(make_png(2, 1, 8, 4, 2, grey_alpha)), "ga.png");
    CHECK(ga.channels == 2);
    CHECK(grey_pixels(ga) == Bytes{7, 9});
}

TEST_CASE("io/image: 16-bit and paletted PNGs load as 8 bits a channel") {
    const std::vector<uint16_t> grey16{0x0000, 0x12FF, 0xAB01, 0xFFFF};
    const Image g = decode_image(as_bytes(make_png(2, 2, 16, 0, 1, grey16)), "grey16.png");
    CHECK(g.channels == 1);
    CHECK(g.pixels == Bytes{0x00, 0x12, 0xAB, 0xFF}); // the high byte
    const std::vector<uint16_t> rgba16{0x1000, 0x2000, 0x3000, 0xFFFF};
    const Image c = decode_image(as_bytes(make_png(1, 1, 16, 6, 4, rgba16)), "rgba16.png");
    CHECK(c.channels == 4);
    CHECK(c.pixels == Bytes{0x10, 0x20, 0x30, 0xFF});
    // A palette of two colours, one index byte a pixel.
    const Bytes palette{10, 20, 30, 200, 210, 220};
    const Bytes indices{0, 1, 0, 0, 0, 1}; // two rows: filter byte, two indices
    const Image p = decode_image(as_bytes(png_with_idat(2, 2, 8, 3, zlib_compress(indices), palette)), "pal.png");
    CHECK(p.channels == 3);
    CHECK(p.pixels == Bytes{200, 210, 220, 10, 20, 30, 10, 20, 30, 200, 210, 220});
}

TEST_CASE("io/image: an empty first IDAT chunk is legal") {
    // Found by tests/fuzz (corpus/image/crash-png-empty-first-idat): stb_image
    // copies it with memcpy(NULL, p, 0), which UBSan reports; harmless, and
    // tests/fuzz/CMakeLists.txt exempts that one check. The image decodes.
    Bytes png = make_png(2, 2, 8, 0, 1, {1, 2, 3, 4});
    const size_t idat = 8 + 25; // signature, IHDR chunk
    Bytes empty;
    put_chunk(empty, "IDAT", {});
    png.insert(png.begin() + long(idat), empty.begin(), empty.end());
    CHECK(decode_image(as_bytes(png), "empty_idat.png").pixels == Bytes{1, 2, 3, 4});
    // The fuzzer's input: an empty IDAT with a bad CRC, then garbage.
    const Bytes found = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R', 0, 0, 0, 4, 0, 0, 0, 4,
                         8, 2, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 'I', 'D', 'A', 'T', 0x78, 0xDA, 0x63, 0x61, 0xE0, 0x95};
    check_has_reason(decode_error(found));
}

TEST_CASE("io/image: a truncated PNG is an error with a reason, at every length") {
    const std::vector<uint16_t> grey(64 * 64, 77);
    const Bytes png = make_png(64, 64, 8, 0, 1, grey);
    for (size_t n : {size_t{0}, size_t{1}, size_t{8}, size_t{20}, size_t{33}, size_t{40}, png.size() / 2, png.size() - 13}) {
        CAPTURE(n);
        const std::string msg = decode_error(Bytes(png.begin(), png.begin() + long(n)));
        check_has_reason(msg);
    }
    CHECK(contains(decode_error({}), "test.png: the file is empty"));
    CHECK(contains(decode_error(Bytes(png.begin(), png.begin() + 20)), "a PNG truncated or corrupt before its IHDR"));
    CHECK(contains(decode_error(Bytes(png.begin(), png.begin() + 40)), "cannot decode the 64x64 image: "));
}

TEST_CASE("io/image: a corrupt deflate block names its reason") {
    Bytes idat = zlib_compress(Bytes(4 * 5, 0));
    idat[2] = 0xFF; // the first block's header: an invalid block type
    const std::string msg = decode_error(png_with_idat(4, 4, 8, 0, idat));
    check_has_reason(msg);
    CHECK(contains(msg, "test.png: cannot decode the 4x4 image: "));
}

TEST_CASE("io/image: 0x0 and huge sizes fail before decoding") {
    CHECK(contains(decode_error(png_with_idat(0, 0, 8, 0, zlib_compress({0}))), "test.png: the image is 0x0: it has no pixels"));
    CHECK(contains(decode_error(png_with_idat(5, 0, 8, 0, zlib_compress({0}))), "the image is 5x0"));
    // 20000 x 20000 RGBA would be 1.6 GB decoded; its header alone is read.
    const auto start = std::chrono::steady_clock::now();
    const Bytes huge = png_with_idat(20000, 20000, 8, 6, zlib_compress(Bytes(1 << 16, 0)));
    CHECK(contains(decode_error(huge),
                   "test.png: the image is 20000x20000, larger than the 4096x4096 this reader takes (nothing was decoded)"));
    CHECK(contains(decode_error(make_png(30, 2, 8, 0, 1, std::vector<uint16_t>(60)), 28),
                   "the image is 30x2, larger than the 28x28"));
    // A TGA has no magic: its 18-byte header (uncompressed true-colour, 20000 x 20000) and 9 bytes.
    Bytes tga(27, 0);
    tga[2] = 2;
    tga[12] = uint8_t(20000 & 0xFF);
    tga[13] = uint8_t(20000 >> 8);
    tga[14] = uint8_t(20000 & 0xFF);
    tga[15] = uint8_t(20000 >> 8);
    tga[16] = 24;
    CHECK(contains(decode_error(tga), "test.png: the image is 20000x20000, larger than the 4096x4096"));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
}

TEST_CASE("io/image: a PNG whose data inflates past its size is stopped") {
    // 64 x 64 grey needs 4160 bytes of rows; this IDAT inflates to 16 MiB.
    // stb would grow its buffer for all of it; the budget stops it near 1 MiB.
    const Bytes bomb = png_with_idat(64, 64, 8, 0, zlib_compress(Bytes(16 << 20, 0)));
    CHECK(bomb.size() < 40000);
    const std::string msg = decode_error(bomb);
    CHECK(contains(msg, "test.png: cannot decode the 64x64 image: corrupt data (decoding it needs more than the "));
}

TEST_CASE("io/image: other bytes are not an image") {
    const std::string text = "not an image, just some text";
    const Bytes bytes(text.begin(), text.end());
    const std::string msg = decode_error(bytes);
    CHECK(contains(msg, "test.png: cannot read the image: not a PNG, BMP, TGA or PNM image"));
    CHECK(contains(decode_error({'B', 'M', 1, 2}), "cannot read the image: a BMP file with a corrupt or truncated header"));
    CHECK(contains(decode_error({'P', '6', '\n'}), "the image is 0x0: it has no pixels"));
    const std::string pgm = "P5 # a comment\n3\t2\n255\n";
    Bytes grey(pgm.begin(), pgm.end());
    grey.insert(grey.end(), {1, 2, 3, 4, 5, 6});
    CHECK(decode_image(as_bytes(grey), "grey.pgm").pixels == Bytes{1, 2, 3, 4, 5, 6});
}

TEST_CASE("io/image: PNM header numbers over 65535 are refused before stb reads them") {
    // Found by tests/fuzz (corpus/image/crash-pnm-number-overflow): stb_image
    // 2.27 parses "10000000000..." into an int, overflowing (undefined behaviour).
    const std::string header = "P5 2 1" + std::string(60, '0') + "  \x02";
    CHECK(contains(decode_error(Bytes(header.begin(), header.end())),
                   "test.png: cannot read the image: a PNM file whose height is over 65535"));
    const std::string comment = "P6\n# 99999999999999\n65536 1 255\n";
    CHECK(contains(decode_error(Bytes(comment.begin(), comment.end())), "a PNM file whose width is over 65535"));
    const std::string maxval = "P5 1 1 0000000000000000000070000 x";
    CHECK(contains(decode_error(Bytes(maxval.begin(), maxval.end())), "a PNM file whose largest value is over 65535"));
}

TEST_CASE("io/image: JPEG and GIF are refused, never decoded") {
    // Found by tests/fuzz (corpus/image/crash-jpeg-dht-over-256-codes): a
    // Huffman table (DHT) of 16 x 32 = 512 codes; stb_image 2.27 writes its
    // sizes past the 257-entry table. The same shape, made here.
    Bytes jpeg = {0xFF, 0xD8, 0xFF, 0xC4, 0x00, 0x13, 0x00};
    for (int i = 0; i < 16; ++i) jpeg.push_back(32);
    const std::string msg = decode_error(jpeg);
    CHECK(contains(msg, "test.png: cannot read the image: a JPEG file; this reader takes PNG, BMP, TGA or PNM (convert it to PNG)"));
    CHECK(contains(decode_error({'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0}), "cannot read the image: a GIF file; this reader takes"));
}

TEST_CASE("io/image: read_image names missing files, directories and oversized files") {
    TempDir tmp;
    const std::vector<uint16_t> grey(28 * 28, 9);
    write_bytes(tmp.file("ok.png"), make_png(28, 28, 8, 0, 1, grey));
    const Image ok = read_image(tmp.file("ok.png"), 28);
    CHECK(ok.width == 28);
    CHECK(ok.pixels == Bytes(28 * 28, 9));
    CHECK(contains(error_of([&] { read_image(tmp.file("none.png")); }), tmp.file("none.png") + ": cannot open: "));
    CHECK(contains(error_of([&] { read_image(tmp.path); }), tmp.path.string() + ": is a directory, not an image"));
    // 200 MB (sparse): more than any 4096 x 4096 image could be, refused unread.
    {
        std::ofstream(tmp.file("big.png")).put('x');
    }
    fs::resize_file(tmp.file("big.png"), 200'000'000);
    CHECK(contains(error_of([&] { read_image(tmp.file("big.png")); }),
                   tmp.file("big.png") + ": 200000000 bytes, larger than any image of at most 4096x4096 pixels"));
    CHECK(contains(error_of([&] { read_image("/dev/null"); }), "/dev/null: not a regular file"));
}
