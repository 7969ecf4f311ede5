// Versioned schema of Bay's SQLite database.
//
// The version lives in PRAGMA user_version (0 = empty database). Migration i (1-based)
// upgrades version i-1 to i; each runs in its own write transaction together with the
// version bump, so a crash leaves the database at a consistent version. Migrations are
// append-only: never edit a released one, add the next.
#pragma once

#include <span>
#include <string_view>

#include "bay/store/sqlite_connection.hpp"

namespace shipyard::bay::sqlite {

struct Migration {
  std::string_view description;
  std::string_view sql;  // one or more statements
};

// The migrations this build knows, in order.
std::span<const Migration> migrations();

// The schema version this build writes (the number of known migrations).
int latest_schema_version();

// Applies the missing migrations of `list` to `conn`. A database whose version is newer than
// `list` knows is refused (kInternal, "database schema is newer than this Bay").
Status migrate(Connection& conn, std::span<const Migration> list);

// The current PRAGMA user_version.
Result<int> schema_version(Connection& conn);

}  // namespace shipyard::bay::sqlite
