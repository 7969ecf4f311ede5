// Ship's filesystem operations (spec ship-api.md §6), confined race-free beneath a Workspace
// (§3.2). Pure: no HTTP, no Asio; the handlers call these and map the Error codes
// (kFileNotFound/kNotFound → 404, kInvalidArgument → 400, kPathEscape → 403, kInternal → 500).
//
// Every `path` argument is the client's raw path; it is normalised with normalize() against
// ws.root() and then resolved by the kernel with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_MAGICLINKS) relative to ws.fd(). Symlinks are followed only while they stay
// beneath the root (absolute targets count as leaving it).
//
// Messages shared by all operations (<path> is the absolute display path, UTF-8 sanitised):
//   403 kPathEscape      "Access denied: path must be within workspace <ROOT>"
//   400 kInvalidArgument "Path must not be empty" | "Path is too long"
//                        "Path is not a file: <path>" | "Path is not a directory: <path>"
//                        "Unsupported encoding: <encoding>" (only utf-8 / utf8 / utf_8,
//                        case-insensitive)
//   500 kInternal        "Permission denied: <path>" | "<Op> failed: <path>: <strerror>"
//                        (e.g. "Write failed: /workspace/a.bin: No space left on device")
//
// Hard links: a hard link in the workspace *is* the file it links to (same inode), and no
// path check can tell it apart. Reads and appends go to that inode; whole-file writes
// (create/write "w"/edit/upload) replace the *name* with a new file, so the other names of
// the inode keep their content; delete removes the name only. The defence against a link to
// a file outside is that link(2) cannot create one: in a sandbox the workspace is a separate
// mount (EXDEV), and fs.protected_hardlinks refuses links to files the user could not write.
//
// Durability: nothing is fsync'ed; atomic replacement protects concurrent readers from torn
// content, not against power loss. Temporary files are named ".ship-write-<hex>.tmp",
// ".ship-upload-<hex>.tmp" (and ".ship-delete-<hex>.tmp" for flattened deep subtrees being
// deleted); a Ship killed mid-operation can leave one behind in the target's directory.
//
// Thread safety: all functions are reentrant and may run concurrently on one Workspace.
// They block on disk I/O, so callers run them off the network threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/unique_fd.hpp"
#include "ship/fs/path.hpp"
#include "ship/fs/workspace.hpp"

namespace shipyard::ship::fs {

// Largest file read_file/edit_file load whole, and largest content read_file returns.
inline constexpr std::uint64_t kMaxReadBytes = 64ull << 20;
// Largest directory list_dir describes.
inline constexpr std::size_t kMaxListEntries = 100000;

// True for the encodings Ship supports: "utf-8", "utf8", "utf_8" (case-insensitive).
bool supported_encoding(std::string_view encoding);

struct FileInfo {
  std::string path;  // absolute display path
  std::uint64_t size = 0;
};

// Creates or overwrites a file with `content`, creating missing parents (0755), then applies
// `mode & 0777` (setuid/setgid/sticky are never set). An existing file of ours is replaced
// atomically (temporary file + rename); a final symlink resolving beneath the root is written
// through to its target in place; a file of another owner is written in place.
// Errors: "Path is not a file: <path>" for a directory (or the root), a FIFO, socket, device.
Result<FileInfo> create_file(const Workspace& ws, std::string_view path, std::string_view content,
                             unsigned mode = 0644);

struct ReadResult {
  std::string content;     // valid UTF-8 (invalid bytes → U+FFFD)
  std::string path;        // absolute display path
  std::uint64_t size = 0;  // file size in bytes
};

// Reads a text file. `offset`: 1-based first line (nullopt or <= 0 → 1); `limit`: maximum
// number of lines (nullopt → all, 0 → none). Lines are split on '\n' only and keep their
// terminators byte for byte ("\r\n" stays); an offset past the end yields "".
// Memory is bounded by `max_bytes`: without a line selection a larger file is refused up
// front; with one the file is streamed and only the selected lines are kept, refused if they
// exceed `max_bytes`.
// Errors: 404 "File not found: <path>"; 400 "Path is not a file: <path>";
//   400 "'limit' must not be negative";
//   400 "File is too large to read at once: <path> (<n> bytes, limit <max>); use offset and
//       limit to read it in parts";
//   400 "Selected lines exceed the read limit of <max> bytes: <path>".
Result<ReadResult> read_file(const Workspace& ws, std::string_view path,
                             std::optional<std::int64_t> offset, std::optional<std::int64_t> limit,
                             std::string_view encoding = "utf-8",
                             std::uint64_t max_bytes = kMaxReadBytes);

// Writes `content`, creating missing parents. `append == false` ("w"): as create_file but
// an existing file keeps its permission bits (new files get 0666 & ~umask). `append` ("a"):
// appends in place (O_APPEND), creating the file if missing. `size` is the new file size.
Result<FileInfo> write_file(const Workspace& ws, std::string_view path, std::string_view content,
                            bool append, std::string_view encoding = "utf-8");

struct EditResult {
  std::string path;
  std::size_t replacements = 0;
  std::uint64_t size = 0;
};

// Replaces `old_string` by `new_string` (the first and only occurrence, or all with
// `replace_all`), then writes the file back like write_file "w". Works on bytes, so invalid
// UTF-8 elsewhere in the file survives unchanged. Files above kMaxReadBytes are refused.
// Errors: 404 "File not found: <path>"; 400 "Path is not a file: <path>";
//   400 "'old_string' must not be empty";
//   400 "'old_string' and 'new_string' must be different";
//   400 "'old_string' not found in file";
//   400 "'old_string' appears <n> times in file; set replace_all=true to replace all
//       occurrences";
//   400 "File is too large to edit: <path> (<n> bytes, limit <max>)".
Result<EditResult> edit_file(const Workspace& ws, std::string_view path,
                             std::string_view old_string, std::string_view new_string,
                             bool replace_all, std::string_view encoding = "utf-8");

struct DeleteResult {
  std::string path;  // absolute display path
  bool was_directory = false;
};

// Deletes a file, symlink (never its target) or directory tree. The tree is removed through
// directory fds opened with O_NOFOLLOW, entry by entry relative to their parent fd, so a
// directory swapped for a symlink mid-way is unlinked as a symlink and nothing outside the
// root is ever touched. Trees deeper than an internal fd budget are flattened by renaming
// deep subdirectories into the top directory being deleted (no depth limit).
// Errors: 404 "Path not found: <path>"; 400 "Cannot delete the workspace root".
Result<DeleteResult> delete_path(const Workspace& ws, std::string_view path);

struct DirEntry {
  std::string name;  // UTF-8 sanitised
  std::string path;  // absolute display path, UTF-8 sanitised
  bool is_file = false;
  bool is_dir = false;
  std::optional<std::uint64_t> size;  // regular files only
  double modified_time = 0;           // mtime, seconds since the epoch
};

struct ListResult {
  std::vector<DirEntry> files;
  std::string current_path;
};

// Lists a directory: directories first, then case-insensitive (ASCII) by name, ties by
// bytes. "." and ".." are never listed; names starting with '.' only with `show_hidden`.
// A symlink is described by its target when the target resolves beneath the root, otherwise
// (escaping, dangling, loop) it is listed with is_file = is_dir = false, size null and its
// own mtime. Entries that cannot be lstat'ed (raced away) are skipped.
// Errors: 404 "Path not found: <path>"; 400 "Path is not a directory: <path>";
//   400 "Directory has too many entries to list: <path> (more than <max>)".
Result<ListResult> list_dir(const Workspace& ws, std::string_view path, bool show_hidden,
                            std::size_t max_entries = kMaxListEntries);

struct OpenedFile {
  UniqueFd fd;  // O_RDONLY, blocking, close-on-exec, positioned at 0
  std::uint64_t size = 0;
  std::string path;      // absolute display path (sanitised)
  std::string basename;  // last component, raw bytes: the caller must escape it for headers
};

// Opens a regular file for download (streaming/sendfile is the caller's business).
// Errors: 404 "File not found: <path>"; 400 "Path is not a file: <path>".
Result<OpenedFile> open_for_download(const Workspace& ws, std::string_view path);

// Streaming upload into a hidden temporary file (".ship-upload-<hex>.tmp") created in the
// target's directory (parents created). commit() gives it the permission bits of the file it
// replaces (if any) and renames it over the target atomically, replacing a symlink there
// rather than following it; a target owned by another user is instead overwritten in place
// (so ownership never changes). abort() or the destructor unlinks the temporary file.
// Not thread-safe (one request owns it); move-only.
class UploadSink {
 public:
  // Errors: as for write_file; "Path is not a file: <path>" if the target is a directory.
  static Result<UploadSink> create(const Workspace& ws, std::string_view path);

  UploadSink(UploadSink&& other) noexcept;
  UploadSink& operator=(UploadSink&& other) noexcept;
  UploadSink(const UploadSink&) = delete;
  UploadSink& operator=(const UploadSink&) = delete;
  ~UploadSink();

  // Errors: kInternal "Write failed: <path>: No space left on device" (ENOSPC, EDQUOT, ...);
  // kInvalidArgument "Upload already finished" after commit/abort.
  Status write(const void* data, std::size_t len);
  // Errors: "Path is not a file: <path>" if a directory appeared at the target meanwhile.
  Result<FileInfo> commit();
  void abort();

  const std::string& path() const { return path_; }
  std::uint64_t bytes_written() const { return written_; }

 private:
  UploadSink() = default;

  std::optional<Workspace> ws_;  // for in-place commits and error messages
  UniqueFd dir_;                 // O_PATH fd of the target's directory
  UniqueFd file_;                // the temporary file, O_WRONLY
  std::string rel_;
  std::string leaf_;
  std::string tmp_name_;
  std::string path_;
  std::uint64_t written_ = 0;
};

// For shell `cwd` (spec §7): normalises `path` ("" → the root) and, if it exists, checks with
// openat2 that it resolves beneath the root (403 otherwise). A missing path or non-directory
// is accepted (bash's `cd` fails normally). Returns the absolute display path, not sanitised.
Result<std::string> resolve_cwd(const Workspace& ws, std::string_view path);

}  // namespace shipyard::ship::fs
