// Bay's entities as plain data. Time is UTC wall-clock with microsecond precision
// (bay-api-v1.md §2.3); the store persists it as integer microseconds since the epoch.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace shipyard::bay {

using Micros = std::chrono::microseconds;
using TimePoint = std::chrono::time_point<std::chrono::system_clock, Micros>;

struct Sandbox {
  std::string id;  // sandbox-<12hex>
  std::string owner;
  std::string profile;
  std::string cargo_id;
  TimePoint created_at;
  std::optional<TimePoint> expires_at;  // null: no TTL
  std::optional<TimePoint> deleted_at;
  bool legacy = false;  // backs a legacy /ship (exempt from idle reclaim)
};

struct Cargo {
  std::string id;  // ws-<12hex>
  std::string owner;
  bool managed = false;
  std::optional<std::string> managed_by_sandbox_id;
  std::int64_t size_limit_mb = 1024;
  TimePoint created_at;
  TimePoint last_accessed_at;
  std::optional<TimePoint> deleted_at;
  // Driver-side storage: for the process driver a host directory and the host uid that
  // owns it (files in a cargo belong to its uid).
  std::string storage_path;
  std::uint32_t host_uid = 0;
};

enum class SessionState { kStarting, kReady, kFailed, kStopped };

struct SessionRecord {
  std::string id;  // sess-<12hex>
  std::string sandbox_id;
  SessionState state = SessionState::kStarting;
  // Opaque to everything but the driver: how to find, probe and destroy the runtime.
  std::string runtime_id;
  std::string endpoint;     // how Bay reaches Ship, e.g. "unix:/data/sessions/sess-…/ship.sock"
  std::string instance_id;  // the Bay instance that created it (orphan detection)
  TimePoint created_at;
  std::optional<TimePoint> idle_expires_at;
  std::string failure;  // why a start failed (kFailed)
};

struct Execution {
  std::string id;  // exec-<12hex>
  std::string owner;
  std::string sandbox_id;
  std::optional<std::string> session_id;
  std::string exec_type;  // python | shell | browser | browser_batch
  std::string code;
  bool success = false;
  std::int64_t execution_time_ms = 0;
  std::optional<std::string> output;
  std::optional<std::string> error;
  std::optional<std::string> payload_ref;
  std::optional<std::string> description;
  std::optional<std::string> tags;  // normalised (see normalize_tags)
  std::optional<std::string> notes;
  bool learn_enabled = false;
  std::optional<std::string> learn_status;
  std::optional<std::string> learn_error;
  std::optional<TimePoint> learn_processed_at;
  TimePoint created_at;
};

struct HistoryQuery {
  std::string owner;
  std::string sandbox_id;
  std::optional<std::string> exec_type;
  bool success_only = false;
  std::vector<std::string> tags;  // match if any occurs (case-insensitive substring)
  bool has_notes = false;
  bool has_description = false;
  std::int64_t limit = 100;
  std::int64_t offset = 0;
};

struct HistoryPage {
  std::vector<Execution> entries;  // newest first
  std::int64_t total = 0;
};

struct Annotation {
  std::optional<std::string> description;
  std::optional<std::string> tags;  // already normalised
  std::optional<std::string> notes;
};

// A remembered successful answer to an idempotent request (§7).
struct IdempotencyRecord {
  std::string owner;
  std::string key;
  std::string fingerprint;  // hex SHA-256 of METHOD:PATH:canonical body
  int status = 0;
  std::string body;  // the exact bytes answered the first time
  TimePoint created_at;
  TimePoint expires_at;
};

// Keyset position for cursor pagination: items strictly after (created_at, id).
struct ListCursor {
  TimePoint created_at;
  std::string id;
};

}  // namespace shipyard::bay
