// Whole-file reads and crash-safe writes (POSIX). See Note [atomic writes] in
// docs/notes/safetensors.md.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "cformer/io.h"
#include "util/check.h"

namespace cf::io {

std::vector<uint8_t> read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  CF_CHECK(fd >= 0, IoError, path, ": cannot open: ", std::strerror(errno));
  std::vector<uint8_t> bytes;
  try {
    struct stat st {};
    CF_CHECK(::fstat(fd, &st) == 0, IoError, path, ": cannot stat: ", std::strerror(errno));
    CF_CHECK(!S_ISDIR(st.st_mode), IoError, path, ": is a directory");
    if (S_ISREG(st.st_mode)) bytes.reserve(static_cast<size_t>(st.st_size));
    uint8_t buf[1 << 16];
    for (;;) {
      const ssize_t r = ::read(fd, buf, sizeof(buf));
      if (r < 0 && errno == EINTR) continue;
      CF_CHECK(r >= 0, IoError, path, ": read failed after ", bytes.size(),
               " bytes: ", std::strerror(errno));
      if (r == 0) break;
      bytes.insert(bytes.end(), buf, buf + r);
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return bytes;
}

void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes) {
  namespace fs = std::filesystem;
  // Unique per process and call, so concurrent writers of one path never share a temporary.
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." +
                          std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
  auto fail = [&path, &tmp](const char* what, int err) {
    ::unlink(tmp.c_str());
    CF_THROW(IoError, path, ": write_file_atomic: ", what, " failed: ", std::strerror(err));
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  CF_CHECK(fd >= 0, IoError, path, ": write_file_atomic: cannot create the temporary file ", tmp,
           ": ", std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = w < 0 ? errno : EIO;
      ::close(fd);
      fail("write", err);
    }
    done += static_cast<size_t>(w);
  }
  // The data must be on disk before the rename makes it visible under path.
  const int sync_err = ::fsync(fd) == 0 ? 0 : errno;
  const int close_err = ::close(fd) == 0 ? 0 : errno;
  if (sync_err != 0) fail("fsync", sync_err);
  if (close_err != 0) fail("close", close_err);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename", errno);
  // The rename itself is durable only once the directory entry is on disk.
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  CF_CHECK(dfd >= 0, IoError, path,
           ": write_file_atomic: cannot open the directory to fsync it: ", std::strerror(errno));
  const int dir_err = ::fsync(dfd) == 0 ? 0 : errno;
  ::close(dfd);
  // EINVAL: the file system cannot sync directories (some network and FUSE mounts).
  CF_CHECK(dir_err == 0 || dir_err == EINVAL, IoError, path,
           ": write_file_atomic: fsync of the directory failed: ", std::strerror(dir_err));
}

}  // namespace cf::io
