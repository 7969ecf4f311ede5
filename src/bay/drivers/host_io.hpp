// Small blocking helpers for procfs, cgroupfs and the driver's own files. They run on
// the driver's worker threads (or before serving), never on Bay's I/O thread, except
// for the tiny procfs reads of liveness checks.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace shipyard::bay {

// Reads at most `limit` bytes (more is an error). ENOENT → kNotFound.
Result<std::string> read_file(const std::string& path, std::size_t limit = 1 << 20);

// Writes `content` to an existing file in one write (cgroupfs needs single writes).
// The log context carries the path and strerror; `errno_out` receives the errno.
Status write_existing_file(const std::string& path, std::string_view content,
                           int* errno_out = nullptr);

// Creates or replaces `path` atomically (temporary file + rename), mode 0600. Not
// fsynced: it serves records of running processes (runtime.json), which a crash of Bay
// must never tear but a crash of the machine ends anyway (an fsync was ~2-6 ms of every
// sandbox start).
Status write_file_atomic(const std::string& path, std::string_view content);

struct ProcStat {
  char state = '?';              // R, S, D, Z, ...
  std::uint64_t start_time = 0;  // clock ticks after boot (field 22)
};

// Parses the contents of /proc/<pid>/stat (the command name may contain spaces and
// parentheses: fields are counted after the last ')').
std::optional<ProcStat> parse_proc_stat(std::string_view text);
std::optional<ProcStat> read_proc_stat(pid_t pid);

// The process exists, is not a zombie and started at `start_time` (pid reuse safe).
bool process_matches(pid_t pid, std::uint64_t start_time);

// pidfd for `pid` if it still is the process that started at `start_time`; -1 if it is
// gone or the pid now belongs to another process. The identity is checked after the
// pidfd is opened, so signals sent through it can never reach a recycled pid.
int open_pidfd_checked(pid_t pid, std::uint64_t start_time);

// Sends `sig` through a pidfd; false if the process is already gone.
bool pidfd_kill(int pidfd, int sig);

// True when the process behind `pidfd` has exited (poll, never blocks).
bool pidfd_exited(int pidfd);

}  // namespace shipyard::bay
