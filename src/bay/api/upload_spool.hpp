// A `file` part of a multipart upload that arrives before its target path is kept in an
// unnamed temporary file until the target is known (and validated); the usual order
// (path first) streams straight through. Shared by the v1 and the legacy upload routes.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace shipyard::bay {

class UploadSpool {
 public:
  Status open(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    fd_.reset(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!fd_) return system_error("creating upload spool in " + dir, errno);
    return {};
  }
  bool active() const { return fd_.valid(); }
  Status write(std::string_view d) {
    while (!d.empty()) {
      ssize_t n = ::write(fd_.get(), d.data(), d.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return system_error("writing upload spool", errno);
      }
      d.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
  }
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
};

}  // namespace shipyard::bay
