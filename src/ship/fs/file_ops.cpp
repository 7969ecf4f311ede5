// Whole-file operations: create, read, write, edit, download.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>

#include "common/strings.hpp"
#include "ship/fs/ops.hpp"
#include "ship/fs/resolve.hpp"

namespace shipyard::ship::fs {

using detail::Missing;

namespace {

constexpr std::size_t kChunkBytes = 64 * 1024;

Error unsupported_encoding(std::string_view encoding) {
  std::string shown = sanitize_utf8(encoding.substr(0, 64));
  return Error(ErrorCode::kInvalidArgument, "Unsupported encoding: " + shown);
}

struct OpenRegular {
  UniqueFd fd;
  struct stat st;
};

// Opens `rel` for reading; only a regular file is accepted. O_NONBLOCK keeps a FIFO from
// blocking the open (it is then refused as "not a file"); it is cleared again before use.
Result<OpenRegular> open_regular(const Workspace& ws, const std::string& rel, std::string_view op) {
  int fd = detail::open_beneath(ws.fd(), rel.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (fd == -ENXIO) return detail::not_a_file(ws, rel);  // a socket
    return detail::path_error(ws, rel, -fd, op, Missing::kFile);
  }
  OpenRegular out{UniqueFd(fd), {}};
  if (::fstat(fd, &out.st) != 0) return detail::io_error(ws, rel, errno, op);
  if (!S_ISREG(out.st.st_mode)) return detail::not_a_file(ws, rel);
  int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0) ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  return out;
}

// Reads at most `max` bytes; Error(kInvalidArgument) with `too_large` if the file holds more.
Result<std::string> read_all(const Workspace& ws, const std::string& rel, int fd, std::uint64_t max,
                             Error too_large) {
  std::string out;
  auto buf = std::make_unique<char[]>(kChunkBytes);
  for (;;) {
    ssize_t n = ::read(fd, buf.get(), kChunkBytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      return detail::io_error(ws, rel, errno, "Read");
    }
    if (n == 0) return out;
    if (out.size() + static_cast<std::uint64_t>(n) > max) return too_large;
    out.append(buf.get(), static_cast<std::size_t>(n));
  }
}

// Writes through an existing name in place: used when the final component is a symlink
// (resolved beneath the root by openat2, so an escaping one is a 403) or a file of another
// owner (whose permissions the kernel then enforces). The type is checked before truncating.
Result<std::uint64_t> write_in_place(const Workspace& ws, const std::string& rel,
                                     std::string_view content, std::optional<unsigned> mode,
                                     std::string_view op) {
  int fd =
      detail::open_beneath(ws.fd(), rel.c_str(), O_WRONLY | O_CREAT | O_NONBLOCK | O_NOCTTY, 0666);
  if (fd < 0) {
    if (fd == -EISDIR || fd == -ENXIO) return detail::not_a_file(ws, rel);
    return detail::path_error(ws, rel, -fd, op, Missing::kPath);
  }
  UniqueFd f(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return detail::io_error(ws, rel, errno, op);
  if (!S_ISREG(st.st_mode)) return detail::not_a_file(ws, rel);
  if (::ftruncate(fd, 0) != 0) return detail::io_error(ws, rel, errno, op);
  if (int err = detail::write_all(fd, content.data(), content.size())) {
    return detail::io_error(ws, rel, err, "Write");
  }
  if (mode && ::fchmod(fd, *mode & 0777) != 0) return detail::io_error(ws, rel, errno, "Chmod");
  if (::fstat(fd, &st) != 0) return detail::io_error(ws, rel, errno, op);
  return static_cast<std::uint64_t>(st.st_size);
}

// Gives `rel` the content `content` (creating parents). Our own regular files are replaced
// atomically: a temporary file in the same directory (reached through a directory fd opened
// beneath the root) is written and renamed over the name; renameat never follows the final
// component, so a symlink swapped in at the last moment is replaced, not written through.
// `mode` (create_file) is applied after writing; otherwise an existing file's bits are kept.
Result<std::uint64_t> replace_content(const Workspace& ws, const std::string& rel,
                                      std::string_view content, std::optional<unsigned> mode,
                                      std::string_view op) {
  if (rel == ".") return detail::not_a_file(ws, rel);
  SplitPath sp = split_parent(rel);
  auto dir = detail::make_dirs(ws, sp.parent);
  if (!dir) return std::move(dir).error();
  const int dfd = dir->get();

  std::optional<unsigned> final_mode = mode ? std::optional<unsigned>(*mode & 0777) : std::nullopt;
  struct stat st;
  if (::fstatat(dfd, sp.leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(st.st_mode)) return write_in_place(ws, rel, content, final_mode, op);
    if (!S_ISREG(st.st_mode)) return detail::not_a_file(ws, rel);
    if (!detail::owned_by_us(st)) return write_in_place(ws, rel, content, final_mode, op);
    if (!final_mode) final_mode = st.st_mode & 0777;
  } else if (errno != ENOENT) {
    return detail::path_error(ws, rel, errno, op, Missing::kPath);
  }

  const std::string tmp = detail::temp_name("write");
  int fd = detail::open_beneath(dfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0666);
  if (fd < 0) return detail::path_error(ws, rel, -fd, op, Missing::kPath);
  UniqueFd f(fd);
  auto fail = [&](Error e) -> Error {
    ::unlinkat(dfd, tmp.c_str(), 0);
    return e;
  };
  if (int err = detail::write_all(fd, content.data(), content.size())) {
    return fail(detail::io_error(ws, rel, err, "Write"));
  }
  if (final_mode && ::fchmod(fd, *final_mode) != 0) {
    return fail(detail::io_error(ws, rel, errno, "Chmod"));
  }
  if (::fstat(fd, &st) != 0) return fail(detail::io_error(ws, rel, errno, op));
  if (::renameat(dfd, tmp.c_str(), dfd, sp.leaf.c_str()) != 0) {
    int err = errno;
    if (err == EISDIR || err == ENOTEMPTY || err == EEXIST)
      return fail(detail::not_a_file(ws, rel));
    return fail(detail::io_error(ws, rel, err, op));
  }
  return static_cast<std::uint64_t>(st.st_size);
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  return a > std::numeric_limits<std::uint64_t>::max() - b
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}

std::string too_large_message(const Workspace& ws, const std::string& rel, std::string_view what,
                              std::uint64_t size, std::uint64_t max) {
  return "File is too large to " + std::string(what) + ": " + detail::display(ws, rel) + " (" +
         std::to_string(size) + " bytes, limit " + std::to_string(max) + ")";
}

}  // namespace

bool supported_encoding(std::string_view encoding) {
  return iequals(encoding, "utf-8") || iequals(encoding, "utf8") || iequals(encoding, "utf_8");
}

Result<FileInfo> create_file(const Workspace& ws, std::string_view path, std::string_view content,
                             unsigned mode) {
  auto rel = normalize(path, ws.root());
  if (!rel) return std::move(rel).error();
  auto size = replace_content(ws, *rel, content, mode, "Create");
  if (!size) return std::move(size).error();
  return FileInfo{detail::display(ws, *rel), *size};
}

Result<ReadResult> read_file(const Workspace& ws, std::string_view path,
                             std::optional<std::int64_t> offset, std::optional<std::int64_t> limit,
                             std::string_view encoding, std::uint64_t max_bytes) {
  if (!supported_encoding(encoding)) return unsupported_encoding(encoding);
  if (limit && *limit < 0) {
    return Error(ErrorCode::kInvalidArgument, "'limit' must not be negative");
  }
  auto rel = normalize(path, ws.root());
  if (!rel) return std::move(rel).error();
  auto file = open_regular(ws, *rel, "Read");
  if (!file) return std::move(file).error();

  ReadResult result;
  result.path = detail::display(ws, *rel);
  result.size = static_cast<std::uint64_t>(file->st.st_size);
  const std::uint64_t first = offset && *offset > 0 ? static_cast<std::uint64_t>(*offset) : 1;
  const bool selecting = first > 1 || limit.has_value();
  Error too_large(ErrorCode::kInvalidArgument,
                  too_large_message(ws, *rel, "read at once", result.size, max_bytes) +
                      "; use offset and limit to read it in parts");
  if (!selecting && result.size > max_bytes) return too_large;
  if (selecting) {
    too_large = Error(ErrorCode::kInvalidArgument, "Selected lines exceed the read limit of " +
                                                       std::to_string(max_bytes) +
                                                       " bytes: " + detail::display(ws, *rel));
  }
  // One past the last wanted line; lines are numbered from 1.
  const std::uint64_t end_line = limit ? saturating_add(first, static_cast<std::uint64_t>(*limit))
                                       : std::numeric_limits<std::uint64_t>::max();

  std::string out;
  auto buf = std::make_unique<char[]>(kChunkBytes);
  std::uint64_t line = 1;
  const int fd = file->fd.get();
  while (line < end_line) {
    ssize_t n = ::read(fd, buf.get(), kChunkBytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      return detail::io_error(ws, *rel, errno, "Read");
    }
    if (n == 0) break;
    const char* p = buf.get();
    const char* end = p + n;
    while (p < end && line < end_line) {
      const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
      const char* seg_end = nl != nullptr ? static_cast<const char*>(nl) + 1 : end;
      if (line >= first) {
        const auto len = static_cast<std::size_t>(seg_end - p);
        if (out.size() + len > max_bytes) return too_large;
        out.append(p, len);
      }
      if (nl != nullptr) ++line;
      p = seg_end;
    }
  }
  result.content = sanitize_utf8(out);
  return result;
}

Result<FileInfo> write_file(const Workspace& ws, std::string_view path, std::string_view content,
                            bool append, std::string_view encoding) {
  if (!supported_encoding(encoding)) return unsupported_encoding(encoding);
  auto rel = normalize(path, ws.root());
  if (!rel) return std::move(rel).error();
  if (!append) {
    auto size = replace_content(ws, *rel, content, std::nullopt, "Write");
    if (!size) return std::move(size).error();
    return FileInfo{detail::display(ws, *rel), *size};
  }

  if (*rel == ".") return detail::not_a_file(ws, *rel);
  auto dir = detail::make_dirs(ws, split_parent(*rel).parent);
  if (!dir) return std::move(dir).error();
  int fd = detail::open_beneath(ws.fd(), rel->c_str(),
                                O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_NOCTTY, 0666);
  if (fd < 0) {
    if (fd == -EISDIR || fd == -ENXIO) return detail::not_a_file(ws, *rel);
    return detail::path_error(ws, *rel, -fd, "Write", Missing::kPath);
  }
  UniqueFd f(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return detail::io_error(ws, *rel, errno, "Write");
  if (!S_ISREG(st.st_mode)) return detail::not_a_file(ws, *rel);
  if (int err = detail::write_all(fd, content.data(), content.size())) {
    return detail::io_error(ws, *rel, err, "Write");
  }
  if (::fstat(fd, &st) != 0) return detail::io_error(ws, *rel, errno, "Write");
  return FileInfo{detail::display(ws, *rel), static_cast<std::uint64_t>(st.st_size)};
}

Result<EditResult> edit_file(const Workspace& ws, std::string_view path,
                             std::string_view old_string, std::string_view new_string,
                             bool replace_all, std::string_view encoding) {
  if (!supported_encoding(encoding)) return unsupported_encoding(encoding);
  auto rel = normalize(path, ws.root());
  if (!rel) return std::move(rel).error();
  if (old_string.empty()) {
    return Error(ErrorCode::kInvalidArgument, "'old_string' must not be empty");
  }
  if (old_string == new_string) {
    return Error(ErrorCode::kInvalidArgument, "'old_string' and 'new_string' must be different");
  }
  auto file = open_regular(ws, *rel, "Edit");
  if (!file) return std::move(file).error();
  const auto size = static_cast<std::uint64_t>(file->st.st_size);
  Error too_large(ErrorCode::kInvalidArgument,
                  too_large_message(ws, *rel, "edit", size, kMaxReadBytes));
  if (size > kMaxReadBytes) return too_large;
  auto content = read_all(ws, *rel, file->fd.get(), kMaxReadBytes, too_large);
  if (!content) return std::move(content).error();
  file->fd.reset();

  std::size_t count = 0;
  for (std::size_t pos = content->find(old_string); pos != std::string::npos;
       pos = content->find(old_string, pos + old_string.size())) {
    ++count;
  }
  if (count == 0) return Error(ErrorCode::kInvalidArgument, "'old_string' not found in file");
  if (count > 1 && !replace_all) {
    return Error(ErrorCode::kInvalidArgument,
                 "'old_string' appears " + std::to_string(count) +
                     " times in file; set replace_all=true to replace all occurrences");
  }
  const std::uint64_t new_size =
      content->size() - count * old_string.size() + count * new_string.size();
  if (new_size > kMaxReadBytes) {
    return Error(ErrorCode::kInvalidArgument,
                 too_large_message(ws, *rel, "edit", new_size, kMaxReadBytes));
  }
  std::string edited;
  edited.reserve(new_size);
  std::size_t from = 0;
  for (std::size_t pos = content->find(old_string); pos != std::string::npos;
       pos = content->find(old_string, from)) {
    edited.append(*content, from, pos - from);
    edited.append(new_string);
    from = pos + old_string.size();
  }
  edited.append(*content, from, std::string::npos);

  auto written = replace_content(ws, *rel, edited, std::nullopt, "Edit");
  if (!written) return std::move(written).error();
  return EditResult{detail::display(ws, *rel), count, *written};
}

Result<OpenedFile> open_for_download(const Workspace& ws, std::string_view path) {
  auto rel = normalize(path, ws.root());
  if (!rel) return std::move(rel).error();
  auto file = open_regular(ws, *rel, "Download");
  if (!file) return std::move(file).error();
  OpenedFile out;
  out.size = static_cast<std::uint64_t>(file->st.st_size);
  out.fd = std::move(file->fd);
  out.path = detail::display(ws, *rel);
  out.basename = split_parent(*rel).leaf;
  return out;
}

}  // namespace shipyard::ship::fs
