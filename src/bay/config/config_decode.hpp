// Internal to bay_config: the schema. Turns the merged tree into a BayConfig and checks
// every value and cross-reference, recording problems in the Context.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "bay/config/config.hpp"
#include "bay/config/config_reader.hpp"

namespace shipyard::bay::config_detail {

// Top-level keys the schema knows. Others are ignored (with a warning when they come
// from the file: `sever:` is more likely a typo than a setting for something else).
bool is_top_level_key(std::string_view key);

// Reads every known key under `root` into `cfg` (whose fields hold the defaults) and
// validates it. Paths stay as configured; load_config resolves them afterwards.
void decode_config(const Node& root, Context& ctx, BayConfig& cfg);

enum class DatabaseKind { kSqliteFile, kSqliteMemory, kPostgres, kInvalid };

struct DatabaseTarget {
  DatabaseKind kind = DatabaseKind::kInvalid;
  std::string path;    // kSqliteFile: the file path as written (may be relative)
  std::string reason;  // kInvalid: why
};

// Classifies a database URL: sqlite:///<path>, sqlite://:memory: (also sqlite:///:memory:
// and the bare sqlite://), the same with the SQLAlchemy driver suffix sqlite+aiosqlite
// used by Python Bay configurations, and postgres(ql)[+driver]:// URLs.
DatabaseTarget classify_database_url(std::string_view url);

// Smallest memory limit a profile may have: below it not even Ship and its kernel start,
// and a value like "128k" is almost certainly a typo for "128m".
inline constexpr std::uint64_t kMinProfileMemory = 16ull << 20;

}  // namespace shipyard::bay::config_detail
