// SqliteDb: execution history (bay-api-v1.md §11).
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <string>
#include <utility>

#include "bay/store/sqlite_db.hpp"
#include "bay/store/sqlite_rows.hpp"

namespace shipyard::bay::sqlite {

namespace {

#define EXECUTION_COLUMNS                                                                    \
  "id, owner, sandbox_id, session_id, exec_type, code, success, execution_time_ms, output, " \
  "error, payload_ref, description, tags, notes, learn_enabled, learn_status, learn_error, " \
  "learn_processed_at, created_at"

Execution read_execution(const Stmt& s) {
  Execution e;
  e.id = s.text(0);
  e.owner = s.text(1);
  e.sandbox_id = s.text(2);
  e.session_id = s.opt_text(3);
  e.exec_type = s.text(4);
  e.code = s.text(5);
  e.success = s.boolean(6);
  e.execution_time_ms = s.int64(7);
  e.output = s.opt_text(8);
  e.error = s.opt_text(9);
  e.payload_ref = s.opt_text(10);
  e.description = s.opt_text(11);
  e.tags = s.opt_text(12);
  e.notes = s.opt_text(13);
  e.learn_enabled = s.boolean(14);
  e.learn_status = s.opt_text(15);
  e.learn_error = s.opt_text(16);
  e.learn_processed_at = s.opt_time(17);
  e.created_at = s.time(18);
  return e;
}

// SQLite's lower() folds ASCII only (no ICU); the needles are folded the same way so that
// both sides of the comparison agree.
std::string ascii_lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// The WHERE clause of a history query. Only filters that are set appear, so every
// combination is its own (cached) statement and the planner sees plain equality terms it
// can serve from an index. Parameters: ?1 owner, ?2 sandbox, ?3 exec_type, ?4 the tag
// needles as a JSON array (one statement shape for any number of tags).
//
// `+owner` (SQLite's idiom for "do not use an index for this term") keeps the planner, which
// has no statistics, from picking executions_by_owner: the owner check is only a guard,
// the sandbox (unique across owners) is what narrows the rows and orders them.
std::string history_where(const HistoryQuery& q, bool with_tags) {
  std::string w = "+owner = ?1 AND sandbox_id = ?2";
  if (q.exec_type) w += " AND exec_type = ?3";
  if (q.success_only) w += " AND success = 1";
  // NULL != '' is NULL, so missing notes/descriptions never match.
  if (q.has_notes) w += " AND notes != ''";
  if (q.has_description) w += " AND description != ''";
  if (with_tags) {
    w += " AND EXISTS (SELECT 1 FROM json_each(?4) AS needle"
         " WHERE instr(lower(executions.tags), needle.value) > 0)";
  }
  return w;
}

void bind_history(Stmt& s, const HistoryQuery& q, const std::string& needles, bool with_tags) {
  s.bind(1, q.owner).bind(2, q.sandbox_id);
  if (q.exec_type) s.bind(3, *q.exec_type);
  if (with_tags) s.bind(4, needles);
}

}  // namespace

Status SqliteDb::insert_execution_row(const Execution& e) {
  auto s = conn_->prepare("INSERT INTO executions (" EXECUTION_COLUMNS
                          ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
                          " ?14, ?15, ?16, ?17, ?18, ?19)");
  if (!s) return std::move(s).error();
  s->bind(1, e.id)
      .bind(2, e.owner)
      .bind(3, e.sandbox_id)
      .bind(4, e.session_id)
      .bind(5, e.exec_type)
      .bind(6, e.code)
      .bind(7, e.success)
      .bind(8, e.execution_time_ms)
      .bind(9, e.output)
      .bind(10, e.error)
      .bind(11, e.payload_ref)
      .bind(12, e.description)
      .bind(13, e.tags)
      .bind(14, e.notes)
      .bind(15, e.learn_enabled)
      .bind(16, e.learn_status)
      .bind(17, e.learn_error)
      .bind(18, e.learn_processed_at)
      .bind(19, e.created_at);
  return s->run();
}

Status SqliteDb::insert_execution(const Execution& e) { return insert_execution_row(e); }

Status SqliteDb::insert_executions(const std::vector<Execution>& batch) {
  auto tx = Transaction::begin(*conn_, true);
  if (!tx) return std::move(tx).error();
  for (const auto& e : batch) {
    if (auto s = insert_execution_row(e); !s) return s;
  }
  return tx->commit();
}

Result<HistoryPage> SqliteDb::query_history(const HistoryQuery& q) {
  boost::json::array needles;
  for (const auto& t : q.tags) {
    // An empty needle would match every tagged entry; the API never sends one.
    if (!t.empty()) needles.emplace_back(ascii_lower(t));
  }
  const bool with_tags = !needles.empty();
  const std::string needles_json = with_tags ? boost::json::serialize(needles) : std::string();
  const std::string where = history_where(q, with_tags);

  // One read transaction: `total` and the page come from the same snapshot.
  auto tx = Transaction::begin(*conn_, false);
  if (!tx) return std::move(tx).error();
  HistoryPage page;
  {
    auto s = conn_->prepare("SELECT count(*) FROM executions WHERE " + where);
    if (!s) return std::move(s).error();
    bind_history(*s, q, needles_json, with_tags);
    auto row = s->step();
    if (!row) return std::move(row).error();
    page.total = *row ? s->int64(0) : 0;
  }
  if (q.limit > 0 && page.total > 0) {
    auto s = conn_->prepare("SELECT " EXECUTION_COLUMNS " FROM executions WHERE " + where +
                            " ORDER BY created_at DESC, seq DESC LIMIT ?5 OFFSET ?6");
    if (!s) return std::move(s).error();
    bind_history(*s, q, needles_json, with_tags);
    s->bind(5, q.limit).bind(6, std::max<std::int64_t>(q.offset, 0));
    auto rows = collect_rows<Execution>(*s, read_execution);
    if (!rows) return std::move(rows).error();
    page.entries = std::move(*rows);
  }
  if (auto c = tx->commit(); !c) return std::move(c).error();
  return page;
}

Result<std::optional<Execution>> SqliteDb::last_execution(
    const std::string& owner, const std::string& sandbox_id,
    const std::optional<std::string>& exec_type) {
  auto s = conn_->prepare(
      exec_type ? "SELECT " EXECUTION_COLUMNS
                  " FROM executions WHERE +owner = ?1 AND sandbox_id = ?2 AND exec_type = ?3"
                  " ORDER BY created_at DESC, seq DESC LIMIT 1"
                : "SELECT " EXECUTION_COLUMNS
                  " FROM executions WHERE +owner = ?1 AND sandbox_id = ?2"
                  " ORDER BY created_at DESC, seq DESC LIMIT 1");
  if (!s) return std::move(s).error();
  s->bind(1, owner).bind(2, sandbox_id);
  if (exec_type) s->bind(3, *exec_type);
  return first_row<Execution>(*s, read_execution);
}

Result<std::optional<Execution>> SqliteDb::find_execution(const std::string& owner,
                                                          const std::string& sandbox_id,
                                                          const std::string& execution_id) {
  auto s = conn_->prepare("SELECT " EXECUTION_COLUMNS
                          " FROM executions WHERE id = ?1 AND +owner = ?2 AND sandbox_id = ?3");
  if (!s) return std::move(s).error();
  s->bind(1, execution_id).bind(2, owner).bind(3, sandbox_id);
  return first_row<Execution>(*s, read_execution);
}

Result<std::optional<Execution>> SqliteDb::annotate_execution(const std::string& owner,
                                                              const std::string& sandbox_id,
                                                              const std::string& execution_id,
                                                              const Annotation& a) {
  // A NULL parameter keeps the column: only the provided fields change.
  auto s = conn_->prepare(
      "UPDATE executions SET description = coalesce(?4, description),"
      " tags = coalesce(?5, tags), notes = coalesce(?6, notes)"
      " WHERE id = ?1 AND +owner = ?2 AND sandbox_id = ?3 RETURNING " EXECUTION_COLUMNS);
  if (!s) return std::move(s).error();
  s->bind(1, execution_id)
      .bind(2, owner)
      .bind(3, sandbox_id)
      .bind(4, a.description)
      .bind(5, a.tags)
      .bind(6, a.notes);
  // With RETURNING, SQLite applies the whole UPDATE on the first step.
  return first_row<Execution>(*s, read_execution);
}

}  // namespace shipyard::bay::sqlite
