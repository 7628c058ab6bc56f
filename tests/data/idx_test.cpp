// IDX reading: round trips, gzip, one case per kind of bad file (each checks
// what the error says), and the real MNIST / Fashion-MNIST files in data/
// when scripts/fetch_data.sh has been run.
#include "vkcnn/data/idx.h"

#include "vkcnn/core/error.h"

#include "support/data_dir.h"

#include "support/files.h"

#include <doctest/doctest.h>

#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace vkcnn;
using namespace vkcnn::test;
using namespace vkcnn::data;
using vkcnn::test::data_dir;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test case, removed at the end.

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

void put_be32(std::vector<uint8_t>& v, uint32_t x) {
    for (int s = 24; s >= 0; s -= 8) v.push_back(uint8_t(x >> s));
}

// A raw IDX file: magic, dims, then `payload` bytes of pattern.
std::vector<uint8_t> idx_bytes(uint32_t magic, std::vector<uint32_t> dims, size_t payload) {
    std::vector<uint8_t> v;
    put_be32(v, magic);
    for (uint32_t d : dims) put_be32(v, d);
    for (size_t i = 0; i < payload; ++i) v.push_back(uint8_t(i * 7 % 10));
    return v;
}

// The message of the vkcnn::Error that f throws ("" and a failed check if none).

uint32_t crc32(const std::vector<uint8_t>& data) {
    uint32_t c = 0xFFFFFFFFu;
    for (uint8_t b : data) {
        c ^= b;
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

// gzip with stored (uncompressed) deflate blocks: a valid .gz written without
// zlib, so the reader is checked against an encoder that is not its own.
std::vector<uint8_t> gzip_stored(const std::vector<uint8_t>& data) {
    std::vector<uint8_t> out = {0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF};
    size_t pos = 0;
    do {
        const size_t n = std::min<size_t>(data.size() - pos, 65535);
        const bool last = pos + n == data.size();
        out.push_back(last ? 1 : 0); // BFINAL, BTYPE = 00 (stored)
        out.push_back(uint8_t(n));
        out.push_back(uint8_t(n >> 8));
        out.push_back(uint8_t(~n));
        out.push_back(uint8_t(~n >> 8));
        out.insert(out.end(), data.begin() + long(pos), data.begin() + long(pos + n));
        pos += n;
    } while (pos < data.size());
    const uint32_t crc = crc32(data), size = uint32_t(data.size());
    for (int s = 0; s < 32; s += 8) out.push_back(uint8_t(crc >> s));
    for (int s = 0; s < 32; s += 8) out.push_back(uint8_t(size >> s));
    return out;
}

// gzip through zlib's deflate, `chunks` copies of `data` after `prefix` in
// one stream: a file that inflates to much more than it holds.
std::vector<uint8_t> gzip_deflate(const std::vector<uint8_t>& prefix, const std::vector<uint8_t>& data = {},
                                  size_t chunks = 0) {
    z_stream zs{};
    REQUIRE(deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::vector<uint8_t> out;
    uint8_t buf[1 << 16];
    const auto feed = [&](const std::vector<uint8_t>& in, int flush) {
        zs.next_in = const_cast<Bytef*>(in.data());
        zs.avail_in = uInt(in.size());
        do {
            zs.next_out = buf;
            zs.avail_out = sizeof buf;
            deflate(&zs, flush);
            out.insert(out.end(), buf, buf + (sizeof buf - zs.avail_out));
        } while (zs.avail_out == 0);
    };
    feed(prefix, Z_NO_FLUSH);
    for (size_t i = 0; i < chunks; ++i) feed(data, Z_NO_FLUSH);
    feed({}, Z_FINISH);
    deflateEnd(&zs);
    return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
} // namespace

TEST_CASE("data/idx: write then read images and labels") {
    TempDir tmp;
    IdxImages im{3, 2, 4, {}};
    for (int i = 0; i < 24; ++i) im.pixels.push_back(uint8_t(i * 11));
    write_idx_images(tmp.file("im"), im);
    write_idx_labels(tmp.file("lb"), IdxLabels{{0, 9, 4}});
    const IdxPair p = read_idx_pair(tmp.file("im"), tmp.file("lb"), 10);
    CHECK(p.images.count == 3);
    CHECK(p.images.rows == 2);
    CHECK(p.images.cols == 4);
    CHECK(p.images.pixels == im.pixels);
    CHECK(p.labels.labels == std::vector<uint8_t>{0, 9, 4});
}

TEST_CASE("data/idx: gzip files read like plain ones") {
    if (!gzip_supported()) {
        MESSAGE("this build has no zlib: skipped");
        return;
    }
    TempDir tmp;
    // Over 64 KiB so the stream has several deflate blocks.
    const std::vector<uint8_t> plain = idx_bytes(kIdxImagesMagic, {100, 28, 28}, 100 * 28 * 28);
    write_bytes(tmp.file("im.gz"), gzip_stored(plain));
    CHECK(read_maybe_gzip(tmp.file("im.gz")) == plain);
    const IdxImages im = read_idx_images(tmp.file("im.gz"));
    CHECK(im.count == 100);
    CHECK(im.pixels == std::vector<uint8_t>(plain.begin() + 16, plain.end()));
    // Concatenated gzip members are one stream, as gzip -d reads them.
    std::vector<uint8_t> two = gzip_stored({1, 2, 3});
    const std::vector<uint8_t> second = gzip_stored({4, 5});
    two.insert(two.end(), second.begin(), second.end());
    write_bytes(tmp.file("two.gz"), two);
    CHECK(read_maybe_gzip(tmp.file("two.gz")) == std::vector<uint8_t>{1, 2, 3, 4, 5});
}

TEST_CASE("data/idx: missing file names the path") {
    TempDir tmp;
    const std::string msg = error_of([&] { read_idx_images(tmp.file("nope")); });
    CHECK(contains(msg, tmp.file("nope")));
    CHECK(contains(msg, "cannot open"));
    CHECK(contains(msg, "No such file"));
}

TEST_CASE("data/idx: wrong magic prints expected and found in hex") {
    TempDir tmp;
    write_bytes(tmp.file("labels"), idx_bytes(kIdxLabelsMagic, {5}, 5));
    std::string msg = error_of([&] { read_idx_images(tmp.file("labels")); });
    CHECK(contains(msg, tmp.file("labels")));
    CHECK(contains(msg, "wrong magic: expected 0x00000803 (IDX u8 images, 3 dims), found 0x00000801 (IDX u8, 1 dims)"));
    write_bytes(tmp.file("text"), {'h', 'e', 'l', 'l', 'o', '!', '!', '!'});
    msg = error_of([&] { read_idx_labels(tmp.file("text"), 10); });
    CHECK(contains(msg, "expected 0x00000801"));
    CHECK(contains(msg, "found 0x68656C6C (not an IDX file)"));
    write_bytes(tmp.file("short"), {0, 0});
    msg = error_of([&] { read_idx_labels(tmp.file("short"), 10); });
    CHECK(contains(msg, "truncated: 2 bytes"));
}

TEST_CASE("data/idx: truncated file reports expected and found bytes") {
    TempDir tmp;
    write_bytes(tmp.file("im"), idx_bytes(kIdxImagesMagic, {10, 28, 28}, 10 * 28 * 28 - 1));
    std::string msg = error_of([&] { read_idx_images(tmp.file("im")); });
    CHECK(contains(msg, tmp.file("im") + ": truncated: the header says 10 x 28 x 28 (7856 bytes with the header), "
                                         "found 7855 bytes"));
    // Cut inside the header.
    std::vector<uint8_t> head = idx_bytes(kIdxImagesMagic, {10, 28, 28}, 0);
    head.resize(10);
    write_bytes(tmp.file("head"), head);
    msg = error_of([&] { read_idx_images(tmp.file("head")); });
    CHECK(contains(msg, "truncated: 10 bytes, the 3-dim IDX header needs 16"));
}

TEST_CASE("data/idx: trailing bytes are an error") {
    TempDir tmp;
    write_bytes(tmp.file("lb"), idx_bytes(kIdxLabelsMagic, {4}, 7));
    const std::string msg = error_of([&] { read_idx_labels(tmp.file("lb"), 10); });
    CHECK(contains(msg, tmp.file("lb") + ": 3 trailing bytes: the header says 4 (12 bytes with the header), found 15"));
}

TEST_CASE("data/idx: zero dims are an error") {
    TempDir tmp;
    write_bytes(tmp.file("im"), idx_bytes(kIdxImagesMagic, {5, 0, 28}, 0));
    const std::string msg = error_of([&] { read_idx_images(tmp.file("im")); });
    CHECK(contains(msg, tmp.file("im") + ": zero dimension in the header: dims are 5 x 0 x 28"));
}

TEST_CASE("data/idx: labels out of range for the class count") {
    TempDir tmp;
    write_idx_labels(tmp.file("lb"), IdxLabels{{1, 2, 3, 12, 4}});
    std::string msg = error_of([&] { read_idx_labels(tmp.file("lb"), 10); });
    CHECK(contains(msg, tmp.file("lb") + ": label 12 at index 3 is out of range for 10 classes (expected 0..9)"));
    CHECK(read_idx_labels(tmp.file("lb"), 13).labels.size() == 5); // the class count is a parameter
    msg = error_of([&] { read_idx_labels(tmp.file("lb"), 3); });
    CHECK(contains(msg, "label 3 at index 2 is out of range for 3 classes (expected 0..2)"));
    msg = error_of([&] { read_idx_labels(tmp.file("lb"), 0); });
    CHECK(contains(msg, "num_classes must be in 1..256"));
}

TEST_CASE("data/idx: image and label counts must agree") {
    TempDir tmp;
    write_bytes(tmp.file("im"), idx_bytes(kIdxImagesMagic, {3, 2, 2}, 12));
    write_idx_labels(tmp.file("lb"), IdxLabels{{1, 2}});
    const std::string msg = error_of([&] { read_idx_pair(tmp.file("im"), tmp.file("lb"), 10); });
    CHECK(contains(msg, tmp.file("im") + " has 3 images but " + tmp.file("lb") + " has 2 labels"));
}

TEST_CASE("data/idx: corrupt gzip is reported") {
    TempDir tmp;
    const std::vector<uint8_t> good = gzip_stored(idx_bytes(kIdxLabelsMagic, {100}, 100));
    if (!gzip_supported()) {
        write_bytes(tmp.file("lb.gz"), good);
        CHECK(contains(error_of([&] { read_idx_labels(tmp.file("lb.gz"), 10); }), "has no zlib"));
        return;
    }
    std::vector<uint8_t> bad_crc = good;
    bad_crc[bad_crc.size() - 6] ^= 0xFF;
    write_bytes(tmp.file("crc.gz"), bad_crc);
    std::string msg = error_of([&] { read_idx_labels(tmp.file("crc.gz"), 10); });
    CHECK(contains(msg, tmp.file("crc.gz") + ": corrupt gzip: incorrect data check"));

    std::vector<uint8_t> cut(good.begin(), good.end() - 20);
    write_bytes(tmp.file("cut.gz"), cut);
    msg = error_of([&] { read_idx_labels(tmp.file("cut.gz"), 10); });
    CHECK(contains(msg, tmp.file("cut.gz") + ": corrupt gzip: truncated stream"));

    std::vector<uint8_t> method = good;
    method[2] = 7; // compression method other than deflate
    write_bytes(tmp.file("method.gz"), method);
    msg = error_of([&] { read_idx_labels(tmp.file("method.gz"), 10); });
    CHECK(contains(msg, tmp.file("method.gz") + ": corrupt gzip: unknown compression method"));

    std::vector<uint8_t> trailing = good;
    trailing.push_back(0x42);
    write_bytes(tmp.file("trail.gz"), trailing);
    msg = error_of([&] { read_idx_labels(tmp.file("trail.gz"), 10); });
    CHECK(contains(msg, "1 bytes of trailing garbage after the gzip stream"));

    // Sizes in the errors of a .gz file are of the decompressed content.
    write_bytes(tmp.file("short.gz"), gzip_stored(idx_bytes(kIdxLabelsMagic, {100}, 99)));
    msg = error_of([&] { read_idx_labels(tmp.file("short.gz"), 10); });
    CHECK(contains(msg, tmp.file("short.gz") + " (after gunzip): truncated: the header says 100 (108 bytes"));
}

TEST_CASE("data/idx: MNIST files in data/") {
    const fs::path dir = data_dir() / "mnist";
    if (!fs::exists(dir / "train-images-idx3-ubyte")) {
        MESSAGE("no MNIST in " << dir.string() << " (scripts/fetch_data.sh): skipped");
        return;
    }
    const IdxPair train = read_idx_pair((dir / "train-images-idx3-ubyte").string(),
                                        (dir / "train-labels-idx1-ubyte").string(), 10);
    CHECK(train.images.count == 60000);
    CHECK(train.images.rows == 28);
    CHECK(train.images.cols == 28);
    CHECK(train.labels.labels.size() == 60000);
    CHECK(train.labels.labels[0] == 5);
    double sum = 0;
    for (uint8_t p : train.images.pixels) sum += p / 255.0;
    CHECK(sum / double(train.images.pixels.size()) == doctest::Approx(0.1307).epsilon(1e-3));
    const IdxPair test = read_idx_pair((dir / "t10k-images-idx3-ubyte").string(),
                                       (dir / "t10k-labels-idx1-ubyte").string(), 10);
    CHECK(test.images.count == 10000);
    CHECK(test.labels.labels[0] == 7);
}

TEST_CASE("data/idx: Fashion-MNIST gzip files in data/") {
    const fs::path dir = data_dir() / "fashion-mnist";
    if (!fs::exists(dir / "train-images-idx3-ubyte.gz")) {
        MESSAGE("no Fashion-MNIST in " << dir.string() << " (scripts/fetch_data.sh): skipped");
        return;
    }
    if (!gzip_supported()) {
        MESSAGE("this build has no zlib: skipped");
        return;
    }
    const IdxPair train = read_idx_pair((dir / "train-images-idx3-ubyte.gz").string(),
                                        (dir / "train-labels-idx1-ubyte.gz").string(), 10);
    CHECK(train.images.count == 60000);
    CHECK(train.labels.labels[0] == 9); // ankle boot
    double sum = 0;
    for (uint8_t p : train.images.pixels) sum += p / 255.0;
    CHECK(sum / double(train.images.pixels.size()) == doctest::Approx(0.2860).epsilon(1e-3));
    const IdxPair test = read_idx_pair((dir / "t10k-images-idx3-ubyte.gz").string(),
                                       (dir / "t10k-labels-idx1-ubyte.gz").string(), 10);
    CHECK(test.images.count == 10000);
}

TEST_CASE("data/idx: a directory or a device is not an IDX file") {
    TempDir tmp;
    // lseek(SEEK_END) on a directory gives 2^63 - 1: once a std::bad_alloc.
    CHECK(contains(error_of([&] { read_idx_images(tmp.path.string()); }),
                   tmp.path.string() + ": is a directory, not an IDX file"));
    CHECK(contains(error_of([&] { read_maybe_gzip(tmp.path.string()); }), ": is a directory"));
    CHECK(contains(error_of([&] { read_idx_labels("/dev/zero", 10); }), "/dev/zero: not a regular file, not an IDX file"));
    // 3 GB (sparse): over the limit, refused unread.
    {
        std::ofstream(tmp.file("big")).put('x');
    }
    fs::resize_file(tmp.file("big"), 3'000'000'000);
    CHECK(contains(error_of([&] { read_idx_images(tmp.file("big")); }),
                   tmp.file("big") + ": 3000000000 bytes, more than the 2147483648-byte limit of an IDX file"));
}

TEST_CASE("data/idx: huge header dims fail before anything is allocated") {
    TempDir tmp;
    write_bytes(tmp.file("im"), idx_bytes(kIdxImagesMagic, {60000, 10000, 10000}, 100));
    CHECK(contains(error_of([&] { read_idx_images(tmp.file("im")); }),
                   tmp.file("im") + ": header dims 60000 x 10000 x 10000 describe 6000000000016 bytes, more than the "
                                    "2147483648-byte limit of an IDX file"));
    write_bytes(tmp.file("ov"), idx_bytes(kIdxImagesMagic, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, 0));
    CHECK(contains(error_of([&] { read_idx_images(tmp.file("ov")); }),
                   "header dims 4294967295 x 4294967295 x 4294967295 are too large to be real"));
    // Within the limit, but not in the file: truncated, named before a copy is made.
    write_bytes(tmp.file("big"), idx_bytes(kIdxImagesMagic, {2000, 1000, 1000}, 10));
    CHECK(contains(error_of([&] { read_idx_images(tmp.file("big")); }),
                   "truncated: the header says 2000 x 1000 x 1000 (2000000016 bytes with the header), found 26 bytes"));
    if (!gzip_supported()) return;
    // The same header compressed: refused after inflating 16 bytes.
    write_bytes(tmp.file("im.gz"), gzip_stored(idx_bytes(kIdxImagesMagic, {60000, 10000, 10000}, 100)));
    CHECK(contains(error_of([&] { read_idx_images(tmp.file("im.gz")); }),
                   tmp.file("im.gz") + " (after gunzip): header dims 60000 x 10000 x 10000 describe 6000000000016 bytes"));
    write_bytes(tmp.file("big.gz"), gzip_stored(idx_bytes(kIdxImagesMagic, {2000, 1000, 1000}, 10)));
    CHECK(contains(error_of([&] { read_idx_images(tmp.file("big.gz")); }),
                   tmp.file("big.gz") + " (after gunzip): truncated: the header says 2000 x 1000 x 1000 (2000000016 bytes "
                                        "with the header), found 26 bytes"));
}

TEST_CASE("data/idx: gzip that inflates past its header's size stops there") {
    if (!gzip_supported()) {
        MESSAGE("this build has no zlib: skipped");
        return;
    }
    TempDir tmp;
    const std::vector<uint8_t> content = idx_bytes(kIdxImagesMagic, {10, 28, 28}, 10 * 28 * 28);
    // 1 GiB after the content: 1024 gzip members of 1 MiB of zeros (1 KB each).
    // Inflating it all took 2.1 GB and 18 s before the "trailing bytes" error.
    std::vector<uint8_t> bomb = gzip_deflate(content);
    const std::vector<uint8_t> member = gzip_deflate(std::vector<uint8_t>(1 << 20, 0));
    for (int i = 0; i < 1024; ++i) bomb.insert(bomb.end(), member.begin(), member.end());
    write_bytes(tmp.file("bomb.gz"), bomb);
    auto start = std::chrono::steady_clock::now();
    std::string msg = error_of([&] { read_idx_images(tmp.file("bomb.gz")); });
    CHECK(seconds_since(start) < 0.5);
    CHECK(contains(msg, tmp.file("bomb.gz") + " (after gunzip): trailing bytes: the header says 10 x 28 x 28 (7856 bytes "
                                              "with the header), the gzip stream holds more"));
    CHECK(contains(msg, " of " + std::to_string(bomb.size()) + ")"));
    // One stream: the content, then 64 MiB of zeros.
    const std::vector<uint8_t> one = gzip_deflate(content, std::vector<uint8_t>(1 << 20, 0), 64);
    CHECK(one.size() < 400000);
    start = std::chrono::steady_clock::now();
    msg = error_of([&] { decode_idx_images(one, "one.gz"); });
    CHECK(seconds_since(start) < 0.5);
    CHECK(contains(msg, "one.gz (after gunzip): trailing bytes: the header says 10 x 28 x 28"));
    // The labels reader stops the same way.
    const std::vector<uint8_t> labels = gzip_deflate(idx_bytes(kIdxLabelsMagic, {5}, 5), std::vector<uint8_t>(1 << 20, 0), 8);
    CHECK(contains(error_of([&] { decode_idx_labels(labels, "lb.gz", 10); }),
                   "lb.gz (after gunzip): trailing bytes: the header says 5 (13 bytes with the header)"));
}

TEST_CASE("data/idx: from memory, plain or gzip, as from a file") {
    const std::vector<uint8_t> content = idx_bytes(kIdxImagesMagic, {3, 2, 5}, 30);
    const IdxImages plain = decode_idx_images(content, "mem");
    CHECK(plain.count == 3);
    CHECK(plain.rows == 2);
    CHECK(plain.cols == 5);
    CHECK(plain.pixels == std::vector<uint8_t>(content.begin() + 16, content.end()));
    const IdxLabels lb = decode_idx_labels(idx_bytes(kIdxLabelsMagic, {4}, 4), "mem", 10);
    CHECK(lb.labels == std::vector<uint8_t>{0, 7, 4, 1});
    if (!gzip_supported()) {
        CHECK(contains(error_of([&] { decode_idx_images(gzip_stored(content), "mem.gz"); }), "has no zlib"));
        return;
    }
    CHECK(decode_idx_images(gzip_deflate(content), "mem.gz").pixels == plain.pixels);
    CHECK(decode_idx_images(gzip_stored(content), "mem.gz").pixels == plain.pixels);
    // Content cut inside the IDX header, and a gzip of nothing.
    CHECK(contains(error_of([&] { decode_idx_images(gzip_deflate(std::vector<uint8_t>(content.begin(), content.begin() + 10)), "cut.gz"); }),
                   "cut.gz (after gunzip): truncated: 10 bytes, the 3-dim IDX header needs 16"));
    CHECK(contains(error_of([&] { decode_idx_labels(gzip_deflate({}), "empty.gz", 10); }),
                   "empty.gz (after gunzip): truncated: 0 bytes, an IDX file needs at least a 4-byte magic"));
    // A gzip header and nothing else.
    CHECK(contains(error_of([&] { decode_idx_labels(std::vector<uint8_t>{0x1F, 0x8B}, "magic.gz", 10); }),
                   "magic.gz: corrupt gzip: truncated stream"));
    // The wrong file inside the gzip.
    CHECK(contains(error_of([&] { decode_idx_labels(gzip_deflate(content), "swap.gz", 10); }),
                   "swap.gz (after gunzip): wrong magic: expected 0x00000801 (IDX u8 labels, 1 dim), found 0x00000803"));
}
