// SqliteStore: sandboxes, cargos, uid allocation, sessions and settings.
#include <algorithm>
#include <set>

#include "store_test_support.hpp"

namespace shipyard::bay::testing {
namespace {

using SandboxTest = StoreTest;

std::vector<std::string> ids_of(const std::vector<Sandbox>& v) {
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(s.id);
  return out;
}
std::vector<std::string> ids_of(const std::vector<Cargo>& v) {
  std::vector<std::string> out;
  for (const auto& c : v) out.push_back(c.id);
  return out;
}

// A sandbox and its managed cargo come back with every field as stored.
TEST_P(SandboxTest, CreateAndFindRoundTripsAllFields) {
  Sandbox sb = make_sandbox("sandbox-000000000001", "alice", "ws-000000000001", at(5));
  sb.expires_at = at(3'600'000'000);
  sb.legacy = true;
  Cargo c = make_cargo("ws-000000000001", "alice", at(5), sb.id);
  c.host_uid = 4'000'000'000U;  // above INT32_MAX: stored as a 64-bit integer
  c.storage_path = "/data/cargos/ws-000000000001 (ü)";
  ASSERT_TRUE(run(io, store->create_sandbox(sb, c)).ok());

  auto found = run(io, store->find_sandbox(sb.id));
  ASSERT_TRUE(found.ok() && found->has_value());
  const Sandbox& f = **found;
  EXPECT_EQ(f.id, sb.id);
  EXPECT_EQ(f.owner, "alice");
  EXPECT_EQ(f.profile, "python-default");
  EXPECT_EQ(f.cargo_id, c.id);
  EXPECT_EQ(f.created_at, at(5));
  EXPECT_EQ(f.expires_at, at(3'600'000'000));
  EXPECT_FALSE(f.deleted_at.has_value());
  EXPECT_TRUE(f.legacy);

  auto cargo = run(io, store->find_cargo(c.id));
  ASSERT_TRUE(cargo.ok() && cargo->has_value());
  const Cargo& g = **cargo;
  EXPECT_EQ(g.owner, "alice");
  EXPECT_TRUE(g.managed);
  EXPECT_EQ(g.managed_by_sandbox_id, sb.id);
  EXPECT_EQ(g.size_limit_mb, 2048);
  EXPECT_EQ(g.created_at, at(5));
  EXPECT_EQ(g.last_accessed_at, at(5));
  EXPECT_FALSE(g.deleted_at.has_value());
  EXPECT_EQ(g.storage_path, c.storage_path);
  EXPECT_EQ(g.host_uid, 4'000'000'000U);
}

// Unknown ids are "not there", not errors.
TEST_P(SandboxTest, FindUnknownReturnsNullopt) {
  auto sb = run(io, store->find_sandbox("sandbox-ffffffffffff"));
  ASSERT_TRUE(sb.ok());
  EXPECT_FALSE(sb->has_value());
  auto c = run(io, store->find_cargo("ws-ffffffffffff"));
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->has_value());
}

// A duplicate sandbox id is kConflict, and its managed cargo is not left behind (one
// transaction).
TEST_P(SandboxTest, DuplicateSandboxIsConflictAndAtomic) {
  add_sandbox("sandbox-000000000001", "alice", at(1));
  Sandbox again = make_sandbox("sandbox-000000000001", "alice", "ws-00000000000b", at(2));
  auto r = run(
      io, store->create_sandbox(again, make_cargo("ws-00000000000b", "alice", at(2), again.id)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_FALSE(r.error().context.empty());
  auto c = run(io, store->find_cargo("ws-00000000000b"));
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->has_value());
}

// A sandbox must reference an existing cargo; the failure is an internal error with the
// SQLite message in the log context, and nothing is stored.
TEST_P(SandboxTest, UnknownCargoIsRejected) {
  Sandbox sb = make_sandbox("sandbox-000000000001", "alice", "ws-ffffffffffff", at(1));
  auto r = run(io, store->create_sandbox(sb, std::nullopt));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_EQ(r.error().message, "database error");
  EXPECT_NE(r.error().context.find("FOREIGN KEY"), std::string::npos) << r.error().context;
  auto found = run(io, store->find_sandbox(sb.id));
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
}

// Keyset pagination: ascending (created_at, id), strictly after the cursor, ties on
// created_at broken by id, only the owner's live sandboxes, at most `limit` rows.
TEST_P(SandboxTest, ListPaginatesInCreationOrderWithTies) {
  // Inserted out of order; three share at(20), two share at(30).
  add_sandbox("sandbox-00000000000c", "alice", at(20));
  add_sandbox("sandbox-00000000000a", "alice", at(20));
  add_sandbox("sandbox-000000000009", "alice", at(30));
  add_sandbox("sandbox-00000000000b", "alice", at(20));
  add_sandbox("sandbox-000000000001", "alice", at(30));
  add_sandbox("sandbox-000000000002", "alice", at(10));
  add_sandbox("sandbox-000000000003", "bob", at(15));
  add_sandbox("sandbox-000000000004", "alice", at(25));
  ASSERT_TRUE(run(io, store->delete_sandbox("sandbox-000000000004", at(100))).ok());

  const std::vector<std::string> expected = {"sandbox-000000000002", "sandbox-00000000000a",
                                             "sandbox-00000000000b", "sandbox-00000000000c",
                                             "sandbox-000000000001", "sandbox-000000000009"};
  std::vector<std::string> seen;
  std::optional<ListCursor> cursor;
  for (int page = 0; page < 10; ++page) {
    auto r = run(io, store->list_sandboxes("alice", cursor, 2));
    ASSERT_TRUE(r.ok());
    ASSERT_LE(r->size(), 2U);
    if (r->empty()) break;
    for (const auto& s : *r) seen.push_back(s.id);
    cursor = ListCursor{r->back().created_at, r->back().id};
  }
  EXPECT_EQ(seen, expected);

  auto all = run(io, store->list_sandboxes("alice", std::nullopt, 100));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(ids_of(*all), expected);
  // A cursor between tied rows continues with the next id at the same time.
  auto mid = run(io, store->list_sandboxes("alice", ListCursor{at(20), "sandbox-00000000000a"}, 2));
  ASSERT_TRUE(mid.ok());
  EXPECT_EQ(ids_of(*mid),
            (std::vector<std::string>{"sandbox-00000000000b", "sandbox-00000000000c"}));
  auto none = run(io, store->list_sandboxes("alice", std::nullopt, 0));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

// list_live_sandboxes spans all owners; count_live_sandboxes is per owner; both skip
// deleted sandboxes.
TEST_P(SandboxTest, LiveListingAndCount) {
  add_sandbox("sandbox-000000000001", "alice", at(1));
  add_sandbox("sandbox-000000000002", "bob", at(2));
  add_sandbox("sandbox-000000000003", "alice", at(3));
  ASSERT_TRUE(run(io, store->delete_sandbox("sandbox-000000000003", at(9))).ok());
  auto live = run(io, store->list_live_sandboxes());
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(ids_of(*live),
            (std::vector<std::string>{"sandbox-000000000001", "sandbox-000000000002"}));
  EXPECT_EQ(*run(io, store->count_live_sandboxes("alice")), 1);
  EXPECT_EQ(*run(io, store->count_live_sandboxes("bob")), 1);
  EXPECT_EQ(*run(io, store->count_live_sandboxes("carol")), 0);
}

// Expiry can be set, moved and cleared.
TEST_P(SandboxTest, SetExpiry) {
  auto sb = add_sandbox("sandbox-000000000001", "alice", at(1));
  ASSERT_TRUE(run(io, store->set_sandbox_expiry(sb.id, at(500))).ok());
  EXPECT_EQ((*run(io, store->find_sandbox(sb.id)))->expires_at, at(500));
  ASSERT_TRUE(run(io, store->set_sandbox_expiry(sb.id, std::nullopt)).ok());
  EXPECT_FALSE((*run(io, store->find_sandbox(sb.id)))->expires_at.has_value());
  // Unknown ids change nothing and are not an error.
  EXPECT_TRUE(run(io, store->set_sandbox_expiry("sandbox-ffffffffffff", at(1))).ok());
}

// Deleting a sandbox marks it and its managed cargo deleted in one step and hands the cargo
// back; deleting it again returns nothing and changes nothing.
TEST_P(SandboxTest, DeleteCascadesToManagedCargo) {
  auto sb = add_sandbox("sandbox-000000000001", "alice", at(1));
  auto r = run(io, store->delete_sandbox(sb.id, at(50)));
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->id, sb.cargo_id);
  EXPECT_EQ((*r)->deleted_at, at(50));
  EXPECT_EQ((*r)->storage_path, "/data/cargos/" + sb.cargo_id);

  EXPECT_EQ((*run(io, store->find_sandbox(sb.id)))->deleted_at, at(50));
  EXPECT_EQ((*run(io, store->find_cargo(sb.cargo_id)))->deleted_at, at(50));

  auto again = run(io, store->delete_sandbox(sb.id, at(99)));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
  EXPECT_EQ((*run(io, store->find_sandbox(sb.id)))->deleted_at, at(50));
  EXPECT_EQ((*run(io, store->find_cargo(sb.cargo_id)))->deleted_at, at(50));

  auto missing = run(io, store->delete_sandbox("sandbox-ffffffffffff", at(99)));
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

// External cargos survive the deletion of the sandboxes that use them, and so does a
// managed cargo deleted through a sandbox that merely binds it.
TEST_P(SandboxTest, DeleteKeepsCargosItDoesNotManage) {
  ASSERT_TRUE(run(io, store->create_cargo(make_cargo("ws-0000000000e1", "alice", at(1)))).ok());
  auto a = make_sandbox("sandbox-000000000001", "alice", "ws-0000000000e1", at(2));
  auto b = make_sandbox("sandbox-000000000002", "alice", "ws-0000000000e1", at(3));
  ASSERT_TRUE(run(io, store->create_sandbox(a, std::nullopt)).ok());
  ASSERT_TRUE(run(io, store->create_sandbox(b, std::nullopt)).ok());
  auto r = run(io, store->delete_sandbox(a.id, at(10)));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_FALSE((*run(io, store->find_cargo("ws-0000000000e1")))->deleted_at.has_value());
  EXPECT_EQ(*run(io, store->cargo_users("ws-0000000000e1")), std::vector<std::string>{b.id});

  auto owner = add_sandbox("sandbox-000000000003", "alice", at(4));
  auto binder = make_sandbox("sandbox-000000000004", "alice", owner.cargo_id, at(5));
  ASSERT_TRUE(run(io, store->create_sandbox(binder, std::nullopt)).ok());
  auto r2 = run(io, store->delete_sandbox(binder.id, at(11)));
  ASSERT_TRUE(r2.ok());
  EXPECT_FALSE(r2->has_value());
  EXPECT_FALSE((*run(io, store->find_cargo(owner.cargo_id)))->deleted_at.has_value());
}

using CargoTest = StoreTest;

// list_cargos filters by managed, skips deleted and foreign cargos, and pages by
// (created_at, id) with ties.
TEST_P(CargoTest, ListFiltersManagedAndPaginates) {
  for (std::string id : {"ws-00000000000c", "ws-00000000000a", "ws-00000000000b"}) {
    ASSERT_TRUE(run(io, store->create_cargo(make_cargo(id, "alice", at(7)))).ok());
  }
  ASSERT_TRUE(run(io, store->create_cargo(make_cargo("ws-000000000001", "alice", at(9)))).ok());
  ASSERT_TRUE(run(io, store->create_cargo(make_cargo("ws-000000000002", "alice", at(1)))).ok());
  ASSERT_TRUE(run(io, store->create_cargo(make_cargo("ws-000000000003", "bob", at(2)))).ok());
  ASSERT_TRUE(run(io, store->create_cargo(make_cargo("ws-000000000004", "alice", at(3)))).ok());
  ASSERT_TRUE(run(io, store->delete_cargo("ws-000000000004", at(4))).ok());
  add_sandbox("sandbox-00000000000d", "alice", at(5));  // managed ws-00000000000d

  std::vector<std::string> seen;
  std::optional<ListCursor> cursor;
  for (int page = 0; page < 10; ++page) {
    auto r = run(io, store->list_cargos("alice", false, cursor, 2));
    ASSERT_TRUE(r.ok());
    if (r->empty()) break;
    for (const auto& c : *r) {
      EXPECT_FALSE(c.managed);
      seen.push_back(c.id);
    }
    cursor = ListCursor{r->back().created_at, r->back().id};
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"ws-000000000002", "ws-00000000000a", "ws-00000000000b",
                                            "ws-00000000000c", "ws-000000000001"}));
  auto managed = run(io, store->list_cargos("alice", true, std::nullopt, 50));
  ASSERT_TRUE(managed.ok());
  EXPECT_EQ(ids_of(*managed), std::vector<std::string>{"ws-00000000000d"});
}

// cargo_users lists the live sandboxes bound to a cargo, in creation order.
TEST_P(CargoTest, UsersAreLiveSandboxes) {
  ASSERT_TRUE(run(io, store->create_cargo(make_cargo("ws-0000000000e1", "alice", at(1)))).ok());
  for (int i = 1; i <= 3; ++i) {
    auto sb = make_sandbox("sandbox-00000000000" + std::to_string(i), "alice", "ws-0000000000e1",
                           at(10 - i));
    ASSERT_TRUE(run(io, store->create_sandbox(sb, std::nullopt)).ok());
  }
  ASSERT_TRUE(run(io, store->delete_sandbox("sandbox-000000000002", at(20))).ok());
  EXPECT_EQ(*run(io, store->cargo_users("ws-0000000000e1")),
            (std::vector<std::string>{"sandbox-000000000003", "sandbox-000000000001"}));
  EXPECT_TRUE(run(io, store->cargo_users("ws-ffffffffffff"))->empty());
}

// touch_cargo moves last_accessed_at; delete_cargo keeps the first deletion time.
TEST_P(CargoTest, TouchAndDelete) {
  ASSERT_TRUE(run(io, store->create_cargo(make_cargo("ws-0000000000e1", "alice", at(1)))).ok());
  ASSERT_TRUE(run(io, store->touch_cargo("ws-0000000000e1", at(42))).ok());
  auto c = *run(io, store->find_cargo("ws-0000000000e1"));
  EXPECT_EQ(c->last_accessed_at, at(42));
  EXPECT_EQ(c->created_at, at(1));
  ASSERT_TRUE(run(io, store->delete_cargo("ws-0000000000e1", at(50))).ok());
  ASSERT_TRUE(run(io, store->delete_cargo("ws-0000000000e1", at(60))).ok());
  EXPECT_EQ((*run(io, store->find_cargo("ws-0000000000e1")))->deleted_at, at(50));
  EXPECT_TRUE(run(io, store->list_cargos("alice", false, std::nullopt, 10))->empty());
}

// A duplicate cargo id is kConflict.
TEST_P(CargoTest, DuplicateIsConflict) {
  ASSERT_TRUE(run(io, store->create_cargo(make_cargo("ws-0000000000e1", "alice", at(1)))).ok());
  auto r = run(io, store->create_cargo(make_cargo("ws-0000000000e1", "bob", at(2))));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
}

// Orphans are live managed cargos whose sandbox is deleted or missing; external cargos,
// cargos of live sandboxes and already deleted cargos are not.
TEST_P(CargoTest, OrphansAreManagedCargosWithoutLiveSandbox) {
  add_sandbox("sandbox-000000000001", "alice", at(1));  // live sandbox: not an orphan
  auto cleaned = add_sandbox("sandbox-000000000003", "alice", at(3));
  ASSERT_TRUE(run(io, store->delete_sandbox(cleaned.id, at(9))).ok());  // cascade: deleted
  ASSERT_TRUE(run(io, store->create_cargo(make_cargo("ws-0000000000e1", "alice", at(4)))).ok());
  // Managed by a sandbox that never made it into the store.
  ASSERT_TRUE(run(io, store->create_cargo(
                          make_cargo("ws-0000000000f1", "bob", at(5), "sandbox-ffffffffffff")))
                  .ok());
  // Managed by a sandbox that is deleted while the cargo is not (the sandbox row was bound
  // to another cargo, so the cascade did not reach this one).
  ASSERT_TRUE(run(io, store->create_cargo(
                          make_cargo("ws-0000000000f2", "alice", at(6), "sandbox-000000000004")))
                  .ok());
  ASSERT_TRUE(run(io, store->create_sandbox(
                          make_sandbox("sandbox-000000000004", "alice", "ws-0000000000e1", at(6)),
                          std::nullopt))
                  .ok());
  ASSERT_TRUE(run(io, store->delete_sandbox("sandbox-000000000004", at(9))).ok());

  auto orphans = run(io, store->list_orphan_cargos());
  ASSERT_TRUE(orphans.ok());
  EXPECT_EQ(ids_of(*orphans), (std::vector<std::string>{"ws-0000000000f1", "ws-0000000000f2"}));

  // An orphan stops being one once deleted.
  ASSERT_TRUE(run(io, store->delete_cargo("ws-0000000000f1", at(10))).ok());
  EXPECT_EQ(ids_of(*run(io, store->list_orphan_cargos())),
            std::vector<std::string>{"ws-0000000000f2"});
}

using UidTest = StoreTest;

// allocate_uid hands out base, base+1, ...; never repeats when the base is lowered, jumps
// when it is raised, and continues after a reopen of a database file.
TEST_P(UidTest, MonotonicAndPersistent) {
  EXPECT_EQ(*run(io, store->allocate_uid(100000)), 100000U);
  EXPECT_EQ(*run(io, store->allocate_uid(100000)), 100001U);
  EXPECT_EQ(*run(io, store->allocate_uid(100000)), 100002U);
  EXPECT_EQ(*run(io, store->allocate_uid(5)), 100003U);
  EXPECT_EQ(*run(io, store->allocate_uid(200000)), 200000U);
  EXPECT_EQ(*run(io, store->allocate_uid(100000)), 200001U);
  if (!file_backed()) return;
  reopen();
  EXPECT_EQ(*run(io, store->allocate_uid(100000)), 200002U);
}

// The last representable uid, (uid_t)-1, is never handed out.
TEST_P(UidTest, ExhaustionIsAnError) {
  EXPECT_EQ(*run(io, store->allocate_uid(4294967294U)), 4294967294U);
  auto r = run(io, store->allocate_uid(4294967294U));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
}

using SessionTest = StoreTest;

SessionRecord make_session(std::string id, std::string sandbox_id, TimePoint created,
                           SessionState state = SessionState::kStarting) {
  SessionRecord s;
  s.id = std::move(id);
  s.sandbox_id = std::move(sandbox_id);
  s.state = state;
  s.runtime_id = "rt-" + s.id;
  s.endpoint = "unix:/data/sessions/" + s.id + "/ship.sock";
  s.instance_id = "bay-1";
  s.created_at = created;
  return s;
}

// save_session inserts, then replaces by id; every field round-trips.
TEST_P(SessionTest, SaveInsertsThenReplaces) {
  auto sb = add_sandbox("sandbox-000000000001", "alice", at(1));
  auto s = make_session("sess-000000000001", sb.id, at(2));
  ASSERT_TRUE(run(io, store->save_session(s)).ok());
  s.state = SessionState::kFailed;
  s.failure = "ship did not become healthy";
  s.idle_expires_at = at(300);
  ASSERT_TRUE(run(io, store->save_session(s)).ok());
  auto a = run(io, store->active_session(sb.id));
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->id, s.id);
  EXPECT_EQ((*a)->sandbox_id, sb.id);
  EXPECT_EQ((*a)->state, SessionState::kFailed);
  EXPECT_EQ((*a)->runtime_id, s.runtime_id);
  EXPECT_EQ((*a)->endpoint, s.endpoint);
  EXPECT_EQ((*a)->instance_id, "bay-1");
  EXPECT_EQ((*a)->created_at, at(2));
  EXPECT_EQ((*a)->idle_expires_at, at(300));
  EXPECT_EQ((*a)->failure, s.failure);
  EXPECT_EQ(run(io, store->list_active_sessions())->size(), 1U);
}

// The active session is the newest one in starting/ready/failed (ties: the later insert);
// ended sessions are no longer active.
TEST_P(SessionTest, ActiveIsNewestNotStopped) {
  auto sb = add_sandbox("sandbox-000000000001", "alice", at(1));
  auto other = add_sandbox("sandbox-000000000002", "alice", at(1));
  ASSERT_TRUE(run(io, store->save_session(
                          make_session("sess-00000000000a", sb.id, at(10), SessionState::kReady)))
                  .ok());
  ASSERT_TRUE(run(io, store->save_session(
                          make_session("sess-00000000000b", sb.id, at(20), SessionState::kStopped)))
                  .ok());
  ASSERT_TRUE(run(io, store->save_session(make_session("sess-000000000009", sb.id, at(10))))
                  .ok());  // same time as ...0a, inserted later: newer
  ASSERT_TRUE(run(io, store->save_session(make_session("sess-00000000000c", other.id, at(5),
                                                       SessionState::kFailed)))
                  .ok());
  EXPECT_EQ((*run(io, store->active_session(sb.id)))->id, "sess-000000000009");
  // Re-saving an older session does not make it newer.
  ASSERT_TRUE(run(io, store->save_session(
                          make_session("sess-00000000000a", sb.id, at(10), SessionState::kReady)))
                  .ok());
  EXPECT_EQ((*run(io, store->active_session(sb.id)))->id, "sess-000000000009");

  auto active = run(io, store->list_active_sessions());
  ASSERT_TRUE(active.ok());
  std::set<std::string> ids;
  for (const auto& s : *active) ids.insert(s.id);
  EXPECT_EQ(ids,
            (std::set<std::string>{"sess-00000000000a", "sess-000000000009", "sess-00000000000c"}));

  ASSERT_TRUE(run(io, store->end_session("sess-000000000009")).ok());
  EXPECT_EQ((*run(io, store->active_session(sb.id)))->id, "sess-00000000000a");
  ASSERT_TRUE(run(io, store->end_session("sess-00000000000a")).ok());
  EXPECT_FALSE(run(io, store->active_session(sb.id))->has_value());
  EXPECT_EQ(run(io, store->list_active_sessions())->size(), 1U);
  EXPECT_TRUE(run(io, store->end_session("sess-ffffffffffff")).ok());
}

// set_session_idle_expiry sets and clears the idle deadline of one session.
TEST_P(SessionTest, IdleExpiry) {
  auto sb = add_sandbox("sandbox-000000000001", "alice", at(1));
  ASSERT_TRUE(run(io, store->save_session(
                          make_session("sess-000000000001", sb.id, at(2), SessionState::kReady)))
                  .ok());
  ASSERT_TRUE(run(io, store->set_session_idle_expiry("sess-000000000001", at(77))).ok());
  EXPECT_EQ((*run(io, store->active_session(sb.id)))->idle_expires_at, at(77));
  ASSERT_TRUE(run(io, store->set_session_idle_expiry("sess-000000000001", std::nullopt)).ok());
  EXPECT_FALSE((*run(io, store->active_session(sb.id)))->idle_expires_at.has_value());
}

using SettingsTest = StoreTest;

// Settings are a plain upsert key/value map.
TEST_P(SettingsTest, Upsert) {
  EXPECT_FALSE(run(io, store->get_setting("api_key_hash"))->has_value());
  ASSERT_TRUE(run(io, store->put_setting("api_key_hash", "abc")).ok());
  EXPECT_EQ(*run(io, store->get_setting("api_key_hash")), "abc");
  ASSERT_TRUE(run(io, store->put_setting("api_key_hash", "def")).ok());
  EXPECT_EQ(*run(io, store->get_setting("api_key_hash")), "def");
  ASSERT_TRUE(run(io, store->put_setting("empty", "")).ok());
  EXPECT_EQ(*run(io, store->get_setting("empty")), "");
}

INSTANTIATE_TEST_SUITE_P(Backends, SandboxTest, ::testing::Values(Backend::kFile, Backend::kMemory),
                         backend_name);
INSTANTIATE_TEST_SUITE_P(Backends, CargoTest, ::testing::Values(Backend::kFile, Backend::kMemory),
                         backend_name);
INSTANTIATE_TEST_SUITE_P(Backends, UidTest, ::testing::Values(Backend::kFile, Backend::kMemory),
                         backend_name);
INSTANTIATE_TEST_SUITE_P(Backends, SessionTest, ::testing::Values(Backend::kFile, Backend::kMemory),
                         backend_name);
INSTANTIATE_TEST_SUITE_P(Backends, SettingsTest,
                         ::testing::Values(Backend::kFile, Backend::kMemory), backend_name);

}  // namespace
}  // namespace shipyard::bay::testing
