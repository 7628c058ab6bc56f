// The temporary file behind an atomic replace, and the clean-up of those
// left by writers that died.
//
// A write to `path` goes to "<path>.tmp.<pid>" and is renamed over `path` at
// the end. A writer killed outright (kill -9, the OOM killer, a power cut)
// leaves its full-size temporary behind. Whether that writer still runs
// cannot be told from the pid in the name: pids are reused, and a pid taken
// by another process would keep the stale file forever (issue: a CI run saw
// one outlive the next run). So the writer holds an flock(2) lock on its
// temporary from creation until after the rename, and "stale" means exactly
// "no process holds its lock": the kernel drops a lock when its holder
// dies, however it dies.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace vkcnn::io {

// An open, locked "<path>.tmp.<pid>". Move-only; the destructor closes it
// (which releases the lock) but never removes it: the owner renames it over
// the target, or calls remove().
class TemporaryFile {
public:
    // Creates (truncating) and locks the temporary for `path`; if a cleaner
    // removed the file between our open and our lock, opens it again. Where
    // the file system has no locks (ENOLCK, EOPNOTSUPP) the file stays
    // unlocked and the cleaner falls back to the pid. nullopt with errno set
    // if the file cannot be created.
    static std::optional<TemporaryFile> create(const std::string& path);
    // "<path>.tmp.<this process's pid>".
    static std::string name_for(const std::string& path);
    ~TemporaryFile();
    TemporaryFile(TemporaryFile&& other) noexcept;
    TemporaryFile& operator=(TemporaryFile&&) = delete;
    TemporaryFile(const TemporaryFile&) = delete;
    TemporaryFile& operator=(const TemporaryFile&) = delete;

    const std::string& name() const { return name_; }
    // The locked descriptor: write through a dup() of it, so that closing the
    // copy (fclose) before the rename keeps the lock.
    int fd() const { return fd_; }
    // Removes the file while still holding its lock, then closes it.
    void remove() noexcept;

private:
    TemporaryFile(std::string name, int fd) : name_(std::move(name)), fd_(fd) {}
    std::string name_;
    int fd_ = -1;
};

// Removes every "<path>.tmp.<digits>" in path's directory that no process
// holds locked (on a file system without locks: whose pid no longer runs).
// A live writer's temporary, this process's included, is left alone. Never
// throws: a file that cannot be removed stays, a missing directory is
// nothing to do.
void remove_stale_temporaries(const std::string& path);

} // namespace vkcnn::io
