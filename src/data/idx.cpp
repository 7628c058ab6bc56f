// IDX reading (plain or gzip) with a precise error for every kind of bad file:
// the loaders are the first thing a new user runs, and "bad file" alone sends
// them hunting. Nothing is allocated before the header says how much the
// content holds and that size has passed the checks: gzip goes through
// zlib's inflate a piece at a time, up to the header's size and no further.
#include "vkcnn/data/idx.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>

#include <sys/stat.h>

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

bool is_gzip(std::span<const uint8_t> bytes) { return bytes.size() >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B; }

// A regular file's bytes. fopen opens a directory too (whose size reads as
// 2^63 - 1), and a pipe or a device may never end: only regular files of at
// most kMaxIdxBytes are read, so what is allocated is what the file holds.
std::vector<uint8_t> read_file(const std::string& path) {
    File f(std::fopen(path.c_str(), "rb"));
    if (!f) throw Error(cat(path, ": cannot open: ", std::strerror(errno)));
    struct stat st {};
    if (::fstat(::fileno(f.get()), &st) != 0) throw Error(cat(path, ": cannot stat: ", std::strerror(errno)));
    if (S_ISDIR(st.st_mode)) throw Error(cat(path, ": is a directory, not an IDX file"));
    if (!S_ISREG(st.st_mode)) throw Error(cat(path, ": not a regular file, not an IDX file"));
    if (uint64_t(st.st_size) > kMaxIdxBytes)
        throw Error(cat(path, ": ", uint64_t(st.st_size), " bytes, more than the ", kMaxIdxBytes,
                        "-byte limit of an IDX file"));
    // One read of the announced size, then chunks until EOF (a file that grew).
    std::vector<uint8_t> bytes(size_t(st.st_size));
    bytes.resize(std::fread(bytes.data(), 1, bytes.size(), f.get()));
    uint8_t chunk[1 << 16];
    while (!std::ferror(f.get()) && !std::feof(f.get()) && bytes.size() <= kMaxIdxBytes) {
        const size_t n = std::fread(chunk, 1, sizeof chunk, f.get());
        bytes.insert(bytes.end(), chunk, chunk + n);
    }
    if (std::ferror(f.get())) throw Error(cat(path, ": read error: ", std::strerror(errno)));
    if (bytes.size() > kMaxIdxBytes)
        throw Error(cat(path, ": grew past the ", kMaxIdxBytes, "-byte limit of an IDX file while being read"));
    return bytes;
}

#if VKCNN_HAS_ZLIB
// A gzip stream inflated on demand, every member (gzip allows concatenated
// members): the caller takes as many bytes as it expects and no more, so a
// file that inflates to gigabytes is stopped where its content should end.
class Gunzip {
public:
    Gunzip(std::span<const uint8_t> in, const std::string& source) : in_(in), source_(source) {
        if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) throw Error(cat(source, ": zlib inflateInit2 failed"));
    }
    ~Gunzip() { inflateEnd(&zs_); }
    Gunzip(const Gunzip&) = delete;
    Gunzip& operator=(const Gunzip&) = delete;

    // Appends up to n more bytes of content to `out`: fewer only at the end
    // of the stream, which has then been checked (CRC, length, no trailing
    // garbage). Throws for corrupt or truncated gzip.
    void read(std::vector<uint8_t>& out, size_t n);
    size_t position() const { return pos_; } // compressed bytes consumed

private:
    std::span<const uint8_t> in_;
    const std::string& source_;
    z_stream zs_{};
    size_t pos_ = 0;
    bool done_ = false;
};

void Gunzip::read(std::vector<uint8_t>& out, size_t n) {
    const size_t target = out.size() + n;
    while (!done_ && out.size() < target) {
        // Feed and drain in pieces that fit zlib's 32-bit counters; output
        // 1 MiB at a time, so the buffer grows only as data arrives.
        const size_t in_chunk = std::min<size_t>(in_.size() - pos_, std::numeric_limits<uInt>::max());
        zs_.next_in = const_cast<Bytef*>(in_.data() + pos_);
        zs_.avail_in = uInt(in_chunk);
        const size_t before = out.size();
        const size_t room = std::min<size_t>(target - before, size_t{1} << 20);
        out.resize(before + room);
        zs_.next_out = out.data() + before;
        zs_.avail_out = uInt(room);
        const int rc = inflate(&zs_, Z_NO_FLUSH);
        out.resize(before + (room - zs_.avail_out));
        const size_t consumed = in_chunk - zs_.avail_in;
        pos_ += consumed;
        if (rc == Z_STREAM_END) {
            if (pos_ == in_.size()) {
                done_ = true;
                return;
            }
            if (in_.size() - pos_ >= 2 && in_[pos_] == 0x1F && in_[pos_ + 1] == 0x8B) {
                inflateReset(&zs_); // next member
                continue;
            }
            throw Error(cat(source_, ": corrupt gzip: ", in_.size() - pos_,
                            " bytes of trailing garbage after the gzip stream"));
        }
        if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_STREAM_ERROR || rc == Z_MEM_ERROR)
            throw Error(cat(source_, ": corrupt gzip: ", zs_.msg ? zs_.msg : "inflate failed", " (at compressed byte ",
                            pos_, " of ", in_.size(), ")"));
        // Z_OK or Z_BUF_ERROR: no progress possible with all input consumed means
        // the stream stops before its end marker.
        if ((pos_ == in_.size() && zs_.avail_out != 0) || (consumed == 0 && out.size() == before && zs_.avail_out != 0))
            throw Error(cat(source_, ": corrupt gzip: truncated stream (", in_.size(),
                            " compressed bytes end before the gzip end marker, ", out.size(),
                            " bytes decompressed so far)"));
    }
}
#endif

// An IDX header, read and checked: the dims and the size of the content
// they describe (header + payload).
struct IdxHeader {
    std::vector<uint32_t> dims;
    std::string dims_str; // "10 x 28 x 28"
    uint64_t total_bytes = 0;
};

size_t header_bytes(uint32_t magic) { return 4 + 4 * size_t{magic & 0xFF}; }

// Reads the header from the first bytes of IDX content: checks the magic,
// the dims (no zero, no overflow) and their size against kMaxIdxBytes. The
// rest of the content need not be there yet.
IdxHeader read_header(std::span<const uint8_t> bytes, const std::string& source, uint32_t magic, const char* what) {
    const uint32_t ndim = magic & 0xFF;
    if (bytes.size() < 4)
        throw Error(cat(source, ": truncated: ", bytes.size(), " bytes, an IDX file needs at least a 4-byte magic"));
    const uint32_t found = be32(bytes.data());
    if (found != magic)
        throw Error(cat(source, ": wrong magic: expected ", hex32(magic), " (", what, "), found ", hex32(found), " (",
                        describe_magic(found), ")"));
    const size_t header = header_bytes(magic);
    if (bytes.size() < header)
        throw Error(cat(source, ": truncated: ", bytes.size(), " bytes, the ", ndim, "-dim IDX header needs ", header));
    IdxHeader h;
    h.dims.resize(ndim);
    for (uint32_t i = 0; i < ndim; ++i) {
        h.dims[i] = be32(bytes.data() + 4 + 4 * i);
        h.dims_str += (i ? " x " : "") + std::to_string(h.dims[i]);
    }
    uint64_t payload = 1;
    bool overflow = false;
    for (uint32_t d : h.dims) {
        if (d == 0) throw Error(cat(source, ": zero dimension in the header: dims are ", h.dims_str));
        if (payload > std::numeric_limits<uint64_t>::max() / d) overflow = true;
        payload *= d;
    }
    if (overflow) throw Error(cat(source, ": header dims ", h.dims_str, " are too large to be real"));
    if (payload > kMaxIdxBytes - header)
        throw Error(cat(source, ": header dims ", h.dims_str, " describe ", payload + header,
                        " bytes, more than the ", kMaxIdxBytes, "-byte limit of an IDX file"));
    h.total_bytes = header + payload;
    return h;
}

// The content's size against what its header says.
void check_content_size(const IdxHeader& h, uint64_t size, const std::string& source) {
    if (size < h.total_bytes)
        throw Error(cat(source, ": truncated: the header says ", h.dims_str, " (", h.total_bytes,
                        " bytes with the header), found ", size, " bytes"));
    if (size > h.total_bytes)
        throw Error(cat(source, ": ", size - h.total_bytes, " trailing bytes: the header says ", h.dims_str, " (",
                        h.total_bytes, " bytes with the header), found ", size, " bytes"));
}

// Calls build(content, header, source) with the checked IDX content of a
// file's bytes as stored: the bytes themselves, or the gunzipped stream
// (then `source` becomes "<file> (after gunzip)": sizes in its errors are
// of the decompressed bytes, and the message says so).
template <typename Build>
auto with_content(std::span<const uint8_t> file, const std::string& source, uint32_t magic, const char* what,
                  const Build& build) {
    if (!is_gzip(file)) {
        const IdxHeader h = read_header(file, source, magic, what);
        check_content_size(h, file.size(), source);
        return build(file, h, source);
    }
#if VKCNN_HAS_ZLIB
    const std::string inner = source + " (after gunzip)";
    Gunzip gz(file, source);
    std::vector<uint8_t> content;
    gz.read(content, header_bytes(magic));
    const IdxHeader h = read_header(content, inner, magic, what);
    // Room for what the header says, though no more than deflate can make
    // of this many compressed bytes (1032:1): a lying header costs nothing.
    content.reserve(size_t(std::min<uint64_t>(h.total_bytes, uint64_t(file.size()) * 1032 + 1024)));
    gz.read(content, size_t(h.total_bytes) - content.size());
    if (content.size() == h.total_bytes) {
        gz.read(content, 1); // the stream's end (its CRC checked), or data beyond the header's size
        if (content.size() > h.total_bytes)
            throw Error(cat(inner, ": trailing bytes: the header says ", h.dims_str, " (", h.total_bytes,
                            " bytes with the header), the gzip stream holds more (decompression stopped there, at "
                            "compressed byte ", gz.position(), " of ", file.size(), ")"));
    }
    check_content_size(h, content.size(), inner);
    return build(std::span<const uint8_t>(content), h, inner);
#else
    throw Error(cat(source, ": gzip-compressed, and this build (WebAssembly) has no zlib; gunzip the file first"));
#endif
}

IdxImages build_images(std::span<const uint8_t> content, const IdxHeader& h, const std::string& /*source*/) {
    IdxImages out;
    out.count = h.dims[0];
    out.rows = h.dims[1];
    out.cols = h.dims[2];
    out.pixels.assign(content.begin() + 16, content.end());
    return out;
}

IdxLabels build_labels(std::span<const uint8_t> content, const std::string& source, int num_classes) {
    IdxLabels out;
    out.labels.assign(content.begin() + 8, content.end());
    for (size_t i = 0; i < out.labels.size(); ++i)
        if (out.labels[i] >= num_classes)
            throw Error(cat(source, ": label ", int(out.labels[i]), " at index ", i, " is out of range for ",
                            num_classes, " classes (expected 0..", num_classes - 1, ")"));
    return out;
}

void check_num_classes(int num_classes, const std::string& source) {
    check(num_classes >= 1 && num_classes <= 256, source, ": num_classes must be in 1..256 for u8 labels, got ",
          num_classes);
}

constexpr char kImagesWhat[] = "IDX u8 images, 3 dims";
constexpr char kLabelsWhat[] = "IDX u8 labels, 1 dim";

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
    File f(std::fopen(path.c_str(), "wb"));
    if (!f) throw Error(cat(path, ": cannot create: ", std::strerror(errno)));
    if (std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size() || std::fflush(f.get()) != 0)
        throw Error(cat(path, ": write failed: ", std::strerror(errno)));
    if (std::fclose(f.release()) != 0) throw Error(cat(path, ": close failed: ", std::strerror(errno)));
}

} // namespace

bool gzip_supported() { return VKCNN_HAS_ZLIB != 0; }

std::vector<uint8_t> read_maybe_gzip(const std::string& path) {
    std::vector<uint8_t> bytes = read_file(path);
    if (!is_gzip(bytes)) return bytes;
#if VKCNN_HAS_ZLIB
    Gunzip gz(bytes, path);
    std::vector<uint8_t> content;
    gz.read(content, size_t(kMaxIdxBytes) + 1);
    if (content.size() > kMaxIdxBytes)
        throw Error(cat(path, ": decompresses to more than the ", kMaxIdxBytes, "-byte limit of an IDX file"));
    return content;
#else
    throw Error(cat(path, ": gzip-compressed, and this build (WebAssembly) has no zlib; gunzip the file first"));
#endif
}

IdxImages parse_idx_images(const std::vector<uint8_t>& bytes, const std::string& source) {
    const IdxHeader h = read_header(bytes, source, kIdxImagesMagic, kImagesWhat);
    check_content_size(h, bytes.size(), source);
    return build_images(bytes, h, source);
}

IdxLabels parse_idx_labels(const std::vector<uint8_t>& bytes, const std::string& source, int num_classes) {
    check_num_classes(num_classes, source);
    const IdxHeader h = read_header(bytes, source, kIdxLabelsMagic, kLabelsWhat);
    check_content_size(h, bytes.size(), source);
    return build_labels(bytes, source, num_classes);
}

IdxImages decode_idx_images(std::span<const uint8_t> file, const std::string& source) {
    return with_content(file, source, kIdxImagesMagic, kImagesWhat, build_images);
}

IdxLabels decode_idx_labels(std::span<const uint8_t> file, const std::string& source, int num_classes) {
    check_num_classes(num_classes, source);
    return with_content(file, source, kIdxLabelsMagic, kLabelsWhat,
                        [&](std::span<const uint8_t> content, const IdxHeader&, const std::string& where) {
                            return build_labels(content, where, num_classes);
                        });
}

IdxImages read_idx_images(const std::string& path) { return decode_idx_images(read_file(path), path); }

IdxLabels read_idx_labels(const std::string& path, int num_classes) {
    return decode_idx_labels(read_file(path), path, num_classes);
}

namespace {

// The counts of an images file and its labels file checked to agree.
IdxPair paired(IdxImages images, const std::string& images_source, IdxLabels labels,
               const std::string& labels_source) {
    if (size_t(images.count) != labels.labels.size())
        throw Error(cat(images_source, " has ", images.count, " images but ", labels_source, " has ",
                        labels.labels.size(), " labels"));
    return {std::move(images), std::move(labels)};
}

} // namespace

IdxPair read_idx_pair(const std::string& images_path, const std::string& labels_path, int num_classes) {
    IdxImages images = read_idx_images(images_path); // the images first: their errors come first
    return paired(std::move(images), images_path, read_idx_labels(labels_path, num_classes), labels_path);
}

IdxPair decode_idx_pair(std::span<const uint8_t> images, const std::string& images_source,
                        std::span<const uint8_t> labels, const std::string& labels_source, int num_classes) {
    IdxImages decoded = decode_idx_images(images, images_source);
    return paired(std::move(decoded), images_source, decode_idx_labels(labels, labels_source, num_classes),
                  labels_source);
}

void write_idx_images(const std::string& path, const IdxImages& images) {
    // The header holds each dim in 32 bits; with that checked the product fits 64.
    constexpr int64_t kMaxDim = 0xFFFFFFFF;
    check(images.count > 0 && images.rows > 0 && images.cols > 0 && images.count <= kMaxDim &&
              images.rows <= kMaxDim && images.cols <= kMaxDim,
          path, ": cannot write IDX images with dims ", images.count, " x ", images.rows, " x ", images.cols,
          " (each must be in 1..", kMaxDim, ")");
    const uint64_t plane = uint64_t(images.rows) * uint64_t(images.cols);
    const bool overflow = plane > std::numeric_limits<uint64_t>::max() / uint64_t(images.count);
    check(!overflow && images.pixels.size() == plane * uint64_t(images.count), path, ": ", images.count, " x ",
          images.rows, " x ", images.cols, " images need ",
          overflow ? std::string("more than 2^64") : std::to_string(plane * uint64_t(images.count)), " pixels, got ",
          images.pixels.size());
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
    check(labels.labels.size() <= 0xFFFFFFFFu, path, ": ", labels.labels.size(),
          " labels, more than the 2^32 - 1 an IDX header can count");
    std::vector<uint8_t> bytes;
    bytes.reserve(8 + labels.labels.size());
    put_be32(bytes, kIdxLabelsMagic);
    put_be32(bytes, uint32_t(labels.labels.size()));
    bytes.insert(bytes.end(), labels.labels.begin(), labels.labels.end());
    write_file(path, bytes);
}

} // namespace vkcnn::data
