// IDX reading (plain or gzip) with a precise error for every kind of bad file:
// the loaders are the first thing a new user runs, and "bad file" alone sends
// them hunting. Gzip goes through zlib's inflate on the whole file in memory.
#include "vkcnn/data/idx.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#ifndef VKCNN_HAS_ZLIB
#define VKCNN_HAS_ZLIB 0
#endif
#if VKCNN_HAS_ZLIB
#include <zlib.h>
#endif

namespace vkcnn::data {
namespace {

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

std::string hex32(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08X", v);
    return buf;
}

uint32_t be32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

void put_be32(std::vector<uint8_t>& out, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(v >> shift));
}

// What a magic number claims to be, so a mix-up (labels passed as images, a
// float IDX, not an IDX at all) reads as such in the error.
std::string describe_magic(uint32_t magic) {
    if ((magic >> 16) != 0) {
        if ((magic >> 16) == 0x1F8B) return "gzip data";
        return "not an IDX file";
    }
    const char* type = nullptr;
    switch ((magic >> 8) & 0xFF) {
    case 0x08: type = "u8"; break;
    case 0x09: type = "i8"; break;
    case 0x0B: type = "i16"; break;
    case 0x0C: type = "i32"; break;
    case 0x0D: type = "f32"; break;
    case 0x0E: type = "f64"; break;
    default: return "not an IDX file";
    }
    return cat("IDX ", type, ", ", magic & 0xFF, " dims");
}

bool is_gzip(const std::vector<uint8_t>& bytes) { return bytes.size() >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B; }

std::vector<uint8_t> read_file(const std::string& path) {
    File f(std::fopen(path.c_str(), "rb"));
    if (!f) throw Error(cat(path, ": cannot open: ", std::strerror(errno)));
    // One read of the announced size, then chunks until EOF (a file that grew,
    // or one whose size cannot be asked, like a pipe).
    std::vector<uint8_t> bytes;
    if (std::fseek(f.get(), 0, SEEK_END) == 0) {
        const long size = std::ftell(f.get());
        if (size > 0) bytes.resize(size_t(size));
    }
    std::rewind(f.get());
    bytes.resize(std::fread(bytes.data(), 1, bytes.size(), f.get()));
    uint8_t chunk[1 << 16];
    while (!std::ferror(f.get()) && !std::feof(f.get())) {
        const size_t n = std::fread(chunk, 1, sizeof chunk, f.get());
        bytes.insert(bytes.end(), chunk, chunk + n);
    }
    if (std::ferror(f.get())) throw Error(cat(path, ": read error: ", std::strerror(errno)));
    return bytes;
}

#if VKCNN_HAS_ZLIB
// Inflates every gzip member in `in` (gzip allows concatenated members).
std::vector<uint8_t> gunzip(const std::vector<uint8_t>& in, const std::string& path) {
    std::vector<uint8_t> out;
    // ISIZE (the last 4 bytes, little-endian) is the uncompressed size mod 2^32:
    // a good first guess that saves the doubling copies for a 47 MB file. In a
    // damaged file it is noise, so it is capped by deflate's best ratio (1032:1).
    if (in.size() >= 18) {
        const size_t n = in.size();
        const uint32_t isize = uint32_t(in[n - 4]) | uint32_t(in[n - 3]) << 8 | uint32_t(in[n - 2]) << 16 |
                               uint32_t(in[n - 1]) << 24;
        out.reserve(std::min({size_t{isize} + 64, n * 1032 + 64, size_t{1} << 30}));
    }
    z_stream zs{};
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw Error(cat(path, ": zlib inflateInit2 failed"));
    std::unique_ptr<z_stream, decltype(&inflateEnd)> guard(&zs, &inflateEnd);
    size_t pos = 0;
    for (;;) {
        // Feed and drain in pieces that fit zlib's 32-bit counters.
        const size_t in_chunk = std::min<size_t>(in.size() - pos, std::numeric_limits<uInt>::max());
        zs.next_in = const_cast<Bytef*>(in.data() + pos);
        zs.avail_in = uInt(in_chunk);
        if (out.size() == out.capacity()) out.reserve(std::max<size_t>(out.capacity() * 2, 1 << 16));
        const size_t before = out.size();
        const size_t room = std::min<size_t>(out.capacity() - before, std::numeric_limits<uInt>::max());
        out.resize(before + room);
        zs.next_out = out.data() + before;
        zs.avail_out = uInt(room);
        const int rc = inflate(&zs, Z_NO_FLUSH);
        out.resize(before + (room - zs.avail_out));
        const size_t consumed = in_chunk - zs.avail_in;
        pos += consumed;
        if (rc == Z_STREAM_END) {
            if (pos == in.size()) return out;
            if (in.size() - pos >= 2 && in[pos] == 0x1F && in[pos + 1] == 0x8B) {
                inflateReset(&zs); // next member
                continue;
            }
            throw Error(cat(path, ": corrupt gzip: ", in.size() - pos, " bytes of trailing garbage after the gzip stream"));
        }
        if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_STREAM_ERROR || rc == Z_MEM_ERROR)
            throw Error(cat(path, ": corrupt gzip: ", zs.msg ? zs.msg : "inflate failed", " (at compressed byte ", pos,
                            " of ", in.size(), ")"));
        // Z_OK or Z_BUF_ERROR: no progress possible with all input consumed means
        // the stream stops before its end marker.
        if ((pos == in.size() && zs.avail_out != 0) || (consumed == 0 && out.size() == before && zs.avail_out != 0))
            throw Error(cat(path, ": corrupt gzip: truncated stream (", in.size(),
                            " compressed bytes end before the gzip end marker, ", out.size(),
                            " bytes decompressed so far)"));
    }
}
#endif

// Reads the header of an IDX file: checks the magic, returns the dims and the
// expected total size (header + payload) after checking it against the file.
std::vector<uint32_t> parse_header(const std::vector<uint8_t>& bytes, const std::string& source, uint32_t magic,
                                   const char* what) {
    const uint32_t ndim = magic & 0xFF;
    if (bytes.size() < 4)
        throw Error(cat(source, ": truncated: ", bytes.size(), " bytes, an IDX file needs at least a 4-byte magic"));
    const uint32_t found = be32(bytes.data());
    if (found != magic)
        throw Error(cat(source, ": wrong magic: expected ", hex32(magic), " (", what, "), found ", hex32(found), " (",
                        describe_magic(found), ")"));
    const size_t header = 4 + 4 * size_t{ndim};
    if (bytes.size() < header)
        throw Error(cat(source, ": truncated: ", bytes.size(), " bytes, the ", ndim, "-dim IDX header needs ", header));
    std::vector<uint32_t> dims(ndim);
    std::string dims_str;
    uint64_t expected = header;
    bool overflow = false;
    for (uint32_t i = 0; i < ndim; ++i) {
        dims[i] = be32(bytes.data() + 4 + 4 * i);
        dims_str += (i ? " x " : "") + std::to_string(dims[i]);
    }
    uint64_t payload = 1;
    for (uint32_t d : dims) {
        if (d == 0) throw Error(cat(source, ": zero dimension in the header: dims are ", dims_str));
        if (payload > std::numeric_limits<uint64_t>::max() / d) overflow = true;
        payload *= d;
    }
    if (overflow || payload > std::numeric_limits<uint64_t>::max() - header || payload + header > SIZE_MAX)
        throw Error(cat(source, ": header dims ", dims_str, " are too large to be real"));
    expected += payload;
    if (bytes.size() < expected)
        throw Error(cat(source, ": truncated: the header says ", dims_str, " (", expected, " bytes with the header), found ",
                        bytes.size(), " bytes"));
    if (bytes.size() > expected)
        throw Error(cat(source, ": ", bytes.size() - expected, " trailing bytes: the header says ", dims_str, " (",
                        expected, " bytes with the header), found ", bytes.size(), " bytes"));
    return dims;
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
    File f(std::fopen(path.c_str(), "wb"));
    if (!f) throw Error(cat(path, ": cannot create: ", std::strerror(errno)));
    if (std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size() || std::fflush(f.get()) != 0)
        throw Error(cat(path, ": write failed: ", std::strerror(errno)));
    if (std::fclose(f.release()) != 0) throw Error(cat(path, ": close failed: ", std::strerror(errno)));
}

// read_maybe_gzip plus how to name the content in errors: sizes in a .gz
// file's errors are of the decompressed bytes, and the message says so.
std::vector<uint8_t> read_content(const std::string& path, std::string& source) {
    std::vector<uint8_t> bytes = read_maybe_gzip(path);
    source = path;
    if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) source += " (after gunzip)";
    return bytes;
}

} // namespace

bool gzip_supported() { return VKCNN_HAS_ZLIB != 0; }

std::vector<uint8_t> read_maybe_gzip(const std::string& path) {
    std::vector<uint8_t> bytes = read_file(path);
    if (!is_gzip(bytes)) return bytes;
#if VKCNN_HAS_ZLIB
    return gunzip(bytes, path);
#else
    throw Error(cat(path, ": gzip-compressed, and this build (WebAssembly) has no zlib; gunzip the file first"));
#endif
}

IdxImages parse_idx_images(const std::vector<uint8_t>& bytes, const std::string& source) {
    const std::vector<uint32_t> dims = parse_header(bytes, source, kIdxImagesMagic, "IDX u8 images, 3 dims");
    IdxImages out;
    out.count = dims[0];
    out.rows = dims[1];
    out.cols = dims[2];
    out.pixels.assign(bytes.begin() + 16, bytes.end());
    return out;
}

IdxLabels parse_idx_labels(const std::vector<uint8_t>& bytes, const std::string& source, int num_classes) {
    check(num_classes >= 1 && num_classes <= 256, source, ": num_classes must be in 1..256 for u8 labels, got ",
          num_classes);
    parse_header(bytes, source, kIdxLabelsMagic, "IDX u8 labels, 1 dim");
    IdxLabels out;
    out.labels.assign(bytes.begin() + 8, bytes.end());
    for (size_t i = 0; i < out.labels.size(); ++i)
        if (out.labels[i] >= num_classes)
            throw Error(cat(source, ": label ", int(out.labels[i]), " at index ", i, " is out of range for ",
                            num_classes, " classes (expected 0..", num_classes - 1, ")"));
    return out;
}

IdxImages read_idx_images(const std::string& path) {
    std::string source;
    const std::vector<uint8_t> bytes = read_content(path, source);
    return parse_idx_images(bytes, source);
}

IdxLabels read_idx_labels(const std::string& path, int num_classes) {
    std::string source;
    const std::vector<uint8_t> bytes = read_content(path, source);
    return parse_idx_labels(bytes, source, num_classes);
}

IdxPair read_idx_pair(const std::string& images_path, const std::string& labels_path, int num_classes) {
    IdxPair p{read_idx_images(images_path), read_idx_labels(labels_path, num_classes)};
    if (size_t(p.images.count) != p.labels.labels.size())
        throw Error(cat(images_path, " has ", p.images.count, " images but ", labels_path, " has ",
                        p.labels.labels.size(), " labels"));
    return p;
}

void write_idx_images(const std::string& path, const IdxImages& images) {
    check(images.count > 0 && images.rows > 0 && images.cols > 0, path, ": cannot write IDX images with dims ",
          images.count, " x ", images.rows, " x ", images.cols);
    check(images.pixels.size() == size_t(images.count * images.rows * images.cols), path, ": ", images.count, " x ",
          images.rows, " x ", images.cols, " images need ", images.count * images.rows * images.cols,
          " pixels, got ", images.pixels.size());
    std::vector<uint8_t> bytes;
    bytes.reserve(16 + images.pixels.size());
    put_be32(bytes, kIdxImagesMagic);
    put_be32(bytes, uint32_t(images.count));
    put_be32(bytes, uint32_t(images.rows));
    put_be32(bytes, uint32_t(images.cols));
    bytes.insert(bytes.end(), images.pixels.begin(), images.pixels.end());
    write_file(path, bytes);
}

void write_idx_labels(const std::string& path, const IdxLabels& labels) {
    check(!labels.labels.empty(), path, ": cannot write an IDX labels file with no labels");
    std::vector<uint8_t> bytes;
    bytes.reserve(8 + labels.labels.size());
    put_be32(bytes, kIdxLabelsMagic);
    put_be32(bytes, uint32_t(labels.labels.size()));
    bytes.insert(bytes.end(), labels.labels.begin(), labels.labels.end());
    write_file(path, bytes);
}

} // namespace vkcnn::data
