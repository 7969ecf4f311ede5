#include "bay/store/sqlite_schema.hpp"

#include <fmt/format.h>

#include <array>
#include <string>

namespace shipyard::bay::sqlite {

namespace {

// Conventions: STRICT tables; times are INTEGER microseconds since the Unix epoch (UTC);
// booleans are INTEGER 0/1; rows are soft-deleted (deleted_at) because history, GC and
// later skill statistics still need them. Partial indexes cover the live rows the list
// queries read (their WHERE clauses repeat the index predicate verbatim so SQLite can use
// them).
constexpr std::string_view kV1 = R"sql(
CREATE TABLE cargos (
  id                    TEXT PRIMARY KEY NOT NULL,
  owner                 TEXT NOT NULL,
  managed               INTEGER NOT NULL CHECK (managed IN (0, 1)),
  managed_by_sandbox_id TEXT,  -- no foreign key: an orphan's sandbox may be missing
  size_limit_mb         INTEGER NOT NULL,
  created_at            INTEGER NOT NULL,
  last_accessed_at      INTEGER NOT NULL,
  deleted_at            INTEGER,
  storage_path          TEXT NOT NULL,
  host_uid              INTEGER NOT NULL CHECK (host_uid BETWEEN 0 AND 4294967295)
) STRICT;
CREATE INDEX cargos_live_by_owner ON cargos (owner, managed, created_at, id)
  WHERE deleted_at IS NULL;

CREATE TABLE sandboxes (
  id         TEXT PRIMARY KEY NOT NULL,
  owner      TEXT NOT NULL,
  profile    TEXT NOT NULL,
  -- Deferred: a sandbox and its managed cargo reference each other and are inserted
  -- together.
  cargo_id   TEXT NOT NULL REFERENCES cargos (id) DEFERRABLE INITIALLY DEFERRED,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  deleted_at INTEGER,
  legacy     INTEGER NOT NULL DEFAULT 0 CHECK (legacy IN (0, 1))
) STRICT;
CREATE INDEX sandboxes_live_by_owner ON sandboxes (owner, created_at, id)
  WHERE deleted_at IS NULL;
CREATE INDEX sandboxes_live_by_cargo ON sandboxes (cargo_id) WHERE deleted_at IS NULL;

CREATE TABLE sessions (
  seq             INTEGER PRIMARY KEY,  -- insertion order, breaks created_at ties
  id              TEXT NOT NULL UNIQUE,
  sandbox_id      TEXT NOT NULL REFERENCES sandboxes (id),
  state           TEXT NOT NULL CHECK (state IN ('starting', 'ready', 'failed', 'stopped')),
  runtime_id      TEXT NOT NULL,
  endpoint        TEXT NOT NULL,
  instance_id     TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  idle_expires_at INTEGER,
  failure         TEXT NOT NULL
) STRICT;
CREATE INDEX sessions_by_sandbox ON sessions (sandbox_id, state);
CREATE INDEX sessions_active ON sessions (sandbox_id, created_at, seq)
  WHERE state != 'stopped';

-- Execution history. seq (AUTOINCREMENT: never reused) is the insertion order and makes
-- "newest first" a total, stable order when created_at ties. No foreign key to sandboxes:
-- history outlives its sandbox (skill statistics).
CREATE TABLE executions (
  seq                INTEGER PRIMARY KEY AUTOINCREMENT,
  id                 TEXT NOT NULL UNIQUE,
  owner              TEXT NOT NULL,
  sandbox_id         TEXT NOT NULL,
  session_id         TEXT,
  exec_type          TEXT NOT NULL,
  code               TEXT NOT NULL,
  success            INTEGER NOT NULL CHECK (success IN (0, 1)),
  execution_time_ms  INTEGER NOT NULL,
  output             TEXT,
  error              TEXT,
  payload_ref        TEXT,
  description        TEXT,
  tags               TEXT,
  notes              TEXT,
  learn_enabled      INTEGER NOT NULL CHECK (learn_enabled IN (0, 1)),
  learn_status       TEXT,
  learn_error        TEXT,
  learn_processed_at INTEGER,
  created_at         INTEGER NOT NULL
) STRICT;
CREATE INDEX executions_by_sandbox ON executions (sandbox_id, created_at DESC, seq DESC);
CREATE INDEX executions_by_sandbox_type
  ON executions (sandbox_id, exec_type, created_at DESC, seq DESC);
CREATE INDEX executions_by_owner ON executions (owner, created_at);

CREATE TABLE settings (
  key   TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
) STRICT;

-- Named monotonic counters; 'host_uid' feeds allocate_uid. next_uid is the next value to
-- hand out.
CREATE TABLE uid_sequence (
  name     TEXT PRIMARY KEY NOT NULL,
  next_uid INTEGER NOT NULL
) STRICT;
)sql";

// Skills lifecycle (bay-api-v1.md §12). Everything is owner-scoped and soft-deleted.
// Invariants the API promises are also constraints, so that a bug cannot break them
// silently: versions are unique per (owner, skill key) and at most one release of a key is
// active. JSON columns hold serialised JSON text.
constexpr std::string_view kV2 = R"sql(
CREATE TABLE skill_payloads (
  id         TEXT PRIMARY KEY NOT NULL,  -- blob-<12hex>; clients see "blob:" || id
  owner      TEXT NOT NULL,
  kind       TEXT NOT NULL,
  payload    TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE skill_candidates (
  seq                   INTEGER PRIMARY KEY AUTOINCREMENT,  -- breaks created_at ties
  id                    TEXT NOT NULL UNIQUE,
  owner                 TEXT NOT NULL,
  skill_key             TEXT NOT NULL,
  scenario_key          TEXT,
  payload_ref           TEXT,
  skill_type            TEXT NOT NULL,
  auto_release_eligible INTEGER NOT NULL CHECK (auto_release_eligible IN (0, 1)),
  auto_release_reason   TEXT,
  summary               TEXT,
  usage_notes           TEXT,
  preconditions         TEXT,
  postconditions        TEXT,
  source_execution_ids  TEXT NOT NULL,  -- JSON array of strings
  status                TEXT NOT NULL CHECK (status IN ('draft', 'evaluating', 'promoted',
                          'promoted_canary', 'promoted_stable', 'rejected', 'rolled_back')),
  latest_score          REAL,
  latest_pass           INTEGER CHECK (latest_pass IN (0, 1)),
  last_evaluated_at     INTEGER,
  promotion_release_id  TEXT,  -- no foreign key: reset when its release is deleted
  created_by            TEXT,
  created_at            INTEGER NOT NULL,
  updated_at            INTEGER NOT NULL,
  deleted_at            INTEGER,
  deleted_by            TEXT,
  delete_reason         TEXT
) STRICT;
CREATE INDEX skill_candidates_live ON skill_candidates (owner, created_at DESC, seq DESC)
  WHERE deleted_at IS NULL;
CREATE INDEX skill_candidates_live_by_key
  ON skill_candidates (owner, skill_key, created_at DESC, seq DESC) WHERE deleted_at IS NULL;
CREATE INDEX skill_candidates_by_release ON skill_candidates (promotion_release_id)
  WHERE promotion_release_id IS NOT NULL;

CREATE TABLE skill_evaluations (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  id           TEXT NOT NULL UNIQUE,
  owner        TEXT NOT NULL,
  candidate_id TEXT NOT NULL REFERENCES skill_candidates (id),
  benchmark_id TEXT,
  score        REAL,
  passed       INTEGER NOT NULL CHECK (passed IN (0, 1)),
  report       TEXT,
  evaluated_by TEXT,
  created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX skill_evaluations_by_candidate ON skill_evaluations (candidate_id, created_at);

CREATE TABLE skill_releases (
  seq                   INTEGER PRIMARY KEY AUTOINCREMENT,  -- breaks promoted_at ties
  id                    TEXT NOT NULL UNIQUE,
  owner                 TEXT NOT NULL,
  skill_key             TEXT NOT NULL,
  candidate_id          TEXT NOT NULL REFERENCES skill_candidates (id),
  version               INTEGER NOT NULL CHECK (version >= 1),
  stage                 TEXT NOT NULL CHECK (stage IN ('canary', 'stable')),
  is_active             INTEGER NOT NULL CHECK (is_active IN (0, 1)),
  release_mode          TEXT NOT NULL CHECK (release_mode IN ('manual', 'auto')),
  promoted_by           TEXT,
  promoted_at           INTEGER NOT NULL,
  rollback_of           TEXT,
  auto_promoted_from    TEXT,
  health_window_end_at  INTEGER,
  upgrade_of_release_id TEXT,
  upgrade_reason        TEXT,
  change_summary        TEXT,
  deleted_at            INTEGER,
  deleted_by            TEXT,
  delete_reason         TEXT,
  -- Deleted releases keep their version: a new one never reuses it (§12.7).
  UNIQUE (owner, skill_key, version)
) STRICT;
CREATE UNIQUE INDEX skill_releases_one_active ON skill_releases (owner, skill_key)
  WHERE is_active = 1;
CREATE INDEX skill_releases_live ON skill_releases (owner, promoted_at DESC, seq DESC)
  WHERE deleted_at IS NULL;
CREATE INDEX skill_releases_live_by_key
  ON skill_releases (owner, skill_key, promoted_at DESC, seq DESC) WHERE deleted_at IS NULL;
CREATE INDEX skill_releases_by_candidate ON skill_releases (candidate_id);
)sql";

constexpr std::string_view kV3 = R"sql(
-- Successful answers to idempotent requests (bay-api-v1.md §7), replayed byte for byte
-- while unexpired. In-flight reservations live in memory only.
CREATE TABLE idempotency_keys (
  owner       TEXT NOT NULL,
  key         TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  status      INTEGER NOT NULL,
  body        TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  PRIMARY KEY (owner, key)
) STRICT;
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
)sql";

// The legacy /ship API (legacy-api.md §11): a ship is a sandbox (same id) plus its legacy
// lifetime; sessions are the X-SESSION-IDs attached to it. Rows are deleted, not
// soft-deleted: a deleted ship leaves its (soft-deleted) sandbox behind as the record.
constexpr std::string_view kV4 = R"sql(
CREATE TABLE legacy_ships (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- creation order, breaks created_at ties
  id              TEXT NOT NULL UNIQUE REFERENCES sandboxes (id),
  status          INTEGER NOT NULL CHECK (status IN (0, 1)),
  ttl             INTEGER NOT NULL,
  max_session_num INTEGER NOT NULL CHECK (max_session_num >= 1),
  expires_at      INTEGER,
  cpus            REAL,
  memory          TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE legacy_sessions (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,  -- attachment order
  id            TEXT NOT NULL UNIQUE,  -- the client's X-SESSION-ID
  ship_id       TEXT NOT NULL REFERENCES legacy_ships (id),
  expires_at    INTEGER NOT NULL,
  initial_ttl   INTEGER NOT NULL,
  last_activity INTEGER NOT NULL,
  attached_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX legacy_sessions_by_ship ON legacy_sessions (ship_id);
)sql";

// History pages count every match (`total`, §5): with the owner in the indexes the count
// of a plain or type-filtered query reads the index alone instead of one table row per
// entry (100k entries: ~45 ms → a few ms). The owner comes last: the query keeps it out
// of the index search (`+owner`, sqlite_history.cpp) and only reads it.
constexpr std::string_view kV5 = R"sql(
DROP INDEX executions_by_sandbox;
DROP INDEX executions_by_sandbox_type;
CREATE INDEX executions_by_sandbox ON executions (sandbox_id, created_at DESC, seq DESC, owner);
CREATE INDEX executions_by_sandbox_type
  ON executions (sandbox_id, exec_type, created_at DESC, seq DESC, owner);
)sql";

constexpr std::array kMigrations{
    Migration{"sandboxes, cargos, sessions, executions, settings, uid_sequence", kV1},
    Migration{"skill payloads, candidates, evaluations, releases", kV2},
    Migration{"idempotency keys", kV3},
    Migration{"legacy ships and sessions", kV4},
    Migration{"history indexes cover the owner", kV5},
};

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

int latest_schema_version() { return static_cast<int>(kMigrations.size()); }

Result<int> schema_version(Connection& conn) {
  auto v = conn.prepare("PRAGMA user_version");
  if (!v) return std::move(v).error();
  auto row = v->step();
  if (!row) return std::move(row).error();
  if (!*row) {
    Error e(ErrorCode::kInternal, "database error");
    e.context = "PRAGMA user_version returned no row";
    return e;
  }
  return static_cast<int>(v->int64(0));
}

Status migrate(Connection& conn, std::span<const Migration> list) {
  const int known = static_cast<int>(list.size());
  for (;;) {
    // Read the version inside the write transaction: another process opening the same file
    // at the same moment must not apply a migration twice.
    auto tx = Transaction::begin(conn, /*write=*/true);
    if (!tx) return std::move(tx).error().with_context("migrating the schema");
    auto version = schema_version(conn);
    if (!version) return std::move(version).error().with_context("migrating the schema");
    if (*version > known) {
      Error e(ErrorCode::kInternal, "database schema is newer than this Bay");
      e.context = fmt::format(
          "the database has schema version {}, this build knows versions up to {}: "
          "upgrade Bay or use another data directory",
          *version, known);
      return e;
    }
    if (*version == known) return tx->commit();
    const Migration& m = list[static_cast<std::size_t>(*version)];
    const int next = *version + 1;
    auto what = fmt::format("applying schema migration {} ({})", next, m.description);
    if (auto s = conn.exec(std::string(m.sql)); !s) return std::move(s).error().with_context(what);
    // PRAGMA does not take bound parameters; `next` is an integer we computed.
    if (auto s = conn.exec(fmt::format("PRAGMA user_version = {}", next)); !s) {
      return std::move(s).error().with_context(what);
    }
    if (auto s = tx->commit(); !s) return std::move(s).error().with_context(what);
  }
}

}  // namespace shipyard::bay::sqlite
