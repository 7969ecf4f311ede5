#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "ship/fs/ops.hpp"
#include "ship/fs/resolve.hpp"

namespace shipyard::ship::fs {

using detail::Missing;

Result<UploadSink> UploadSink::create(const Workspace& ws, std::string_view path) {
  auto rel = normalize(path, ws.root());
  if (!rel) return std::move(rel).error();
  if (*rel == ".") return detail::not_a_file(ws, *rel);
  SplitPath sp = split_parent(*rel);
  auto dir = detail::make_dirs(ws, sp.parent);
  if (!dir) return std::move(dir).error();

  // Refuse early what commit() would refuse, before the client streams megabytes.
  struct stat st;
  if (::fstatat(dir->get(), sp.leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISDIR(st.st_mode)) {
    return detail::not_a_file(ws, *rel);
  }

  UploadSink sink;
  sink.tmp_name_ = detail::temp_name("upload");
  int fd =
      detail::open_beneath(dir->get(), sink.tmp_name_.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0666);
  if (fd < 0) return detail::path_error(ws, *rel, -fd, "Upload", Missing::kPath);
  sink.file_.reset(fd);
  sink.dir_ = std::move(*dir);
  sink.ws_ = ws;
  sink.rel_ = *rel;
  sink.leaf_ = std::move(sp.leaf);
  sink.path_ = detail::display(ws, *rel);
  return sink;
}

UploadSink::UploadSink(UploadSink&& other) noexcept
    : ws_(std::move(other.ws_)),
      dir_(std::move(other.dir_)),
      file_(std::move(other.file_)),
      rel_(std::move(other.rel_)),
      leaf_(std::move(other.leaf_)),
      tmp_name_(std::move(other.tmp_name_)),
      path_(std::move(other.path_)),
      written_(other.written_) {
  other.tmp_name_.clear();
}

UploadSink& UploadSink::operator=(UploadSink&& other) noexcept {
  if (this != &other) {
    abort();
    ws_ = std::move(other.ws_);
    dir_ = std::move(other.dir_);
    file_ = std::move(other.file_);
    rel_ = std::move(other.rel_);
    leaf_ = std::move(other.leaf_);
    tmp_name_ = std::move(other.tmp_name_);
    path_ = std::move(other.path_);
    written_ = other.written_;
    other.tmp_name_.clear();
  }
  return *this;
}

UploadSink::~UploadSink() { abort(); }

void UploadSink::abort() {
  file_.reset();
  if (!tmp_name_.empty() && dir_) ::unlinkat(dir_.get(), tmp_name_.c_str(), 0);
  tmp_name_.clear();
}

Status UploadSink::write(const void* data, std::size_t len) {
  if (!file_ || tmp_name_.empty()) {
    return Error(ErrorCode::kInvalidArgument, "Upload already finished");
  }
  if (int err = detail::write_all(file_.get(), data, len)) {
    return detail::io_error(*ws_, rel_, err, "Write");
  }
  written_ += len;
  return {};
}

Result<FileInfo> UploadSink::commit() {
  if (!file_ || tmp_name_.empty()) {
    return Error(ErrorCode::kInvalidArgument, "Upload already finished");
  }
  const int dfd = dir_.get();
  struct stat st;
  if (::fstatat(dfd, leaf_.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(st.st_mode)) {
      abort();
      return detail::not_a_file(*ws_, rel_);
    }
    if (S_ISREG(st.st_mode) && !detail::owned_by_us(st)) {
      // Someone else's file: overwrite it in place through a beneath-the-root open so its
      // owner and permissions stay what they are (and the kernel enforces the latter).
      int out = detail::open_beneath(dfd, leaf_.c_str(), O_WRONLY | O_NOFOLLOW | O_NONBLOCK, 0, 0);
      if (out < 0) {
        abort();
        return detail::path_error(*ws_, rel_, -out, "Upload", Missing::kPath);
      }
      UniqueFd out_fd(out);
      if (::fstat(out, &st) != 0 || !S_ISREG(st.st_mode)) {
        abort();
        return detail::not_a_file(*ws_, rel_);
      }
      UniqueFd in(detail::open_beneath(dfd, tmp_name_.c_str(), O_RDONLY | O_NOFOLLOW));
      if (!in || ::ftruncate(out, 0) != 0) {
        int err = errno;
        abort();
        return detail::io_error(*ws_, rel_, err, "Upload");
      }
      for (;;) {
        ssize_t n = ::copy_file_range(in.get(), nullptr, out, nullptr, 1 << 30, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          int err = errno;
          abort();
          return detail::io_error(*ws_, rel_, err, "Write");
        }
        if (n == 0) break;
      }
      abort();
      if (::fstat(out, &st) != 0) return detail::io_error(*ws_, rel_, errno, "Upload");
      return FileInfo{path_, static_cast<std::uint64_t>(st.st_size)};
    }
    if (S_ISREG(st.st_mode) && ::fchmod(file_.get(), st.st_mode & 0777) != 0) {
      int err = errno;
      abort();
      return detail::io_error(*ws_, rel_, err, "Upload");
    }
  }
  if (::renameat(dfd, tmp_name_.c_str(), dfd, leaf_.c_str()) != 0) {
    int err = errno;
    abort();
    if (err == EISDIR || err == ENOTEMPTY || err == EEXIST) return detail::not_a_file(*ws_, rel_);
    return detail::io_error(*ws_, rel_, err, "Upload");
  }
  tmp_name_.clear();
  file_.reset();
  return FileInfo{path_, written_};
}

}  // namespace shipyard::ship::fs
