// Locked temporaries and the clean-up of stale ones: a temporary is stale
// exactly when no process holds its lock, whatever the pid in its name says
// (a reused pid must not keep a dead writer's file), and a cleaner racing a
// writer never takes the file from under it.
#include "vkcnn/io/temporary_file.h"

#include "vkcnn/io/safetensors.h"

#include "support/files.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace vkcnn;
using namespace vkcnn::test;
namespace fs = std::filesystem;

namespace {

fs::path touch(const fs::path& file) {
    std::ofstream(file) << "partial";
    return file;
}

// Someone else holds `file`'s lock (another open file description, as
// another process would): LOCK_NB fails.
bool locked(const fs::path& file) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    const bool busy = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    ::close(fd);
    return busy;
}

// A child process that holds `file` locked until killed.
pid_t hold_lock_in_child(const fs::path& file) {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL); // never outlive a test that failed
        const int fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
        const char ok = fd >= 0 && ::flock(fd, LOCK_EX) == 0 ? 'y' : 'n';
        (void)!::write(ready[1], &ok, 1);
        for (;;) ::pause();
    }
    ::close(ready[1]);
    char ok = 0;
    REQUIRE(::read(ready[0], &ok, 1) == 1);
    ::close(ready[0]);
    REQUIRE(ok == 'y');
    return child;
}

void kill_and_reap(pid_t child) {
    ::kill(child, SIGKILL);
    REQUIRE(::waitpid(child, nullptr, 0) == child);
}

} // namespace

TEST_CASE("io/temporary_file: the writer holds its temporary locked until it closes it") {
    TempDir dir;
    const std::string path = dir.file("model.safetensors");
    auto tmp = io::TemporaryFile::create(path);
    REQUIRE(tmp);
    CHECK(tmp->name() == path + ".tmp." + std::to_string(::getpid()));
    CHECK(tmp->name() == io::TemporaryFile::name_for(path));
    CHECK(fs::is_regular_file(tmp->name()));
    CHECK(locked(tmp->name()));
    io::remove_stale_temporaries(path); // ours, being written: kept
    CHECK(fs::exists(tmp->name()));
    const std::string name = tmp->name();
    tmp.reset(); // closed, not removed: the owner renames it
    CHECK(fs::exists(name));
    CHECK_FALSE(locked(name));

    auto again = io::TemporaryFile::create(path);
    REQUIRE(again);
    again->remove();
    CHECK_FALSE(fs::exists(name));
    // A directory cannot be created in: nullopt with errno.
    errno = 0;
    CHECK_FALSE(io::TemporaryFile::create(dir.file("no/such/x.safetensors")));
    CHECK(errno == ENOENT);
}

TEST_CASE("io/temporary_file: stale means unlocked, whatever the pid in the name") {
    TempDir dir;
    const std::string path = dir.file("model.safetensors");
    const pid_t dead = ::fork(); // a process that has exited: its pid is free
    if (dead == 0) ::_exit(0);
    REQUIRE(dead > 0);
    REQUIRE(::waitpid(dead, nullptr, 0) == dead);

    const auto prefix = dir.path / "model.safetensors.tmp.";
    const auto of_dead = touch(prefix.string() + std::to_string(dead));
    // pid 1 always runs: the file of a dead writer whose pid was taken again.
    const auto reused = touch(prefix.string() + "1");
    const auto our_pid = touch(prefix.string() + std::to_string(::getpid())); // a dead writer before us
    const auto held = touch(prefix.string() + "77");
    const pid_t holder = hold_lock_in_child(held);
    const auto other = touch(dir.path / "other.safetensors.tmp.1");
    const auto odd = touch(prefix.string() + "12x");
    const auto not_a_file = prefix.string() + "5";
    fs::create_directory(not_a_file);

    io::remove_stale_temporaries(path);
    for (const auto& gone : {of_dead, reused, our_pid}) {
        CAPTURE(gone);
        CHECK_FALSE(fs::exists(gone));
    }
    for (const auto& kept : {held, other, odd, fs::path(not_a_file)}) {
        CAPTURE(kept);
        CHECK(fs::exists(kept));
    }
    // The holder dies however it dies: the kernel drops the lock, the file goes.
    kill_and_reap(holder);
    io::remove_stale_temporaries(path);
    CHECK_FALSE(fs::exists(held));
    CHECK(fs::exists(other));

    io::remove_stale_temporaries(dir.file("none/x.safetensors")); // no such directory: nothing, no throw
}

TEST_CASE("io/temporary_file: a cleaner racing the writer never takes its file") {
    TempDir dir;
    const std::string path = dir.file("model.safetensors");
    const pid_t cleaner = ::fork();
    REQUIRE(cleaner >= 0);
    if (cleaner == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (;;) io::remove_stale_temporaries(path);
    }
    const std::vector<float> values(4096, 1.5f);
    const std::vector<io::SafeTensor> tensors{io::SafeTensor::make<float>("w", {4096}, values)};
    int failures = 0;
    for (int i = 0; i < 2000; ++i) {
        try {
            io::write_safetensors(path, tensors);
        } catch (const std::exception& e) {
            if (failures++ == 0) MESSAGE(e.what());
        }
    }
    kill_and_reap(cleaner);
    CHECK(failures == 0);
    CHECK(io::read_safetensors(path).at("w").values<float>() == values);
    int files = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path)) ++files;
    CHECK(files == 1); // no temporary left
}
