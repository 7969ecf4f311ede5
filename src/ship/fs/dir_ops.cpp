// Directory operations: delete (recursive), list, and the shell cwd check.
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/strings.hpp"
#include "ship/fs/ops.hpp"
#include "ship/fs/resolve.hpp"

namespace shipyard::ship::fs {

using detail::Missing;

namespace {

// Directory levels held open at once while deleting (one fd each plus a dup for the DIR*
// stream). Deeper subtrees are renamed into the top directory and finished in a later pass,
// so the fd budget stays bounded whatever the depth.
constexpr int kMaxDeleteDepth = 64;
// Passes over the top directory; each pass that found entries made progress, so this only
// bounds a concurrent writer refilling the tree forever.
constexpr int kMaxDeletePasses = 10000;
// Attempts when the entry to delete keeps changing type under us.
constexpr int kMaxDeleteAttempts = 16;

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

// Opens a DIR stream over a dup of `fd`, leaving `fd` owned by the caller.
DirPtr open_stream(int fd) {
  int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return nullptr;
  DIR* d = ::fdopendir(dup);
  if (d == nullptr) ::close(dup);
  return DirPtr(d);
}

bool is_dot(const char* name) {
  return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

int remove_contents(int dfd, int top_fd, int depth);

// Removes the entry `name` of directory `dfd`, whatever it is and whatever it turns into
// while we work on it. Returns 0 (also when it should simply be retried in the next pass:
// the parent's rmdir then fails with ENOTEMPTY and comes back) or an errno.
int remove_entry(int dfd, const char* name, bool looks_like_dir, int top_fd, int depth) {
  for (int attempt = 0; attempt < kMaxDeleteAttempts; ++attempt) {
    if (!looks_like_dir) {
      if (::unlinkat(dfd, name, 0) == 0 || errno == ENOENT) return 0;
      if (errno != EISDIR && errno != EPERM) return errno;
    }
    looks_like_dir = false;
    if (depth >= kMaxDeleteDepth) {
      const std::string moved = detail::temp_name("delete");
      if (::renameat(dfd, name, top_fd, moved.c_str()) == 0 || errno == ENOENT) return 0;
      return errno;
    }
    int child = detail::open_beneath(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0,
                                     RESOLVE_NO_SYMLINKS);
    if (child == -ENOENT) return 0;
    if (child == -ELOOP || child == -ENOTDIR) {
      // Not (or no longer) a directory: a symlink or file, unlinked without following. An
      // unlink EPERM here is final (immutable file, sticky directory), not a type change.
      if (::unlinkat(dfd, name, 0) == 0 || errno == ENOENT) return 0;
      if (errno == EISDIR) continue;  // flipped back to a directory
      return errno;
    }
    if (child < 0) return -child;
    {
      UniqueFd child_fd(child);
      if (int err = remove_contents(child_fd.get(), top_fd, depth + 1)) return err;
    }
    if (::unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT) return 0;
    if (errno == ENOTEMPTY || errno == EEXIST) return 0;  // refilled: next pass
    if (errno != ENOTDIR) return errno;
  }
  return 0;
}

// Removes everything inside the directory `dfd` (already opened with O_NOFOLLOW). Nothing
// is ever followed: entries are unlinked relative to `dfd` (unlinkat does not follow the last
// component) and subdirectories are opened with O_NOFOLLOW | RESOLVE_NO_SYMLINKS, so an entry
// swapped for a symlink at any moment is unlinked as a symlink. Returns 0 or an errno.
int remove_contents(int dfd, int top_fd, int depth) {
  DirPtr dir = open_stream(dfd);
  if (!dir) return errno;
  for (int pass = 0; pass < kMaxDeletePasses; ++pass) {
    ::rewinddir(dir.get());
    bool saw_entries = false;
    for (;;) {
      errno = 0;
      struct dirent* ent = ::readdir(dir.get());
      if (ent == nullptr) {
        if (errno != 0) return errno;
        break;
      }
      if (is_dot(ent->d_name)) continue;
      saw_entries = true;
      if (int err = remove_entry(dfd, ent->d_name, ent->d_type == DT_DIR, top_fd, depth)) {
        return err;
      }
    }
    if (!saw_entries) return 0;
    // Below the top one extra pass catches entries created during the first; whatever is
    // still left makes the parent's rmdir fail with ENOTEMPTY and its next pass come back.
    // The top directory keeps looping while flattened deep subtrees arrive in it.
    if (depth > 0 && pass >= 1) return 0;
  }
  return 0;
}

}  // namespace

Result<DeleteResult> delete_path(const Workspace& ws, std::string_view path) {
  auto rel = normalize(path, ws.root());
  if (!rel) return std::move(rel).error();
  if (*rel == ".") {
    return Error(ErrorCode::kInvalidArgument, "Cannot delete the workspace root");
  }
  SplitPath sp = split_parent(*rel);
  auto parent = detail::open_dir_path(ws, sp.parent, "Delete", Missing::kPath);
  if (!parent) {
    // A missing or non-directory parent means the path itself does not exist.
    if (parent.error().code == ErrorCode::kFileNotFound)
      return detail::missing(ws, *rel, Missing::kPath);
    return std::move(parent).error();
  }
  const int pfd = parent->get();
  const char* leaf = sp.leaf.c_str();
  DeleteResult result{detail::display(ws, *rel), false};

  for (int attempt = 0; attempt < kMaxDeleteAttempts; ++attempt) {
    struct stat st;
    if (::fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT && attempt > 0) return result;  // removed concurrently after we began
      return detail::path_error(ws, *rel, errno, "Delete", Missing::kPath);
    }
    if (!S_ISDIR(st.st_mode)) {
      result.was_directory = false;
      if (::unlinkat(pfd, leaf, 0) == 0) return result;
      if (errno == EISDIR || errno == ENOENT) continue;  // changed type meanwhile
      return detail::path_error(ws, *rel, errno, "Delete", Missing::kPath);
    }
    result.was_directory = true;
    int dfd = detail::open_beneath(pfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0,
                                   RESOLVE_NO_SYMLINKS);
    if (dfd == -ELOOP || dfd == -ENOTDIR || dfd == -ENOENT) continue;  // swapped meanwhile
    if (dfd < 0) return detail::path_error(ws, *rel, -dfd, "Delete", Missing::kPath);
    UniqueFd dir(dfd);
    if (int err = remove_contents(dfd, dfd, 0)) return detail::io_error(ws, *rel, err, "Delete");
    dir.reset();
    if (::unlinkat(pfd, leaf, AT_REMOVEDIR) == 0) return result;
    if (errno == ENOENT) return result;
    if (errno == ENOTDIR || errno == ENOTEMPTY || errno == EEXIST) continue;
    return detail::path_error(ws, *rel, errno, "Delete", Missing::kPath);
  }
  Error e(ErrorCode::kInternal, "Delete failed: " + result.path + ": it kept changing; retry");
  e.context = "delete_path: entry kept changing type";
  return e;
}

Result<ListResult> list_dir(const Workspace& ws, std::string_view path, bool show_hidden,
                            std::size_t max_entries) {
  auto rel = normalize(path, ws.root());
  if (!rel) return std::move(rel).error();
  int fd = detail::open_beneath(ws.fd(), rel->c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) {
    if (fd == -ENOTDIR) {
      int probe = detail::open_beneath(ws.fd(), rel->c_str(), O_PATH);
      if (probe >= 0) {
        ::close(probe);
        return detail::not_a_directory(ws, *rel);
      }
    }
    return detail::path_error(ws, *rel, -fd, "List", Missing::kPath);
  }
  UniqueFd dfd(fd);
  DirPtr dir = open_stream(fd);
  if (!dir) return detail::io_error(ws, *rel, errno, "List");

  ListResult result;
  result.current_path = detail::display(ws, *rel);
  for (;;) {
    errno = 0;
    struct dirent* ent = ::readdir(dir.get());
    if (ent == nullptr) {
      if (errno != 0) return detail::io_error(ws, *rel, errno, "List");
      break;
    }
    const char* name = ent->d_name;
    if (is_dot(name) || (!show_hidden && name[0] == '.')) continue;
    if (result.files.size() >= max_entries) {
      return Error(ErrorCode::kInvalidArgument,
                   "Directory has too many entries to list: " + result.current_path +
                       " (more than " + std::to_string(max_entries) + ")");
    }
    struct stat st;
    if (::fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    const std::string child_rel = *rel == "." ? std::string(name) : *rel + "/" + name;
    DirEntry e;
    e.name = sanitize_utf8(name);
    e.path = detail::display(ws, child_rel);
    if (S_ISLNK(st.st_mode)) {
      // Described by its target only if that resolves beneath the root (spec §6 list_dir).
      int target = detail::open_beneath(ws.fd(), child_rel.c_str(), O_PATH);
      struct stat tst;
      if (target >= 0) {
        if (::fstat(target, &tst) == 0) st = tst;
        ::close(target);
      }
    }
    e.is_dir = S_ISDIR(st.st_mode);
    e.is_file = S_ISREG(st.st_mode);
    if (e.is_file) e.size = static_cast<std::uint64_t>(st.st_size);
    e.modified_time =
        static_cast<double>(st.st_mtim.tv_sec) + static_cast<double>(st.st_mtim.tv_nsec) / 1e9;
    result.files.push_back(std::move(e));
  }

  auto lower = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; };
  std::sort(result.files.begin(), result.files.end(), [&](const DirEntry& a, const DirEntry& b) {
    if (a.is_dir != b.is_dir) return a.is_dir;
    const bool ci_less = std::lexicographical_compare(
        a.name.begin(), a.name.end(), b.name.begin(), b.name.end(), [&](char x, char y) {
          return lower(static_cast<unsigned char>(x)) < lower(static_cast<unsigned char>(y));
        });
    const bool ci_greater = std::lexicographical_compare(
        b.name.begin(), b.name.end(), a.name.begin(), a.name.end(), [&](char x, char y) {
          return lower(static_cast<unsigned char>(x)) < lower(static_cast<unsigned char>(y));
        });
    if (ci_less != ci_greater) return ci_less;
    return a.name < b.name;
  });
  return result;
}

Result<std::string> resolve_cwd(const Workspace& ws, std::string_view path) {
  if (path.empty()) return ws.absolute(".");
  auto rel = normalize(path, ws.root());
  if (!rel) return std::move(rel).error();
  int fd = detail::open_beneath(ws.fd(), rel->c_str(), O_PATH | O_DIRECTORY);
  if (fd >= 0) {
    ::close(fd);
  } else if (fd == -EXDEV || fd == -ELOOP) {
    return detail::path_error(ws, *rel, -fd, "cwd", Missing::kPath);
  } else if (fd == -ENAMETOOLONG) {
    return Error(ErrorCode::kInvalidArgument, "Path is too long");
  }
  // Missing, not a directory, not searchable: accepted; `cd` reports it like a shell would.
  return ws.absolute(*rel);
}

}  // namespace shipyard::ship::fs
