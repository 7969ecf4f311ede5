// SqliteStore: schema migrations, version checks, pragmas and query plans.
#include "bay/store/sqlite_schema.hpp"

#include <sqlite3.h>

#include <fstream>
#include <set>

#include "bay/store/sqlite_db.hpp"
#include "store_test_support.hpp"

namespace shipyard::bay::testing {
namespace {

// A raw connection for inspecting or tampering with a database file behind the store.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  // Every row of `sql` as "col|col|...".
  std::vector<std::string> rows(const std::string& sql) {
    std::vector<std::string> out;
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_);
    while (st != nullptr && sqlite3_step(st) == SQLITE_ROW) {
      std::string row;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        if (i > 0) row += "|";
        const auto* t = sqlite3_column_text(st, i);
        row += t != nullptr ? reinterpret_cast<const char*>(t) : "NULL";
      }
      out.push_back(row);
    }
    sqlite3_finalize(st);
    return out;
  }
  std::string one(const std::string& sql) {
    auto r = rows(sql);
    return r.empty() ? std::string() : r.front();
  }
  void exec(const std::string& sql) {
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_);
  }

 private:
  sqlite3* db_ = nullptr;
};

class SchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bay-schema-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/bay.db";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Result<std::unique_ptr<SqliteStore>> open() {
    return SqliteStore::open(path_, io.get_executor());
  }

  boost::asio::io_context io;
  std::string dir_;
  std::string path_;
};

// A fresh file gets every migration, WAL journaling and all tables and indexes.
TEST_F(SchemaTest, FreshDatabaseIsMigrated) {
  ASSERT_GE(SqliteStore::schema_version(), 1);
  {
    auto s = open();
    ASSERT_TRUE(s.ok()) << s.error().context;
  }
  RawDb raw(path_);
  EXPECT_EQ(raw.one("PRAGMA user_version"), std::to_string(SqliteStore::schema_version()));
  EXPECT_EQ(raw.one("PRAGMA journal_mode"), "wal");  // persistent in the file
  auto tables = raw.rows("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name");
  for (const char* t :
       {"cargos", "executions", "sandboxes", "sessions", "settings", "uid_sequence"}) {
    EXPECT_NE(std::find(tables.begin(), tables.end(), t), tables.end()) << t;
  }
  auto indexes = raw.rows("SELECT name FROM sqlite_schema WHERE type = 'index'");
  for (const char* i : {"sandboxes_live_by_owner", "cargos_live_by_owner", "executions_by_sandbox",
                        "executions_by_owner", "sessions_by_sandbox"}) {
    EXPECT_NE(std::find(indexes.begin(), indexes.end(), i), indexes.end()) << i;
  }
}

// Reopening a current database changes neither the schema nor the data.
TEST_F(SchemaTest, ReopenIsNoOp) {
  {
    auto s = open();
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(run(io, (*s)->put_setting("k", "v")).ok());
  }
  std::vector<std::string> before;
  {
    RawDb raw(path_);
    before = raw.rows("SELECT type, name, sql FROM sqlite_schema ORDER BY name");
  }
  {
    auto s = open();
    ASSERT_TRUE(s.ok()) << s.error().context;
    EXPECT_EQ(*run(io, (*s)->get_setting("k")), "v");
  }
  RawDb raw(path_);
  EXPECT_EQ(raw.rows("SELECT type, name, sql FROM sqlite_schema ORDER BY name"), before);
  EXPECT_EQ(raw.one("PRAGMA user_version"), std::to_string(SqliteStore::schema_version()));
}

// A database written by a newer Bay is refused with a clear error, and left untouched.
TEST_F(SchemaTest, FutureVersionIsRefused) {
  { ASSERT_TRUE(open().ok()); }
  const int future = SqliteStore::schema_version() + 1;
  {
    RawDb raw(path_);
    raw.exec("PRAGMA user_version = " + std::to_string(future));
  }
  auto s = open();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInternal);
  EXPECT_EQ(s.error().message, "database schema is newer than this Bay");
  EXPECT_NE(s.error().context.find("version " + std::to_string(future)), std::string::npos)
      << s.error().context;
  RawDb raw(path_);
  EXPECT_EQ(raw.one("PRAGMA user_version"), std::to_string(future));
}

// A file that is not a database is an error, not a crash or a silent overwrite.
TEST_F(SchemaTest, NotADatabaseIsRefused) {
  {
    std::ofstream f(path_);
    f << std::string(8192, 'x');
  }
  auto s = open();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInternal);
  EXPECT_NE(s.error().context.find("not a database"), std::string::npos) << s.error().context;
}

// Migrations run in order, each in its own transaction: a failing step rolls back entirely
// and leaves the version at the last good step; a later run resumes from there.
TEST_F(SchemaTest, MigrationsAreOrderedAndTransactional) {
  auto conn = sqlite::Connection::open(":memory:");
  ASSERT_TRUE(conn.ok());
  sqlite::Connection& c = **conn;
  const sqlite::Migration good[] = {
      {"one", "CREATE TABLE t1 (x INTEGER) STRICT; INSERT INTO t1 VALUES (1);"},
      {"two", "CREATE TABLE t2 (x INTEGER) STRICT; INSERT INTO t2 SELECT x + 1 FROM t1;"},
      {"three", "CREATE TABLE t3 (x INTEGER) STRICT; INSERT INTO t3 SELECT x + 1 FROM t2;"},
  };
  const sqlite::Migration broken[] = {
      good[0],
      good[1],
      {"three", "CREATE TABLE t3 (x INTEGER) STRICT; INSERT INTO no_such_table VALUES (1);"},
  };
  auto s = sqlite::migrate(c, broken);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().context.find("migration 3"), std::string::npos) << s.error().context;
  EXPECT_EQ(*sqlite::schema_version(c), 2);
  EXPECT_EQ(*c.query_text("SELECT count(*) FROM sqlite_schema WHERE name = 't3'"), "0");

  ASSERT_TRUE(sqlite::migrate(c, good).ok());
  EXPECT_EQ(*sqlite::schema_version(c), 3);
  EXPECT_EQ(*c.query_text("SELECT x FROM t3"), "3");
  ASSERT_TRUE(sqlite::migrate(c, good).ok());  // nothing left to do
  EXPECT_EQ(*c.query_text("SELECT count(*) FROM t3"), "1");

  auto older = sqlite::migrate(c, std::span(good, 2));
  ASSERT_FALSE(older.ok());
  EXPECT_EQ(older.error().message, "database schema is newer than this Bay");
}

// Every statement the store prepares is served by an index: no full scan of a table
// (scanning a partial index of live rows, or json_each's needles, is fine).
TEST_F(SchemaTest, StatementsUseIndexes) {
  auto db = sqlite::SqliteDb::open(":memory:");
  ASSERT_TRUE(db.ok());
  auto& d = **db;
  // Exercise every operation so that all statement shapes get prepared.
  Sandbox sb = make_sandbox("sandbox-000000000001", "alice", "ws-000000000001", at(1));
  ASSERT_TRUE(d.create_sandbox(sb, make_cargo("ws-000000000001", "alice", at(1), sb.id)).ok());
  ASSERT_TRUE(d.create_cargo(make_cargo("ws-000000000002", "alice", at(2))).ok());
  (void)d.find_sandbox(sb.id);
  (void)d.list_sandboxes("alice", std::nullopt, 10);
  (void)d.list_sandboxes("alice", ListCursor{at(0), "x"}, 10);
  (void)d.list_live_sandboxes();
  (void)d.count_live_sandboxes("alice");
  (void)d.set_sandbox_expiry(sb.id, at(9));
  (void)d.find_cargo("ws-000000000002");
  (void)d.list_cargos("alice", false, std::nullopt, 10);
  (void)d.list_cargos("alice", true, ListCursor{at(0), "x"}, 10);
  (void)d.cargo_users("ws-000000000002");
  (void)d.touch_cargo("ws-000000000002", at(3));
  (void)d.list_orphan_cargos();
  (void)d.allocate_uid(1000);
  SessionRecord sess;
  sess.id = "sess-000000000001";
  sess.sandbox_id = sb.id;
  ASSERT_TRUE(d.save_session(sess).ok());
  (void)d.active_session(sb.id);
  (void)d.list_active_sessions();
  (void)d.set_session_idle_expiry(sess.id, at(5));
  (void)d.end_session(sess.id);
  ASSERT_TRUE(d.insert_execution(make_exec("exec-000000000001", sb.id, at(4))).ok());
  HistoryQuery q;
  q.owner = "alice";
  q.sandbox_id = sb.id;
  (void)d.query_history(q);
  q.exec_type = "python";
  (void)d.query_history(q);
  q.success_only = q.has_notes = q.has_description = true;
  q.tags = {"a"};
  (void)d.query_history(q);
  (void)d.last_execution("alice", sb.id, std::nullopt);
  (void)d.last_execution("alice", sb.id, "python");
  (void)d.find_execution("alice", sb.id, "exec-000000000001");
  Annotation a;
  a.notes = "n";
  (void)d.annotate_execution("alice", sb.id, "exec-000000000001", a);
  (void)d.get_setting("k");
  (void)d.put_setting("k", "v");
  ASSERT_TRUE(d.delete_sandbox(sb.id, at(10)).ok());
  (void)d.delete_cargo("ws-000000000002", at(11));

  const std::set<std::string> tables = {"sandboxes",  "cargos",   "sessions",
                                        "executions", "settings", "uid_sequence"};
  auto statements = d.connection().cached_statements();
  EXPECT_GE(statements.size(), 30U);
  int plain_counts = 0;
  for (const auto& sql : statements) {
    if (sql.rfind("SELECT", 0) != 0 && sql.rfind("UPDATE", 0) != 0) continue;
    auto plan = d.connection().prepare("EXPLAIN QUERY PLAN " + sql);
    ASSERT_TRUE(plan.ok()) << sql;
    std::string all;
    for (;;) {
      auto row = plan->step();
      ASSERT_TRUE(row.ok());
      if (!*row) break;
      std::string detail = plan->text(3);
      all += detail + "\n";
      for (const auto& t : tables) {
        bool full_scan =
            detail.rfind("SCAN " + t, 0) == 0 && detail.find("INDEX") == std::string::npos;
        EXPECT_FALSE(full_scan) << sql << "\n" << detail;
      }
    }
    // History listings and counts must come from the per-sandbox indexes.
    if (sql.find("FROM executions") != std::string::npos &&
        (sql.find("ORDER BY") != std::string::npos || sql.find("count(*)") != std::string::npos)) {
      EXPECT_NE(all.find("executions_by_sandbox"), std::string::npos) << sql << "\n" << all;
    }
    // The `total` of a plain or type-filtered page is counted in the index alone (no
    // table row per entry: 100k entries took ~45 ms).
    if (sql.find("SELECT count(*) FROM executions") == 0 &&
        sql.find("success") == std::string::npos && sql.find("json_each") == std::string::npos) {
      ++plain_counts;
      EXPECT_NE(all.find("USING COVERING INDEX executions_by_sandbox"), std::string::npos)
          << sql << "\n"
          << all;
    }
  }
  EXPECT_EQ(plain_counts, 2);  // without filters and with exec_type
}

}  // namespace
}  // namespace shipyard::bay::testing
