// How a process-driver runtime is identified and found again, also by a restarted
// Bay: the runtime id names the outer bwrap process and the sandbox's pid-namespace
// init (each with its start time, so a recycled pid never matches), and a small record
// in the Bay-owned session directory tags it with its instance and its cgroups.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shipyard::bay {

struct ProcRuntimeId {
  pid_t pid = 0;                 // the outer bwrap process (Bay's child)
  std::uint64_t start_time = 0;  // its start time, clock ticks after boot
  pid_t init_pid = 0;            // the sandbox's pid-namespace init (bwrap's child)
  std::uint64_t init_start_time = 0;
  std::string session_id;
};

// "proc:<pid>:<start>:<init pid>:<init start>:<session id>"
std::string format_runtime_id(const ProcRuntimeId& id);
std::optional<ProcRuntimeId> parse_runtime_id(std::string_view text);

inline constexpr const char* kRuntimeRecordName = "runtime.json";

struct RuntimeRecord {
  std::string session_id;
  std::string sandbox_id;
  std::string instance_id;
  std::string runtime_id;
  std::string endpoint;
  std::vector<std::string> cgroups;  // host directories to empty and remove on destroy
  std::int64_t started_at = 0;       // unix seconds
};

std::string to_json_text(const RuntimeRecord& r);
std::optional<RuntimeRecord> parse_runtime_record(std::string_view text);

// The "child-pid" bwrap reports on --info-fd; nullopt until the JSON has arrived.
std::optional<pid_t> parse_bwrap_child_pid(std::string_view info);

}  // namespace shipyard::bay
