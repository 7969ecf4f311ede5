// Internal to ship_fs: the kernel half of path confinement. Every path a file operation
// touches is resolved here with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), relative to
// the workspace root fd or to a directory fd obtained that way; nothing is ever resolved to a
// string, checked, and then opened by name.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "common/unique_fd.hpp"
#include "ship/fs/workspace.hpp"

namespace shipyard::ship::fs::detail {

// openat2(dirfd, path, {flags | O_CLOEXEC, mode, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
// extra_resolve}). Retries EINTR, and EAGAIN a bounded number of times (RESOLVE_BENEATH
// returns EAGAIN when a concurrent rename anywhere on the system might have let ".." escape).
// Returns the fd, or -errno.
int open_beneath(int dirfd, const char* path, std::uint64_t flags, std::uint64_t mode = 0,
                 std::uint64_t extra_resolve = 0);

// What an ENOENT/ENOTDIR is called in the caller's error message.
enum class Missing {
  kFile,  // "File not found: <path>"
  kPath,  // "Path not found: <path>"
};

// Display path as returned to clients: root/rel with invalid UTF-8 replaced.
std::string display(const Workspace& ws, std::string_view rel);

Error not_a_file(const Workspace& ws, std::string_view rel);       // 400 "Path is not a file: "
Error not_a_directory(const Workspace& ws, std::string_view rel);  // 400 "Path is not a dir..."
Error missing(const Workspace& ws, std::string_view rel, Missing kind);  // 404

// Maps an errno from resolving/opening `rel`:
//   EXDEV, ELOOP → kPathEscape (spec 403; ELOOP also covers symlink loops, which cannot be
//   told apart from RESOLVE_NO_MAGICLINKS refusals and are equally unresolvable);
//   ENOENT, ENOTDIR → missing(kind); ENAMETOOLONG → kInvalidArgument "Path is too long";
//   EACCES, EPERM → kInternal "Permission denied: <path>"; ENOSPC/EDQUOT/EROFS/others →
//   kInternal "<op> failed: <path>: <strerror>" (errno texts carry no host information).
Error path_error(const Workspace& ws, std::string_view rel, int err, std::string_view op,
                 Missing kind);

// kInternal "<op> failed: <path>: <strerror>" with log context.
Error io_error(const Workspace& ws, std::string_view rel, int err, std::string_view op);

// Returns an O_PATH directory fd for `dir_rel` (normalised, "." for the root), creating
// missing components with mode 0755 (mkdir -p). Each component is created with mkdirat() in
// the directory fd of its parent and then re-opened with openat2 beneath the *root*, so a
// component concurrently swapped for a symlink can redirect nothing outside the root.
// A non-directory component → not_a_directory(that component).
Result<UniqueFd> make_dirs(const Workspace& ws, std::string_view dir_rel);

// Opens the existing directory `dir_rel` as O_PATH (no creation).
Result<UniqueFd> open_dir_path(const Workspace& ws, std::string_view dir_rel, std::string_view op,
                               Missing kind);

// Name for a hidden temporary file in the same directory as its target (fixed length, so
// it never exceeds NAME_MAX whatever the target's name is).
std::string temp_name(std::string_view tag);

// write(2) until everything is written (short writes, EINTR). Returns 0 or an errno.
int write_all(int fd, const void* data, std::size_t len);

// Whether `st` describes a file this process may replace by rename without changing its
// owner (i.e. it is ours). Files of other owners are written in place instead, so the kernel
// applies their permissions and no operation ever changes ownership.
bool owned_by_us(const struct stat& st);

}  // namespace shipyard::ship::fs::detail
