// create_file, read_file, write_file, edit_file and open_for_download.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <limits>
#include <string>

#include "fs_test_util.hpp"
#include "ship/fs/ops.hpp"

namespace shipyard::ship::fs {
namespace {

using testing::failed_with;
using testing::FsTest;
using testing::get;
using testing::is_symlink;
using testing::kEscape;
using testing::lexists;
using testing::names_in;
using testing::perm_bits;
using testing::put;
using testing::succeeded;

using FileOpsTest = FsTest;

ino_t inode_of(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// ---- create_file ----

// Creates missing parents and reports the absolute display path and size.
TEST_F(FileOpsTest, CreateFileCreatesParents) {
  auto r = create_file(ws(), "notes/deep/todo.txt", "hello");
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(r->path, "/workspace/notes/deep/todo.txt");
  EXPECT_EQ(r->size, 5u);
  EXPECT_EQ(get(host("notes/deep/todo.txt")), "hello");
  EXPECT_EQ(perm_bits(host("notes/deep/todo.txt")), 0644u);
  EXPECT_EQ(names_in(host("notes/deep")), (std::set<std::string>{"todo.txt"}));  // no temp left
}

// `mode` is applied after writing; only the 0777 bits are ever set.
TEST_F(FileOpsTest, CreateFileAppliesMode) {
  ASSERT_TRUE(create_file(ws(), "a.sh", "#!/bin/sh\n", 0755).ok());
  EXPECT_EQ(perm_bits(host("a.sh")), 0755u);
  ASSERT_TRUE(create_file(ws(), "b", "x", 0400).ok());
  EXPECT_EQ(perm_bits(host("b")), 0400u);
  ASSERT_TRUE(create_file(ws(), "c", "x", 07777).ok());
  EXPECT_EQ(perm_bits(host("c")), 0777u);
}

// Overwrites an existing file and its mode; an empty content creates an empty file.
TEST_F(FileOpsTest, CreateFileOverwrites) {
  put(host("f.txt"), "old content");
  ::chmod(host("f.txt").c_str(), 0600);
  auto r = create_file(ws(), "/workspace/f.txt", "", 0640);
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(r->size, 0u);
  EXPECT_EQ(get(host("f.txt")), "");
  EXPECT_EQ(perm_bits(host("f.txt")), 0640u);
}

// Directories (and the root) are not files; a file used as a parent is not a directory.
TEST_F(FileOpsTest, CreateFileTypeErrors) {
  mkdir_host("d");
  EXPECT_TRUE(failed_with(create_file(ws(), "d", "x"), ErrorCode::kInvalidArgument,
                          "Path is not a file: /workspace/d"));
  EXPECT_TRUE(failed_with(create_file(ws(), ".", "x"), ErrorCode::kInvalidArgument,
                          "Path is not a file: /workspace"));
  put(host("f.txt"), "x");
  EXPECT_TRUE(failed_with(create_file(ws(), "f.txt/sub/x", "x"), ErrorCode::kInvalidArgument,
                          "Path is not a directory: /workspace/f.txt"));
  EXPECT_EQ(get(host("f.txt")), "x");
}

// Escaping paths are refused before anything is created.
TEST_F(FileOpsTest, CreateFileEscapes) {
  EXPECT_TRUE(
      failed_with(create_file(ws(), "../outside/new.txt", "x"), ErrorCode::kPathEscape, kEscape));
  EXPECT_TRUE(
      failed_with(create_file(ws(), outside_ + "/new.txt", "x"), ErrorCode::kPathEscape, kEscape));
  EXPECT_TRUE(
      failed_with(create_file(ws(), std::string("a\0b", 3), "x"), ErrorCode::kPathEscape, kEscape));
}

// ---- read_file ----

// Whole-file read with size and display path.
TEST_F(FileOpsTest, ReadFileWhole) {
  put(host("a.txt"), "line1\nline2\n");
  auto r = read_file(ws(), "a.txt", {}, {});
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(r->content, "line1\nline2\n");
  EXPECT_EQ(r->path, "/workspace/a.txt");
  EXPECT_EQ(r->size, 12u);
}

// offset/limit select lines 1-based, keeping terminators; out-of-range yields "".
TEST_F(FileOpsTest, ReadFileOffsetLimit) {
  put(host("l.txt"), "l1\nl2\r\nl3");
  auto read = [&](std::optional<std::int64_t> off, std::optional<std::int64_t> lim) {
    auto r = read_file(ws(), "l.txt", off, lim);
    EXPECT_TRUE(succeeded(r));
    return r.ok() ? r->content : std::string("<error>");
  };
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(read({}, {}), "l1\nl2\r\nl3");
  EXPECT_EQ(read(1, {}), "l1\nl2\r\nl3");
  EXPECT_EQ(read(0, {}), "l1\nl2\r\nl3");
  EXPECT_EQ(read(-7, {}), "l1\nl2\r\nl3");
  EXPECT_EQ(read(2, {}), "l2\r\nl3");
  EXPECT_EQ(read(2, 1), "l2\r\n");
  EXPECT_EQ(read(3, 5), "l3");
  EXPECT_EQ(read(4, {}), "");
  EXPECT_EQ(read(kMax, kMax), "");
  EXPECT_EQ(read(1, kMax), "l1\nl2\r\nl3");
  EXPECT_EQ(read({}, 0), "");
  EXPECT_EQ(read({}, 2), "l1\nl2\r\n");
  EXPECT_TRUE(failed_with(read_file(ws(), "l.txt", 1, -1), ErrorCode::kInvalidArgument,
                          "'limit' must not be negative"));
  auto r = read_file(ws(), "l.txt", 3, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size, 9u);  // size is the file's, not the selection's
}

// Line selection streams across read-buffer boundaries correctly.
TEST_F(FileOpsTest, ReadFileStreamsLongFiles) {
  std::string content;
  for (int i = 1; i <= 30000; ++i) {
    content +=
        "line " + std::to_string(i) + std::string(static_cast<std::size_t>(i % 17), '.') + "\n";
  }
  put(host("big.txt"), content);
  auto r = read_file(ws(), "big.txt", 25000, 2);
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(r->content, "line 25000" + std::string(25000 % 17, '.') + "\nline 25001" +
                            std::string(25001 % 17, '.') + "\n");
  auto whole = read_file(ws(), "big.txt", {}, {});
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->content, content);
}

// Files above the limit are refused whole but can be read by lines; selections are bounded.
TEST_F(FileOpsTest, ReadFileBoundsMemory) {
  put(host("big.txt"), "0123456789\nabcdefghij\n");  // 22 bytes
  EXPECT_TRUE(failed_with(read_file(ws(), "big.txt", {}, {}, "utf-8", 16),
                          ErrorCode::kInvalidArgument,
                          "File is too large to read at once: /workspace/big.txt (22 bytes, "
                          "limit 16); use offset and limit to read it in parts"));
  auto r = read_file(ws(), "big.txt", 2, 1, "utf-8", 16);
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(r->content, "abcdefghij\n");
  EXPECT_TRUE(failed_with(read_file(ws(), "big.txt", 1, 2, "utf-8", 16),
                          ErrorCode::kInvalidArgument,
                          "Selected lines exceed the read limit of 16 bytes: /workspace/big.txt"));
}

// Invalid UTF-8 is replaced by U+FFFD, never an error.
TEST_F(FileOpsTest, ReadFileSanitisesUtf8) {
  put(host("bin"), std::string("a\xff"
                               "b\xc3",
                               4));
  auto r = read_file(ws(), "bin", {}, {});
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(r->content,
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");
  EXPECT_EQ(r->size, 4u);
}

// Missing files (and paths through files) are 404; directories and FIFOs are not files.
TEST_F(FileOpsTest, ReadFileErrors) {
  EXPECT_TRUE(failed_with(read_file(ws(), "nope.txt", {}, {}), ErrorCode::kFileNotFound,
                          "File not found: /workspace/nope.txt"));
  EXPECT_TRUE(failed_with(read_file(ws(), "no/dir/x", {}, {}), ErrorCode::kFileNotFound,
                          "File not found: /workspace/no/dir/x"));
  put(host("f"), "x");
  EXPECT_TRUE(failed_with(read_file(ws(), "f/x", {}, {}), ErrorCode::kFileNotFound,
                          "File not found: /workspace/f/x"));
  mkdir_host("d");
  EXPECT_TRUE(failed_with(read_file(ws(), "d", {}, {}), ErrorCode::kInvalidArgument,
                          "Path is not a file: /workspace/d"));
  EXPECT_TRUE(failed_with(read_file(ws(), ".", {}, {}), ErrorCode::kInvalidArgument,
                          "Path is not a file: /workspace"));
  ASSERT_EQ(::mkfifo(host("fifo").c_str(), 0644), 0);
  EXPECT_TRUE(failed_with(read_file(ws(), "fifo", {}, {}), ErrorCode::kInvalidArgument,
                          "Path is not a file: /workspace/fifo"));
  EXPECT_TRUE(failed_with(read_file(ws(), "../outside/secret.txt", {}, {}), ErrorCode::kPathEscape,
                          kEscape));
  EXPECT_TRUE(failed_with(read_file(ws(), "", {}, {}), ErrorCode::kInvalidArgument,
                          "Path must not be empty"));
  EXPECT_TRUE(failed_with(read_file(ws(), std::string(300, 'n'), {}, {}),
                          ErrorCode::kInvalidArgument, "Path is too long"));
  EXPECT_TRUE(failed_with(read_file(ws(), std::string(5000, 'n'), {}, {}),
                          ErrorCode::kInvalidArgument, "Path is too long"));
}

// Only UTF-8 is supported, under its usual spellings.
TEST_F(FileOpsTest, Encodings) {
  put(host("a"), "x");
  for (std::string_view enc : {"utf-8", "UTF-8", "utf8", "UTF8", "utf_8"}) {
    EXPECT_TRUE(read_file(ws(), "a", {}, {}, enc).ok()) << enc;
  }
  EXPECT_TRUE(failed_with(read_file(ws(), "a", {}, {}, "latin-1"), ErrorCode::kInvalidArgument,
                          "Unsupported encoding: latin-1"));
  EXPECT_TRUE(failed_with(write_file(ws(), "a", "y", false, "utf-16"), ErrorCode::kInvalidArgument,
                          "Unsupported encoding: utf-16"));
  EXPECT_TRUE(failed_with(edit_file(ws(), "a", "x", "y", false, "ascii"),
                          ErrorCode::kInvalidArgument, "Unsupported encoding: ascii"));
  EXPECT_EQ(get(host("a")), "x");
}

// ---- write_file ----

// "w" replaces the file atomically (new inode), keeps its permission bits, leaves no temp.
TEST_F(FileOpsTest, WriteFileReplaces) {
  put(host("w.txt"), "old old old");
  ::chmod(host("w.txt").c_str(), 0751);
  ino_t before = inode_of(host("w.txt"));
  auto r = write_file(ws(), "w.txt", "new", false);
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(r->path, "/workspace/w.txt");
  EXPECT_EQ(r->size, 3u);
  EXPECT_EQ(get(host("w.txt")), "new");
  EXPECT_EQ(perm_bits(host("w.txt")), 0751u);
  EXPECT_NE(inode_of(host("w.txt")), before);
  EXPECT_EQ(names_in(ws_dir_), (std::set<std::string>{"w.txt"}));
}

// "w" creates parents and new files.
TEST_F(FileOpsTest, WriteFileCreates) {
  auto r = write_file(ws(), "x/y/z.txt", "content", false);
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(get(host("x/y/z.txt")), "content");
  EXPECT_EQ(r->size, 7u);
}

// "a" appends in place (same inode) and creates missing files.
TEST_F(FileOpsTest, WriteFileAppends) {
  put(host("log"), "ab");
  ino_t before = inode_of(host("log"));
  auto r = write_file(ws(), "log", "cd", true);
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(r->size, 4u);
  EXPECT_EQ(get(host("log")), "abcd");
  EXPECT_EQ(inode_of(host("log")), before);
  auto n = write_file(ws(), "new/log", "x", true);
  ASSERT_TRUE(succeeded(n));
  EXPECT_EQ(get(host("new/log")), "x");
}

// Writing onto a directory or FIFO is refused in both modes, without blocking.
TEST_F(FileOpsTest, WriteFileTypeErrors) {
  mkdir_host("d");
  for (bool append : {false, true}) {
    EXPECT_TRUE(failed_with(write_file(ws(), "d", "x", append), ErrorCode::kInvalidArgument,
                            "Path is not a file: /workspace/d"));
    EXPECT_TRUE(failed_with(write_file(ws(), "/workspace", "x", append),
                            ErrorCode::kInvalidArgument, "Path is not a file: /workspace"));
  }
  ASSERT_EQ(::mkfifo(host("fifo").c_str(), 0644), 0);
  EXPECT_TRUE(failed_with(write_file(ws(), "fifo", "x", false), ErrorCode::kInvalidArgument,
                          "Path is not a file: /workspace/fifo"));
  EXPECT_TRUE(failed_with(write_file(ws(), "fifo", "x", true), ErrorCode::kInvalidArgument,
                          "Path is not a file: /workspace/fifo"));
  // A FIFO with a reader attached is still refused and receives nothing.
  int rd = ::open(host("fifo").c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(rd, 0);
  EXPECT_TRUE(failed_with(write_file(ws(), "fifo", "x", true), ErrorCode::kInvalidArgument,
                          "Path is not a file: /workspace/fifo"));
  char c;
  EXPECT_EQ(::read(rd, &c, 1), 0);  // EOF-or-empty: nothing was written
  ::close(rd);
}

// ---- edit_file ----

// A single occurrence is replaced; the file keeps its mode.
TEST_F(FileOpsTest, EditFileSingle) {
  put(host("e.py"), "print('hello')\n");
  ::chmod(host("e.py").c_str(), 0700);
  auto r = edit_file(ws(), "e.py", "hello", "world!", false);
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(r->path, "/workspace/e.py");
  EXPECT_EQ(r->replacements, 1u);
  EXPECT_EQ(r->size, 16u);
  EXPECT_EQ(get(host("e.py")), "print('world!')\n");
  EXPECT_EQ(perm_bits(host("e.py")), 0700u);
}

// Several occurrences need replace_all; counts are non-overlapping.
TEST_F(FileOpsTest, EditFileMultiple) {
  put(host("m"), "aa aa aa");
  EXPECT_TRUE(failed_with(edit_file(ws(), "m", "aa", "b", false), ErrorCode::kInvalidArgument,
                          "'old_string' appears 3 times in file; set replace_all=true to "
                          "replace all occurrences"));
  EXPECT_EQ(get(host("m")), "aa aa aa");
  auto r = edit_file(ws(), "m", "aa", "b", true);
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(r->replacements, 3u);
  EXPECT_EQ(get(host("m")), "b b b");
  put(host("o"), "aaa");
  auto o = edit_file(ws(), "o", "aa", "x", true);
  ASSERT_TRUE(succeeded(o));
  EXPECT_EQ(o->replacements, 1u);
  EXPECT_EQ(get(host("o")), "xa");
}

// The edit_file rule violations and type errors of spec §6.
TEST_F(FileOpsTest, EditFileErrors) {
  put(host("f"), "abc");
  EXPECT_TRUE(failed_with(edit_file(ws(), "f", "zz", "y", false), ErrorCode::kInvalidArgument,
                          "'old_string' not found in file"));
  EXPECT_TRUE(failed_with(edit_file(ws(), "f", "a", "a", false), ErrorCode::kInvalidArgument,
                          "'old_string' and 'new_string' must be different"));
  EXPECT_TRUE(failed_with(edit_file(ws(), "f", "", "a", false), ErrorCode::kInvalidArgument,
                          "'old_string' must not be empty"));
  EXPECT_TRUE(failed_with(edit_file(ws(), "nope", "a", "b", false), ErrorCode::kFileNotFound,
                          "File not found: /workspace/nope"));
  mkdir_host("d");
  EXPECT_TRUE(failed_with(edit_file(ws(), "d", "a", "b", false), ErrorCode::kInvalidArgument,
                          "Path is not a file: /workspace/d"));
  EXPECT_TRUE(failed_with(edit_file(ws(), "/etc/passwd", "root", "toor", false),
                          ErrorCode::kPathEscape, kEscape));
  EXPECT_EQ(get(host("f")), "abc");
}

// Bytes that are not UTF-8 survive an edit elsewhere in the file.
TEST_F(FileOpsTest, EditFileKeepsInvalidBytes) {
  put(host("b"), std::string("\xff hello \xfe\n", 10));
  ASSERT_TRUE(succeeded(edit_file(ws(), "b", "hello", "bye", false)));
  EXPECT_EQ(get(host("b")), std::string("\xff bye \xfe\n", 8));
}

// ---- open_for_download ----

// Opens the regular file, with its size, display path and basename.
TEST_F(FileOpsTest, DownloadOpens) {
  put(host("dir/data.bin"), std::string("\0\1\2\xff", 4));
  auto r = open_for_download(ws(), "dir/data.bin");
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(r->size, 4u);
  EXPECT_EQ(r->path, "/workspace/dir/data.bin");
  EXPECT_EQ(r->basename, "data.bin");
  char buf[8];
  ASSERT_EQ(::read(r->fd.get(), buf, sizeof buf), 4);
  EXPECT_EQ(std::string(buf, 4), std::string("\0\1\2\xff", 4));
  EXPECT_EQ(::fcntl(r->fd.get(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(r->fd.get(), F_GETFD) & FD_CLOEXEC, 0);
}

// Download errors: missing, directory, escape.
TEST_F(FileOpsTest, DownloadErrors) {
  mkdir_host("d");
  EXPECT_TRUE(failed_with(open_for_download(ws(), "nope"), ErrorCode::kFileNotFound,
                          "File not found: /workspace/nope"));
  EXPECT_TRUE(failed_with(open_for_download(ws(), "d"), ErrorCode::kInvalidArgument,
                          "Path is not a file: /workspace/d"));
  EXPECT_TRUE(failed_with(open_for_download(ws(), "../outside/secret.txt"), ErrorCode::kPathEscape,
                          kEscape));
}

// ---- ownership and write failures ----

class OwnershipTest : public FsTest {
 protected:
  void SetUp() override {
    FsTest::SetUp();
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create a file of another owner";
  }
  // A file owned by someone else (uid/gid 4242), writable by us (we are root).
  std::string foreign(std::string_view rel, std::string_view content) {
    put(host(rel), content);
    EXPECT_EQ(::chown(host(rel).c_str(), 4242, 4242), 0);
    return host(rel);
  }
  static uid_t owner(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0 ? st.st_uid : 0;
  }
};

// Whole-file writes of another owner's file happen in place, so ownership never changes.
TEST_F(OwnershipTest, ForeignFilesAreWrittenInPlace) {
  const std::string f = foreign("f.txt", "original");
  const ino_t ino = inode_of(f);
  ASSERT_TRUE(succeeded(write_file(ws(), "f.txt", "w", false)));
  EXPECT_EQ(get(f), "w");
  ASSERT_TRUE(succeeded(create_file(ws(), "f.txt", "created", 0600)));
  EXPECT_EQ(get(f), "created");
  EXPECT_EQ(testing::perm_bits(f), 0600u);
  ASSERT_TRUE(succeeded(edit_file(ws(), "f.txt", "created", "edited", false)));
  EXPECT_EQ(get(f), "edited");
  auto sink = UploadSink::create(ws(), "f.txt");
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE(sink->write("uploaded", 8).ok());
  auto info = sink->commit();
  ASSERT_TRUE(succeeded(info));
  EXPECT_EQ(info->size, 8u);
  EXPECT_EQ(get(f), "uploaded");
  EXPECT_EQ(inode_of(f), ino);
  EXPECT_EQ(owner(f), 4242u);
  EXPECT_EQ(names_in(ws_dir_), (std::set<std::string>{"f.txt"}));
}

// Restores RLIMIT_FSIZE and SIGXFSZ on scope exit.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &old_);
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {bytes, old_.rlim_max};
    ::setrlimit(RLIMIT_FSIZE, &lim);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_handler_);
  }

 private:
  struct rlimit old_;
  sighandler_t old_handler_;
};

using WriteFailureTest = FsTest;

// A failing write (here EFBIG; ENOSPC takes the same path) is a clear 500 and leaves neither
// a temporary file nor a half-written target behind.
TEST_F(WriteFailureTest, FailedWritesCleanUp) {
  put(host("keep.txt"), "keep");
  const std::string big(4096, 'x');
  {
    FileSizeLimit limit(1024);
    auto w = write_file(ws(), "keep.txt", big, false);
    ASSERT_FALSE(w.ok());
    EXPECT_EQ(w.error().code, ErrorCode::kInternal);
    EXPECT_EQ(w.error().message, "Write failed: /workspace/keep.txt: File too large");

    auto sink = UploadSink::create(ws(), "up.bin");
    ASSERT_TRUE(sink.ok());
    auto s = sink->write(big.data(), big.size());
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().message, "Write failed: /workspace/up.bin: File too large");
  }
  EXPECT_EQ(get(host("keep.txt")), "keep");
  EXPECT_EQ(names_in(ws_dir_), (std::set<std::string>{"keep.txt"}));
}

}  // namespace
}  // namespace shipyard::ship::fs
