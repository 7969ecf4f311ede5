#include "bay/drivers/safe_remove.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <utility>
#include <vector>

#include "common/unique_fd.hpp"

namespace shipyard::bay {

namespace {

// Directory streams kept open while descending; deeper levels are re-opened through
// ".." (identity-checked) when the walk returns to them.
constexpr std::size_t kMaxOpenLevels = 32;

struct Identity {
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  auto operator<=>(const Identity&) const = default;
};

Identity identity_of(const struct statx& s) {
  return {(std::uint64_t{s.stx_dev_major} << 32) | s.stx_dev_minor, s.stx_ino};
}

Identity identity_of(const struct stat& s) {
  return {(std::uint64_t{major(s.st_dev)} << 32) | minor(s.st_dev), s.st_ino};
}

struct Frame {
  UniqueFd fd;
  DIR* dir = nullptr;  // over a duplicate of fd; null: (re)scan from the start
  std::string name;    // in the parent frame
  Identity id;

  Frame() = default;
  Frame(Frame&& o) noexcept
      : fd(std::move(o.fd)),
        dir(std::exchange(o.dir, nullptr)),
        name(std::move(o.name)),
        id(o.id) {}
  Frame& operator=(Frame&&) = delete;
  ~Frame() { close_stream(); }
  void close_stream() {
    if (dir != nullptr) ::closedir(dir);
    dir = nullptr;
  }
};

// Opens a directory for emptying. The sandbox user may have left it without
// permissions for its owner (chmod 000); make it usable again when that is the case.
int open_dir(int parent, const char* name) {
  int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == EACCES) {
    UniqueFd path(::openat(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!path) return -1;
    std::string proc = "/proc/self/fd/" + std::to_string(path.get());
    if (::chmod(proc.c_str(), 0700) != 0) return -1;
    fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd >= 0) {
    struct stat st {};
    if (::fstat(fd, &st) == 0 && (st.st_mode & S_IRWXU) != S_IRWXU) {
      ::fchmod(fd, (st.st_mode & 07777) | S_IRWXU);
    }
  }
  return fd;
}

class Remover {
 public:
  explicit Remover(std::uint64_t dev) : root_dev_(dev) {}

  void fail(const std::string& what, int err, Identity id) {
    skip_.insert(id);
    if (error_.empty()) error_ = what + ": " + std::strerror(err);
    ++failures_;
  }
  bool skipped(Identity id) const { return skip_.contains(id); }
  std::uint64_t root_dev() const { return root_dev_; }
  Status status() const {
    if (failures_ == 0) return {};
    Error e(ErrorCode::kInternal, "could not remove everything");
    e.context = error_ + " (" + std::to_string(failures_) + " failures)";
    return e;
  }

 private:
  std::uint64_t root_dev_;
  std::set<Identity> skip_;
  std::string error_;
  int failures_ = 0;
};

}  // namespace

Status remove_tree_at(int dir_fd, const std::string& name) {
  struct statx sx {};
  if (::statx(dir_fd, name.c_str(), AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_INO, &sx) != 0) {
    if (errno == ENOENT) return {};
    return system_error("statx " + name, errno);
  }
  if (!S_ISDIR(sx.stx_mode)) {
    if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
      return system_error("unlink " + name, errno);
    }
    return {};
  }
  if ((sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0 &&
      (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0) {
    Error e(ErrorCode::kInternal, "refusing to remove a mount point");
    e.context = name;
    return e;
  }
  Remover rm(identity_of(sx).dev);
  std::vector<Frame> stack;
  {
    Frame f;
    f.fd = UniqueFd(open_dir(dir_fd, name.c_str()));
    if (!f.fd) return system_error("open " + name, errno);
    f.name = name;
    f.id = identity_of(sx);
    stack.push_back(std::move(f));
  }
  while (!stack.empty()) {
    Frame& top = stack.back();
    if (top.dir == nullptr) {
      int dup = ::fcntl(top.fd.get(), F_DUPFD_CLOEXEC, 0);
      top.dir = dup < 0 ? nullptr : ::fdopendir(dup);
      if (top.dir == nullptr) {
        if (dup >= 0) ::close(dup);
        return system_error("reading directory " + top.name, errno);
      }
    }
    errno = 0;
    dirent* e = ::readdir(top.dir);
    if (e == nullptr) {
      if (int err = errno; err != 0) rm.fail("reading directory " + top.name, err, top.id);
      // Done with this directory: remove it from its parent.
      top.close_stream();
      if (stack.size() == 1) {
        stack.pop_back();
        if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
          int err = errno;
          rm.fail("rmdir " + name, err, {});
        }
        break;
      }
      Frame& parent = stack[stack.size() - 2];
      if (!parent.fd) {
        parent.fd = UniqueFd(::openat(top.fd.get(), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        struct stat st {};
        if (!parent.fd || ::fstat(parent.fd.get(), &st) != 0 || identity_of(st) != parent.id) {
          Error err(ErrorCode::kInternal, "directory tree changed during removal");
          err.context = "re-opening the parent of " + top.name;
          return err;
        }
      }
      std::string child = top.name;
      Identity child_id = top.id;
      stack.pop_back();
      Frame& p = stack.back();
      if (::unlinkat(p.fd.get(), child.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
        int err = errno;
        rm.fail("rmdir " + child, err, child_id);
      }
      continue;
    }
    const char* n = e->d_name;
    if (std::strcmp(n, ".") == 0 || std::strcmp(n, "..") == 0) continue;
    struct statx cx {};
    if (::statx(top.fd.get(), n, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_INO, &cx) != 0) {
      if (int err = errno; err != ENOENT) rm.fail(std::string("statx ") + n, err, {});
      continue;
    }
    Identity cid = identity_of(cx);
    if (rm.skipped(cid)) continue;
    if (!S_ISDIR(cx.stx_mode)) {
      if (::unlinkat(top.fd.get(), n, 0) != 0 && errno != ENOENT) {
        int err = errno;
        rm.fail(std::string("unlink ") + n, err, cid);
      }
      continue;
    }
    bool mount_root = (cx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0 &&
                      (cx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
    if (mount_root || cid.dev != rm.root_dev()) {
      rm.fail(std::string("mount point inside the tree: ") + n, EBUSY, cid);
      continue;
    }
    Frame child;
    child.fd = UniqueFd(open_dir(top.fd.get(), n));
    int open_err = errno;
    struct stat st {};
    if (!child.fd || ::fstat(child.fd.get(), &st) != 0 || identity_of(st) != cid) {
      rm.fail(std::string("open ") + n, child.fd ? ESTALE : open_err, cid);
      continue;
    }
    child.name = n;
    child.id = cid;
    stack.push_back(std::move(child));
    if (stack.size() > kMaxOpenLevels) {
      Frame& old = stack[stack.size() - 1 - kMaxOpenLevels];
      old.close_stream();
      old.fd.reset();
    }
  }
  return rm.status();
}

Status remove_tree(const std::string& path) {
  std::filesystem::path p(path);
  if (!p.is_absolute() || !p.has_filename()) {
    return Error(ErrorCode::kInvalidArgument, "refusing to remove " + path);
  }
  UniqueFd parent(::open(p.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!parent) {
    if (errno == ENOENT) return {};
    return system_error("open " + p.parent_path().string(), errno);
  }
  return remove_tree_at(parent.get(), p.filename().string());
}

}  // namespace shipyard::bay
