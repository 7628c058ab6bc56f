// Locked temporary files and the clean-up of stale ones (see temporary_file.h).
//
// The protocol, race-free between a writer and any number of cleaners:
// - the writer opens "<path>.tmp.<pid>", takes LOCK_EX (blocking), then checks
//   that the name still leads to the inode it locked; if a cleaner unlinked it
//   meanwhile, it starts again;
// - a cleaner takes LOCK_EX | LOCK_NB: success means no writer holds the file,
//   and it unlinks it *while holding the lock*, so a writer that was waiting
//   for the lock finds the name gone and starts again.
#include "vkcnn/io/temporary_file.h"

#include "vkcnn/core/error.h"

#include <cerrno>
#include <filesystem>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace vkcnn::io {
#if !defined(__EMSCRIPTEN__) // the browser's file system has one process: nothing to lock against
namespace {

// The file system cannot lock at all (some network and FUSE file systems).
bool locks_unsupported(int err) { return err == ENOLCK || err == EOPNOTSUPP || err == EINVAL; }

int lock(int fd, int how) {
    int rc;
    do rc = ::flock(fd, how);
    while (rc != 0 && errno == EINTR);
    return rc;
}

// `name` still refers to the file open as `fd`.
bool same_file(const std::string& name, int fd) {
    struct stat by_name {}, by_fd {};
    return ::stat(name.c_str(), &by_name) == 0 && ::fstat(fd, &by_fd) == 0 && by_name.st_dev == by_fd.st_dev &&
           by_name.st_ino == by_fd.st_ino;
}

} // namespace
#endif

std::string TemporaryFile::name_for(const std::string& path) { return cat(path, ".tmp.", ::getpid()); }

std::optional<TemporaryFile> TemporaryFile::create(const std::string& path) {
    const std::string name = name_for(path);
    // A cleaner can unlink our fresh file only once per stale-looking moment;
    // the bound just keeps a pathological loop from spinning forever.
    for (int attempt = 0; attempt < 100; ++attempt) {
        const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd < 0) return std::nullopt;
#if !defined(__EMSCRIPTEN__)
        if (lock(fd, LOCK_EX) != 0) {
            const int err = errno;
            if (!locks_unsupported(err)) {
                ::close(fd);
                errno = err;
                return std::nullopt;
            }
        } else if (!same_file(name, fd)) {
            ::close(fd); // a cleaner removed it before we held it
            continue;
        }
#endif
        return TemporaryFile(name, fd);
    }
    errno = EAGAIN;
    return std::nullopt;
}

TemporaryFile::TemporaryFile(TemporaryFile&& other) noexcept
    : name_(std::move(other.name_)), fd_(std::exchange(other.fd_, -1)) {}

TemporaryFile::~TemporaryFile() {
    if (fd_ >= 0) ::close(fd_);
}

void TemporaryFile::remove() noexcept {
    ::unlink(name_.c_str());
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

void remove_stale_temporaries(const std::string& path) {
#if !defined(__EMSCRIPTEN__)
    namespace fs = std::filesystem;
    const fs::path p(path);
    const std::string prefix = p.filename().string() + ".tmp.";
    const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (!name.starts_with(prefix)) continue;
        const std::string digits = name.substr(prefix.size());
        if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
        const std::string file = it->path().string();
        const int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat st {};
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { // not a temporary of ours
            ::close(fd);
            continue;
        }
        bool stale = false;
        if (lock(fd, LOCK_EX | LOCK_NB) == 0) {
            stale = same_file(file, fd); // not replaced by a new writer's file since we listed it
        } else if (locks_unsupported(errno)) {
            // No locks here: the pid is all there is. EPERM means the process
            // runs under another user; only ESRCH means it is gone.
            const pid_t pid = static_cast<pid_t>(std::stol(digits));
            stale = pid > 0 && pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH;
        }
        if (stale) ::unlink(file.c_str());
        ::close(fd);
    }
#else
    (void)path;
#endif
}

} // namespace vkcnn::io
