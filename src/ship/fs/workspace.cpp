#include "ship/fs/workspace.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "common/strings.hpp"
#include "ship/fs/path.hpp"
#include "ship/fs/resolve.hpp"

namespace shipyard::ship::fs {

bool valid_session_id(std::string_view id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<Workspace> Workspace::open(const std::string& dir, std::string display_root) {
  if (dir.empty() || dir.find('\0') != std::string::npos) {
    return Error(ErrorCode::kInvalidArgument, "Invalid workspace directory");
  }
  int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Error(ErrorCode::kNotFound, "Workspace directory not found: " + dir);
    if (err == ENOTDIR) {
      return Error(ErrorCode::kInvalidArgument, "Workspace is not a directory: " + dir);
    }
    return system_error("opening workspace " + dir, err);
  }
  auto owned = std::make_shared<const UniqueFd>(fd);
  if (display_root.empty()) {
    display_root = dir;
    if (display_root.front() != '/') {
      char cwd[PATH_MAX];
      if (::getcwd(cwd, sizeof cwd) == nullptr) return system_error("getcwd", errno);
      display_root = std::string(cwd) + "/" + display_root;
    }
  }
  return Workspace(std::move(owned), normalize_absolute(display_root));
}

Result<Workspace> Workspace::session(std::string_view session_id, bool create) const {
  if (!valid_session_id(session_id)) {
    return Error(ErrorCode::kInvalidArgument, "Invalid X-SESSION-ID");
  }
  const std::string name(session_id);
  if (create && ::mkdirat(fd(), name.c_str(), 0755) != 0 && errno != EEXIST) {
    return detail::path_error(*this, name, errno, "Create session directory",
                              detail::Missing::kPath);
  }
  int sfd = detail::open_beneath(fd(), name.c_str(), O_PATH | O_DIRECTORY);
  if (sfd < 0) {
    if (sfd == -ENOTDIR) return detail::not_a_directory(*this, name);
    return detail::path_error(*this, name, -sfd, "Open session directory", detail::Missing::kPath);
  }
  return Workspace(std::make_shared<const UniqueFd>(sfd), join_display(root_, name));
}

std::string Workspace::absolute(std::string_view rel) const { return join_display(root_, rel); }

}  // namespace shipyard::ship::fs
