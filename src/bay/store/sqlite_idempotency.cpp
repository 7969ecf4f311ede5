// Idempotency records (bay-api-v1.md §7) in SQLite.
#include "bay/store/sqlite_db.hpp"
#include "bay/store/sqlite_rows.hpp"

namespace shipyard::bay::sqlite {

Result<std::optional<IdempotencyRecord>> SqliteDb::find_idempotency(const std::string& owner,
                                                                    const std::string& key) {
  auto s = conn_->prepare(
      "SELECT owner, key, fingerprint, status, body, created_at, expires_at"
      " FROM idempotency_keys WHERE owner = ?1 AND key = ?2");
  if (!s) return std::move(s).error();
  s->bind(1, owner).bind(2, key);
  return first_row<IdempotencyRecord>(*s, [](const Stmt& st) {
    IdempotencyRecord r;
    r.owner = st.text(0);
    r.key = st.text(1);
    r.fingerprint = st.text(2);
    r.status = static_cast<int>(st.int64(3));
    r.body = st.text(4);
    r.created_at = st.time(5);
    r.expires_at = st.time(6);
    return r;
  });
}

Status SqliteDb::save_idempotency(const IdempotencyRecord& r) {
  auto s = conn_->prepare(
      "INSERT INTO idempotency_keys (owner, key, fingerprint, status, body, created_at, expires_at)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
      " ON CONFLICT (owner, key) DO UPDATE SET fingerprint = excluded.fingerprint,"
      " status = excluded.status, body = excluded.body, created_at = excluded.created_at,"
      " expires_at = excluded.expires_at");
  if (!s) return std::move(s).error();
  s->bind(1, r.owner)
      .bind(2, r.key)
      .bind(3, r.fingerprint)
      .bind(4, std::int64_t{r.status})
      .bind(5, r.body)
      .bind(6, r.created_at)
      .bind(7, r.expires_at);
  return s->run();
}

Result<std::int64_t> SqliteDb::purge_idempotency(TimePoint now) {
  auto s = conn_->prepare("DELETE FROM idempotency_keys WHERE expires_at <= ?1");
  if (!s) return std::move(s).error();
  s->bind(1, now);
  if (auto r = s->run(); !r) return std::move(r).error();
  return static_cast<std::int64_t>(sqlite3_changes(conn_->handle()));
}

}  // namespace shipyard::bay::sqlite
