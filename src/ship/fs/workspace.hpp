// A confinement root for Ship's file operations (spec ship-api.md §3).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace shipyard::ship::fs {

// True for a valid X-SESSION-ID: ^[A-Za-z0-9._-]{1,128}$ and not "." or "..".
bool valid_session_id(std::string_view id);

// An O_PATH|O_DIRECTORY fd of the root directory plus the absolute *display* root used in
// every path Ship shows to clients ("/workspace", "/workspace/<sid>"). The host path of the
// directory is never shown. Every operation resolves paths with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_MAGICLINKS) relative to fd(), so what counts is the directory the fd refers to.
//
// Copies are cheap and share the fd (it is only ever used as a dirfd and never changes), so
// a Workspace may be cached and used from any number of threads concurrently.
class Workspace {
 public:
  // Opens an existing directory (following symlinks in `dir`: it is operator configuration).
  // `display_root` defaults to `dir` made absolute (against the current directory) and
  // normalised lexically; a non-empty `display_root` is normalised the same way.
  // Errors: kNotFound "Workspace directory not found: <dir>", kInvalidArgument "Workspace is
  // not a directory: <dir>", kInternal otherwise.
  static Result<Workspace> open(const std::string& dir, std::string display_root = "");

  // The per-session root "<root>/<session_id>" (spec §3.1), created with mode 0755 (minus the
  // process umask) when `create` and missing, then opened beneath this root with openat2, so a
  // session directory replaced by a symlink leaving the root is refused.
  // Errors: kInvalidArgument "Invalid X-SESSION-ID"; kFileNotFound "Path not found: <abs>"
  // (missing and !create); kInvalidArgument "Path is not a directory: <abs>"; kPathEscape (the
  // 403 message of *this* root) when it resolves outside; kInternal for I/O failures.
  Result<Workspace> session(std::string_view session_id, bool create) const;

  int fd() const { return fd_->get(); }
  const std::string& root() const { return root_; }

  // The display path of a relative path from normalize(): root() for ".", root()/rel otherwise.
  // Not UTF-8 sanitised (resolve_cwd hands it to bash); the ops sanitise what they return.
  std::string absolute(std::string_view rel) const;

 private:
  Workspace(std::shared_ptr<const UniqueFd> fd, std::string root)
      : fd_(std::move(fd)), root_(std::move(root)) {}

  std::shared_ptr<const UniqueFd> fd_;
  std::string root_;
};

}  // namespace shipyard::ship::fs
