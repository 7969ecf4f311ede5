#include "ship/fs/resolve.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/random.hpp"
#include "common/strings.hpp"
#include "ship/fs/path.hpp"

namespace shipyard::ship::fs::detail {
namespace {

// RESOLVE_BENEATH answers EAGAIN whenever *any* rename happened on the system during a lookup
// that contained "..": it cannot prove the walk stayed beneath. Under an adversary renaming
// in a loop a few retries are normally enough; the bound keeps a pathological load from
// spinning forever (the caller then reports a 500 asking to retry).
constexpr int kMaxEagainRetries = 128;

}  // namespace

int open_beneath(int dirfd, const char* path, std::uint64_t flags, std::uint64_t mode,
                 std::uint64_t extra_resolve) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = flags | O_CLOEXEC;
  how.mode = (flags & (O_CREAT | O_TMPFILE)) != 0 ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | extra_resolve;
  int eagain = 0;
  for (;;) {
    long fd = ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN && ++eagain <= kMaxEagainRetries) continue;
    return -err;
  }
}

std::string display(const Workspace& ws, std::string_view rel) {
  return sanitize_utf8(ws.absolute(rel));
}

Error not_a_file(const Workspace& ws, std::string_view rel) {
  return Error(ErrorCode::kInvalidArgument, "Path is not a file: " + display(ws, rel));
}

Error not_a_directory(const Workspace& ws, std::string_view rel) {
  return Error(ErrorCode::kInvalidArgument, "Path is not a directory: " + display(ws, rel));
}

Error missing(const Workspace& ws, std::string_view rel, Missing kind) {
  const char* what = kind == Missing::kFile ? "File not found: " : "Path not found: ";
  return Error(ErrorCode::kFileNotFound, what + display(ws, rel));
}

Error io_error(const Workspace& ws, std::string_view rel, int err, std::string_view op) {
  Error e(ErrorCode::kInternal,
          std::string(op) + " failed: " + display(ws, rel) + ": " + std::strerror(err));
  e.context = std::string(op) + " " + display(ws, rel) + ": " + std::strerror(err);
  return e;
}

Error path_error(const Workspace& ws, std::string_view rel, int err, std::string_view op,
                 Missing kind) {
  switch (err) {
    case EXDEV:
    case ELOOP: {
      Error e = escape_error(sanitize_utf8(ws.root()));
      e.context = std::string(op) + " " + display(ws, rel) + ": " + std::strerror(err);
      return e;
    }
    case ENOENT:
    case ENOTDIR: return missing(ws, rel, kind);
    case ENAMETOOLONG: return Error(ErrorCode::kInvalidArgument, "Path is too long");
    case EACCES:
    case EPERM: {
      Error e(ErrorCode::kInternal, "Permission denied: " + display(ws, rel));
      e.context = std::string(op) + " " + display(ws, rel) + ": " + std::strerror(err);
      return e;
    }
    default: return io_error(ws, rel, err, op);
  }
}

Result<UniqueFd> open_dir_path(const Workspace& ws, std::string_view dir_rel, std::string_view op,
                               Missing kind) {
  const std::string rel(dir_rel);
  int fd = open_beneath(ws.fd(), rel.c_str(), O_PATH | O_DIRECTORY);
  if (fd < 0) return path_error(ws, rel, -fd, op, kind);
  return UniqueFd(fd);
}

Result<UniqueFd> make_dirs(const Workspace& ws, std::string_view dir_rel) {
  const std::string rel(dir_rel);
  // Fast path: the parent usually exists already.
  int fd = open_beneath(ws.fd(), rel.c_str(), O_PATH | O_DIRECTORY);
  if (fd >= 0) return UniqueFd(fd);
  if (fd != -ENOENT && fd != -ENOTDIR)
    return path_error(ws, rel, -fd, "Create directory", Missing::kPath);

  int root = open_beneath(ws.fd(), ".", O_PATH | O_DIRECTORY);
  if (root < 0) return path_error(ws, ".", -root, "Create directory", Missing::kPath);
  UniqueFd cur(root);
  std::string prefix;
  for (std::string_view comp : split(rel, '/')) {
    if (comp.empty()) continue;
    if (!prefix.empty()) prefix += '/';
    prefix += comp;
    const std::string name(comp);
    // mkdirat never follows a symlink in its last component (EEXIST), and `cur` was itself
    // opened beneath the root, so the new directory lands beneath the root.
    if (::mkdirat(cur.get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
      int err = errno;
      if (err == ENOTDIR) return not_a_directory(ws, prefix);
      return path_error(ws, prefix, err, "Create directory", Missing::kPath);
    }
    int next = open_beneath(ws.fd(), prefix.c_str(), O_PATH | O_DIRECTORY);
    if (next < 0) {
      if (next == -ENOTDIR) {
        // Either `prefix` itself is not a directory or something above it was swapped; say
        // which only when `prefix` is the culprit.
        int probe = open_beneath(ws.fd(), prefix.c_str(), O_PATH);
        if (probe >= 0) {
          ::close(probe);
          return not_a_directory(ws, prefix);
        }
      }
      return path_error(ws, prefix, -next, "Create directory", Missing::kPath);
    }
    cur.reset(next);
  }
  return cur;
}

std::string temp_name(std::string_view tag) {
  return ".ship-" + std::string(tag) + "-" + random_hex(16) + ".tmp";
}

int write_all(int fd, const void* data, std::size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    p += n;
    len -= static_cast<std::size_t>(n);
  }
  return 0;
}

bool owned_by_us(const struct stat& st) { return st.st_uid == ::geteuid(); }

}  // namespace shipyard::ship::fs::detail
