// SqliteStore: the skills lifecycle (bay-api-v1.md §12) — the blocking SQL over the store's
// connection (namespace sqlite::skills) and SqliteStore's SkillStore coroutines, which run
// it on the database thread.
#include "bay/store/sqlite_skills.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <utility>

#include "bay/store/sqlite_db.hpp"
#include "bay/store/sqlite_rows.hpp"
#include "bay/store/sqlite_store.hpp"

namespace shipyard::bay {

namespace sqlite::skills {

namespace {

namespace bjson = boost::json;

Error internal(std::string context) {
  Error e(ErrorCode::kInternal, "database error");
  e.context = std::move(context);
  return e;
}

// Stmt has no double binds; SQLite's own calls are used, failures reported like a bind.
Status bind_real(Connection& c, Stmt& s, int index, const std::optional<double>& v) {
  int rc = v ? sqlite3_bind_double(s.handle(), index, *v) : sqlite3_bind_null(s.handle(), index);
  if (rc != SQLITE_OK) return c.error(rc, fmt::format("binding parameter {}", index));
  return {};
}

std::optional<double> opt_real(const Stmt& s, int col) {
  if (s.is_null(col)) return std::nullopt;
  return sqlite3_column_double(s.handle(), col);
}

std::optional<bool> opt_bool(const Stmt& s, int col) {
  if (s.is_null(col)) return std::nullopt;
  return s.boolean(col);
}

void bind_opt_bool(Stmt& s, int index, const std::optional<bool>& b) {
  if (b) {
    s.bind(index, *b);
  } else {
    s.bind_null(index);
  }
}

// JSON columns were written by this code from parsed values, so they always parse; a damaged
// value reads as null rather than failing the whole listing.
bjson::value parse_json(const std::string& text) {
  boost::system::error_code ec;
  bjson::value v = bjson::parse(text, ec);
  if (ec) return nullptr;
  return v;
}

std::optional<bjson::object> opt_object(const Stmt& s, int col) {
  if (s.is_null(col)) return std::nullopt;
  bjson::value v = parse_json(s.text(col));
  if (!v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

std::optional<std::string> object_text(const std::optional<bjson::object>& o) {
  if (!o) return std::nullopt;
  return bjson::serialize(*o);
}

std::optional<Deletion> read_deletion(const Stmt& s, int col) {
  auto at = s.opt_time(col);
  if (!at) return std::nullopt;
  return Deletion{*at, s.opt_text(col + 1).value_or(""), s.opt_text(col + 2)};
}

void bind_deletion(Stmt& s, int first, const Deletion& d) {
  s.bind(first, d.at).bind(first + 1, d.by).bind(first + 2, d.reason);
}

// ---------------------------------------------------------------- row mapping

#define PAYLOAD_COLUMNS "id, owner, kind, payload, created_at"

SkillPayload read_payload(const Stmt& s) {
  SkillPayload p;
  p.id = s.text(0);
  p.owner = s.text(1);
  p.kind = s.text(2);
  p.payload = parse_json(s.text(3));
  p.created_at = s.time(4);
  return p;
}

#define CANDIDATE_COLUMNS                                                               \
  "id, owner, skill_key, scenario_key, payload_ref, skill_type, auto_release_eligible," \
  " auto_release_reason, summary, usage_notes, preconditions, postconditions,"          \
  " source_execution_ids, status, latest_score, latest_pass, last_evaluated_at,"        \
  " promotion_release_id, created_by, created_at, updated_at, deleted_at, deleted_by,"  \
  " delete_reason"

SkillCandidate read_candidate(const Stmt& s) {
  SkillCandidate c;
  c.id = s.text(0);
  c.owner = s.text(1);
  c.skill_key = s.text(2);
  c.scenario_key = s.opt_text(3);
  c.payload_ref = s.opt_text(4);
  c.skill_type = s.text(5);
  c.auto_release_eligible = s.boolean(6);
  c.auto_release_reason = s.opt_text(7);
  c.summary = s.opt_text(8);
  c.usage_notes = s.opt_text(9);
  c.preconditions = opt_object(s, 10);
  c.postconditions = opt_object(s, 11);
  bjson::value ids = parse_json(s.text(12));
  if (ids.is_array()) {
    for (const auto& id : ids.as_array()) {
      if (id.is_string()) c.source_execution_ids.emplace_back(id.as_string());
    }
  }
  c.status = s.text(13);
  c.latest_score = opt_real(s, 14);
  c.latest_pass = opt_bool(s, 15);
  c.last_evaluated_at = s.opt_time(16);
  c.promotion_release_id = s.opt_text(17);
  c.created_by = s.opt_text(18);
  c.created_at = s.time(19);
  c.updated_at = s.time(20);
  c.deleted = read_deletion(s, 21);
  return c;
}

#define RELEASE_COLUMNS                                                                       \
  "id, owner, skill_key, candidate_id, version, stage, is_active, release_mode, promoted_by," \
  " promoted_at, rollback_of, auto_promoted_from, health_window_end_at,"                      \
  " upgrade_of_release_id, upgrade_reason, change_summary, deleted_at, deleted_by,"           \
  " delete_reason"

SkillRelease read_release(const Stmt& s) {
  SkillRelease r;
  r.id = s.text(0);
  r.owner = s.text(1);
  r.skill_key = s.text(2);
  r.candidate_id = s.text(3);
  r.version = s.int64(4);
  r.stage = s.text(5);
  r.is_active = s.boolean(6);
  r.release_mode = s.text(7);
  r.promoted_by = s.opt_text(8);
  r.promoted_at = s.time(9);
  r.rollback_of = s.opt_text(10);
  r.auto_promoted_from = s.opt_text(11);
  r.health_window_end_at = s.opt_time(12);
  r.upgrade_of_release_id = s.opt_text(13);
  r.upgrade_reason = s.opt_text(14);
  r.change_summary = s.opt_text(15);
  r.deleted = read_deletion(s, 16);
  return r;
}

Status insert_release_row(Connection& c, const SkillRelease& r) {
  auto s = c.prepare("INSERT INTO skill_releases (" RELEASE_COLUMNS
                     ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
                     " ?15, ?16, ?17, ?18, ?19)");
  if (!s) return std::move(s).error();
  s->bind(1, r.id)
      .bind(2, r.owner)
      .bind(3, r.skill_key)
      .bind(4, r.candidate_id)
      .bind(5, r.version)
      .bind(6, r.stage)
      .bind(7, r.is_active)
      .bind(8, r.release_mode)
      .bind(9, r.promoted_by)
      .bind(10, r.promoted_at)
      .bind(11, r.rollback_of)
      .bind(12, r.auto_promoted_from)
      .bind(13, r.health_window_end_at)
      .bind(14, r.upgrade_of_release_id)
      .bind(15, r.upgrade_reason)
      .bind(16, r.change_summary);
  if (r.deleted) {
    bind_deletion(*s, 17, *r.deleted);
  } else {
    s->bind_null(17).bind_null(18).bind_null(19);
  }
  return s->run();
}

// Reads one page of a filtered listing and its total from the same snapshot. `where` only
// contains the filters that are set (each shape its own cached statement, plain terms the
// planner can serve from the partial indexes); `bind` binds its parameters.
template <typename T, typename Bind, typename Read>
Result<std::pair<std::vector<T>, std::int64_t>> page(Connection& c, const std::string& columns,
                                                     const std::string& table,
                                                     const std::string& where,
                                                     const std::string& order, std::int64_t limit,
                                                     std::int64_t offset, Bind bind, Read read) {
  auto tx = Transaction::begin(c, false);
  if (!tx) return std::move(tx).error();
  std::pair<std::vector<T>, std::int64_t> out;
  {
    auto s = c.prepare("SELECT count(*) FROM " + table + " WHERE " + where);
    if (!s) return std::move(s).error();
    bind(*s);
    auto row = s->step();
    if (!row) return std::move(row).error();
    out.second = *row ? s->int64(0) : 0;
  }
  if (limit > 0 && out.second > 0) {
    auto s = c.prepare("SELECT " + columns + " FROM " + table + " WHERE " + where + " ORDER BY " +
                       order + " LIMIT ?8 OFFSET ?9");
    if (!s) return std::move(s).error();
    bind(*s);
    s->bind(8, limit).bind(9, std::max<std::int64_t>(offset, 0));
    auto rows = collect_rows<T>(*s, read);
    if (!rows) return std::move(rows).error();
    out.first = std::move(*rows);
  }
  if (auto cm = tx->commit(); !cm) return std::move(cm).error();
  return out;
}

}  // namespace

// ---------------------------------------------------------------- payloads

Status insert_payload(Connection& c, const SkillPayload& p) {
  auto s =
      c.prepare("INSERT INTO skill_payloads (" PAYLOAD_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!s) return std::move(s).error();
  s->bind(1, p.id)
      .bind(2, p.owner)
      .bind(3, p.kind)
      .bind(4, bjson::serialize(p.payload))
      .bind(5, p.created_at);
  return s->run();
}

Result<std::optional<SkillPayload>> find_payload(Connection& c, const std::string& owner,
                                                 const std::string& id) {
  auto s = c.prepare("SELECT " PAYLOAD_COLUMNS " FROM skill_payloads WHERE id = ?1 AND owner = ?2");
  if (!s) return std::move(s).error();
  s->bind(1, id).bind(2, owner);
  return first_row<SkillPayload>(*s, read_payload);
}

// ---------------------------------------------------------------- candidates

Result<std::vector<std::string>> missing_executions(Connection& c, const std::string& owner,
                                                    const std::vector<std::string>& ids) {
  auto tx = Transaction::begin(c, false);
  if (!tx) return std::move(tx).error();
  std::vector<std::string> missing;
  for (const auto& id : ids) {
    auto s = c.prepare("SELECT 1 FROM executions WHERE id = ?1 AND +owner = ?2");
    if (!s) return std::move(s).error();
    s->bind(1, id).bind(2, owner);
    auto row = s->step();
    if (!row) return std::move(row).error();
    if (!*row) missing.push_back(id);
  }
  if (auto cm = tx->commit(); !cm) return std::move(cm).error();
  return missing;
}

Status insert_candidate(Connection& c, const SkillCandidate& k) {
  bjson::array ids;
  for (const auto& id : k.source_execution_ids) ids.emplace_back(id);
  auto s = c.prepare("INSERT INTO skill_candidates (" CANDIDATE_COLUMNS
                     ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
                     " ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)");
  if (!s) return std::move(s).error();
  s->bind(1, k.id)
      .bind(2, k.owner)
      .bind(3, k.skill_key)
      .bind(4, k.scenario_key)
      .bind(5, k.payload_ref)
      .bind(6, k.skill_type)
      .bind(7, k.auto_release_eligible)
      .bind(8, k.auto_release_reason)
      .bind(9, k.summary)
      .bind(10, k.usage_notes)
      .bind(11, object_text(k.preconditions))
      .bind(12, object_text(k.postconditions))
      .bind(13, bjson::serialize(ids))
      .bind(14, k.status);
  if (auto b = bind_real(c, *s, 15, k.latest_score); !b) return b;
  bind_opt_bool(*s, 16, k.latest_pass);
  s->bind(17, k.last_evaluated_at)
      .bind(18, k.promotion_release_id)
      .bind(19, k.created_by)
      .bind(20, k.created_at)
      .bind(21, k.updated_at);
  if (k.deleted) {
    bind_deletion(*s, 22, *k.deleted);
  } else {
    s->bind_null(22).bind_null(23).bind_null(24);
  }
  return s->run();
}

Result<std::optional<SkillCandidate>> find_candidate(Connection& c, const std::string& owner,
                                                     const std::string& id) {
  auto s = c.prepare("SELECT " CANDIDATE_COLUMNS
                     " FROM skill_candidates WHERE id = ?1 AND owner = ?2"
                     " AND deleted_at IS NULL");
  if (!s) return std::move(s).error();
  s->bind(1, id).bind(2, owner);
  return first_row<SkillCandidate>(*s, read_candidate);
}

Result<CandidatePage> list_candidates(Connection& c, const CandidateQuery& q) {
  std::string where = "owner = ?1 AND deleted_at IS NULL";
  if (q.skill_key) where += " AND skill_key = ?3";
  if (q.status) where += " AND status = ?2";
  auto bind = [&q](Stmt& s) {
    s.bind(1, q.owner);
    if (q.status) s.bind(2, *q.status);
    if (q.skill_key) s.bind(3, *q.skill_key);
  };
  auto r =
      page<SkillCandidate>(c, CANDIDATE_COLUMNS, "skill_candidates", where,
                           "created_at DESC, seq DESC", q.limit, q.offset, bind, read_candidate);
  if (!r) return std::move(r).error();
  return CandidatePage{std::move(r->first), r->second};
}

Result<std::optional<SkillCandidate>> record_evaluation(Connection& c, const SkillEvaluation& e,
                                                        const std::string& status) {
  auto tx = Transaction::begin(c, true);
  if (!tx) return std::move(tx).error();
  std::optional<SkillCandidate> updated;
  {
    auto s = c.prepare(
        "UPDATE skill_candidates SET latest_score = ?3, latest_pass = ?4,"
        " last_evaluated_at = ?5, updated_at = ?5, status = ?6"
        " WHERE id = ?1 AND owner = ?2 AND deleted_at IS NULL RETURNING " CANDIDATE_COLUMNS);
    if (!s) return std::move(s).error();
    s->bind(1, e.candidate_id).bind(2, e.owner);
    if (auto b = bind_real(c, *s, 3, e.score); !b) return std::move(b).error();
    s->bind(4, e.passed).bind(5, e.created_at).bind(6, status);
    auto row = first_row<SkillCandidate>(*s, read_candidate);
    if (!row) return std::move(row).error();
    updated = std::move(*row);
  }
  if (!updated) return updated;  // the transaction rolls back: nothing was written
  {
    auto s = c.prepare(
        "INSERT INTO skill_evaluations (id, owner, candidate_id, benchmark_id, score, passed,"
        " report, evaluated_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    if (!s) return std::move(s).error();
    s->bind(1, e.id).bind(2, e.owner).bind(3, e.candidate_id).bind(4, e.benchmark_id);
    if (auto b = bind_real(c, *s, 5, e.score); !b) return std::move(b).error();
    s->bind(6, e.passed).bind(7, e.report).bind(8, e.evaluated_by).bind(9, e.created_at);
    if (auto r = s->run(); !r) return std::move(r).error();
  }
  if (auto cm = tx->commit(); !cm) return std::move(cm).error();
  return updated;
}

Result<CandidateDeletion> delete_candidate(Connection& c, const std::string& owner,
                                           const std::string& id, const Deletion& d) {
  auto tx = Transaction::begin(c, true);
  if (!tx) return std::move(tx).error();
  CandidateDeletion out;
  {
    auto found = find_candidate(c, owner, id);
    if (!found) return std::move(found).error();
    if (!*found) return out;
  }
  {
    auto s = c.prepare(
        "SELECT id FROM skill_releases WHERE candidate_id = ?1 AND is_active = 1"
        " AND deleted_at IS NULL ORDER BY version");
    if (!s) return std::move(s).error();
    s->bind(1, id);
    auto ids = collect_rows<std::string>(*s, [](const Stmt& st) { return st.text(0); });
    if (!ids) return std::move(ids).error();
    out.active_release_ids = std::move(*ids);
  }
  if (!out.active_release_ids.empty()) return out;
  {
    auto s = c.prepare(
        "UPDATE skill_candidates SET deleted_at = ?3, deleted_by = ?4, delete_reason = ?5,"
        " updated_at = ?3 WHERE id = ?1 AND owner = ?2 AND deleted_at IS NULL"
        " RETURNING " CANDIDATE_COLUMNS);
    if (!s) return std::move(s).error();
    s->bind(1, id).bind(2, owner);
    bind_deletion(*s, 3, d);
    auto row = first_row<SkillCandidate>(*s, read_candidate);
    if (!row) return std::move(row).error();
    out.candidate = std::move(*row);
  }
  if (auto cm = tx->commit(); !cm) return std::move(cm).error();
  return out;
}

// ---------------------------------------------------------------- releases

Result<std::optional<SkillRelease>> find_release(Connection& c, const std::string& owner,
                                                 const std::string& id) {
  auto s = c.prepare("SELECT " RELEASE_COLUMNS
                     " FROM skill_releases WHERE id = ?1 AND owner = ?2 AND deleted_at IS NULL");
  if (!s) return std::move(s).error();
  s->bind(1, id).bind(2, owner);
  return first_row<SkillRelease>(*s, read_release);
}

Result<ReleasePage> list_releases(Connection& c, const ReleaseQuery& q) {
  std::string where = "owner = ?1 AND deleted_at IS NULL";
  if (q.skill_key) where += " AND skill_key = ?2";
  if (q.active_only) where += " AND is_active = 1";
  if (q.stage) where += " AND stage = ?3";
  auto bind = [&q](Stmt& s) {
    s.bind(1, q.owner);
    if (q.skill_key) s.bind(2, *q.skill_key);
    if (q.stage) s.bind(3, *q.stage);
  };
  auto r = page<SkillRelease>(c, RELEASE_COLUMNS, "skill_releases", where,
                              "promoted_at DESC, seq DESC", q.limit, q.offset, bind, read_release);
  if (!r) return std::move(r).error();
  return ReleasePage{std::move(r->first), r->second};
}

Result<std::optional<SkillRelease>> previous_release(Connection& c, const std::string& owner,
                                                     const std::string& skill_key,
                                                     std::int64_t below) {
  auto s = c.prepare("SELECT " RELEASE_COLUMNS
                     " FROM skill_releases WHERE owner = ?1 AND skill_key = ?2 AND version < ?3"
                     " AND deleted_at IS NULL ORDER BY version DESC LIMIT 1");
  if (!s) return std::move(s).error();
  s->bind(1, owner).bind(2, skill_key).bind(3, below);
  return first_row<SkillRelease>(*s, read_release);
}

Result<SkillRelease> apply_skill_plan(Connection& c, const std::string& owner,
                                      const std::string& skill_key,
                                      const std::optional<std::string>& candidate_id,
                                      const SkillPlanner& planner) {
  // BEGIN IMMEDIATE: the snapshot and the writes are one atomic step, also against another
  // process using the same database file.
  auto tx = Transaction::begin(c, true);
  if (!tx) return std::move(tx).error();
  SkillKeySnapshot snap;
  snap.owner = owner;
  snap.skill_key = skill_key;
  {
    auto s = c.prepare("SELECT " RELEASE_COLUMNS
                       " FROM skill_releases WHERE owner = ?1 AND skill_key = ?2"
                       " ORDER BY version");
    if (!s) return std::move(s).error();
    s->bind(1, owner).bind(2, skill_key);
    auto rows = collect_rows<SkillRelease>(*s, read_release);
    if (!rows) return std::move(rows).error();
    snap.releases = std::move(*rows);
  }
  if (candidate_id) {
    auto s = c.prepare("SELECT " CANDIDATE_COLUMNS
                       " FROM skill_candidates WHERE id = ?1 AND owner = ?2");
    if (!s) return std::move(s).error();
    s->bind(1, *candidate_id).bind(2, owner);
    auto row = first_row<SkillCandidate>(*s, read_candidate);
    if (!row) return std::move(row).error();
    snap.candidate = std::move(*row);
  }
  auto plan = planner(snap);
  if (!plan) return std::move(plan).error();
  SkillRelease& rel = plan->release;
  if (rel.owner != owner || rel.skill_key != skill_key) {
    return internal(fmt::format("skill plan for {}/{} inserts a release of {}/{}", owner, skill_key,
                                rel.owner, rel.skill_key));
  }
  rel.is_active = true;
  {
    // Before the insert: the partial unique index admits one active release per key.
    auto s = c.prepare(
        "UPDATE skill_releases SET is_active = 0"
        " WHERE owner = ?1 AND skill_key = ?2 AND is_active = 1");
    if (!s) return std::move(s).error();
    s->bind(1, owner).bind(2, skill_key);
    if (auto r = s->run(); !r) return std::move(r).error();
  }
  if (auto s = insert_release_row(c, rel); !s) return std::move(s).error();
  for (const auto& u : plan->candidate_updates) {
    auto s = c.prepare(
        "UPDATE skill_candidates SET status = ?3,"
        " promotion_release_id = coalesce(?4, promotion_release_id), updated_at = ?5"
        " WHERE id = ?1 AND owner = ?2 AND deleted_at IS NULL");
    if (!s) return std::move(s).error();
    s->bind(1, u.candidate_id)
        .bind(2, owner)
        .bind(3, u.status)
        .bind(4, u.promotion_release_id)
        .bind(5, rel.promoted_at);
    if (auto r = s->run(); !r) return std::move(r).error();
  }
  if (auto cm = tx->commit(); !cm) return std::move(cm).error();
  return std::move(rel);
}

Result<std::optional<SkillRelease>> delete_release(Connection& c, const std::string& owner,
                                                   const std::string& id, const Deletion& d) {
  auto tx = Transaction::begin(c, true);
  if (!tx) return std::move(tx).error();
  std::optional<SkillRelease> deleted;
  {
    auto s = c.prepare(
        "UPDATE skill_releases SET is_active = 0, deleted_at = ?3, deleted_by = ?4,"
        " delete_reason = ?5 WHERE id = ?1 AND owner = ?2 AND deleted_at IS NULL"
        " RETURNING " RELEASE_COLUMNS);
    if (!s) return std::move(s).error();
    s->bind(1, id).bind(2, owner);
    bind_deletion(*s, 3, d);
    auto row = first_row<SkillRelease>(*s, read_release);
    if (!row) return std::move(row).error();
    deleted = std::move(*row);
  }
  if (!deleted) return deleted;
  {
    auto s = c.prepare(
        "UPDATE skill_candidates SET promotion_release_id = NULL, updated_at = ?3"
        " WHERE promotion_release_id = ?1 AND owner = ?2");
    if (!s) return std::move(s).error();
    s->bind(1, id).bind(2, owner).bind(3, d.at);
    if (auto r = s->run(); !r) return std::move(r).error();
  }
  if (auto cm = tx->commit(); !cm) return std::move(cm).error();
  return deleted;
}

Result<std::vector<ExecutionSample>> release_samples(Connection& c, const std::string& owner,
                                                     const std::string& release_id, TimePoint from,
                                                     TimePoint to) {
  // Stored tags are normalised and comma-joined, so framing both sides with commas matches
  // exactly one whole tag ("release:sr-1" never matches "release:sr-10" or "xrelease:sr-1").
  auto s = c.prepare(
      "SELECT success, execution_time_ms FROM executions"
      " WHERE owner = ?1 AND created_at >= ?2 AND created_at <= ?3"
      " AND instr(',' || tags || ',', ?4) > 0");
  if (!s) return std::move(s).error();
  s->bind(1, owner).bind(2, from).bind(3, to).bind(4, ",release:" + release_id + ",");
  return collect_rows<ExecutionSample>(*s, [](const Stmt& st) {
    return ExecutionSample{st.boolean(0), st.int64(1)};
  });
}

}  // namespace sqlite::skills

// ---------------------------------------------------------------- SqliteStore

namespace {

namespace asio = boost::asio;
using sqlite::Connection;

// As in sqlite_store.cpp: a coroutine *function* (GCC 12 corrupts moved lambda captures),
// the result wrapped in std::optional for co_spawn's default construction.
template <typename R, typename... Params, typename... Args>
asio::awaitable<std::optional<R>> run_skill_op(Connection* conn, R (*fn)(Connection&, Params...),
                                               Args... args) {
  co_return std::optional<R>(fn(*conn, args...));
}

template <typename R, typename... Params, typename... Args>
asio::awaitable<R> on_skill_db(asio::any_io_executor db_thread, Connection* conn,
                               R (*fn)(Connection&, Params...), Args... args) {
  auto op = run_skill_op<R>(conn, fn, std::move(args)...);
  std::optional<R> r = co_await asio::co_spawn(db_thread, std::move(op), asio::use_awaitable);
  co_return std::move(*r);
}

}  // namespace

// Operations are built as named locals before being awaited (GCC 12, helper brief).
#define SHIPYARD_ON_SKILL_DB(fn, ...)                                                      \
  auto op = on_skill_db(asio::any_io_executor(thread_.get_executor()), &db_->connection(), \
                        &sqlite::skills::fn __VA_OPT__(, ) __VA_ARGS__);                   \
  co_return co_await std::move(op)

#define SHIPYARD_COUNT_SKILL_WRITE() \
  if (auto injected = count_write()) co_return std::move(*injected)

Async<void> SqliteStore::insert_skill_payload(SkillPayload payload) {
  SHIPYARD_COUNT_SKILL_WRITE();
  SHIPYARD_ON_SKILL_DB(insert_payload, std::move(payload));
}

Async<std::optional<SkillPayload>> SqliteStore::find_skill_payload(std::string owner,
                                                                   std::string id) {
  SHIPYARD_ON_SKILL_DB(find_payload, std::move(owner), std::move(id));
}

Async<std::vector<std::string>> SqliteStore::missing_executions(std::string owner,
                                                                std::vector<std::string> ids) {
  SHIPYARD_ON_SKILL_DB(missing_executions, std::move(owner), std::move(ids));
}

Async<void> SqliteStore::insert_candidate(SkillCandidate candidate) {
  SHIPYARD_COUNT_SKILL_WRITE();
  SHIPYARD_ON_SKILL_DB(insert_candidate, std::move(candidate));
}

Async<std::optional<SkillCandidate>> SqliteStore::find_candidate(std::string owner,
                                                                 std::string id) {
  SHIPYARD_ON_SKILL_DB(find_candidate, std::move(owner), std::move(id));
}

Async<CandidatePage> SqliteStore::list_candidates(CandidateQuery query) {
  SHIPYARD_ON_SKILL_DB(list_candidates, std::move(query));
}

Async<std::optional<SkillCandidate>> SqliteStore::record_evaluation(SkillEvaluation evaluation,
                                                                    std::string status) {
  SHIPYARD_COUNT_SKILL_WRITE();
  SHIPYARD_ON_SKILL_DB(record_evaluation, std::move(evaluation), std::move(status));
}

Async<CandidateDeletion> SqliteStore::delete_candidate(std::string owner, std::string id,
                                                       Deletion deletion) {
  SHIPYARD_COUNT_SKILL_WRITE();
  SHIPYARD_ON_SKILL_DB(delete_candidate, std::move(owner), std::move(id), std::move(deletion));
}

Async<std::optional<SkillRelease>> SqliteStore::find_release(std::string owner, std::string id) {
  SHIPYARD_ON_SKILL_DB(find_release, std::move(owner), std::move(id));
}

Async<ReleasePage> SqliteStore::list_releases(ReleaseQuery query) {
  SHIPYARD_ON_SKILL_DB(list_releases, std::move(query));
}

Async<std::optional<SkillRelease>> SqliteStore::previous_release(std::string owner,
                                                                 std::string skill_key,
                                                                 std::int64_t below) {
  SHIPYARD_ON_SKILL_DB(previous_release, std::move(owner), std::move(skill_key), below);
}

Async<SkillRelease> SqliteStore::apply_skill_plan(std::string owner, std::string skill_key,
                                                  std::optional<std::string> candidate_id,
                                                  SkillPlanner planner) {
  SHIPYARD_COUNT_SKILL_WRITE();
  SHIPYARD_ON_SKILL_DB(apply_skill_plan, std::move(owner), std::move(skill_key),
                       std::move(candidate_id), std::move(planner));
}

Async<std::optional<SkillRelease>> SqliteStore::delete_release(std::string owner, std::string id,
                                                               Deletion deletion) {
  SHIPYARD_COUNT_SKILL_WRITE();
  SHIPYARD_ON_SKILL_DB(delete_release, std::move(owner), std::move(id), std::move(deletion));
}

Async<std::vector<ExecutionSample>> SqliteStore::release_samples(std::string owner,
                                                                 std::string release_id,
                                                                 TimePoint from, TimePoint to) {
  SHIPYARD_ON_SKILL_DB(release_samples, std::move(owner), std::move(release_id), from, to);
}

}  // namespace shipyard::bay
