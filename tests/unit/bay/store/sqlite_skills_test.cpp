// SqliteStore: the skills lifecycle tables (bay-api-v1.md §12) — payloads, candidates,
// evaluations, releases, the atomic plan step, soft deletes, health samples, query plans.
#include "bay/store/sqlite_skills.hpp"

#include <boost/asio/thread_pool.hpp>
#include <boost/json/parse.hpp>
#include <set>

#include "bay/store/sqlite_db.hpp"
#include "store_test_support.hpp"

namespace shipyard::bay::testing {
namespace {

namespace asio = boost::asio;

using SkillsTest = StoreTest;

SkillCandidate make_candidate(std::string id, std::string key, TimePoint created,
                              std::string owner = "alice") {
  SkillCandidate c;
  c.id = std::move(id);
  c.owner = std::move(owner);
  c.skill_key = std::move(key);
  c.source_execution_ids = {"exec-000000000001"};
  c.created_by = c.owner;
  c.created_at = created;
  c.updated_at = created;
  return c;
}

// A release plan the way the domain makes one, reduced to what the store must honour: the
// next version from the snapshot (deleted releases included), the candidate promoted.
SkillPlanner next_version_planner(std::string release_id, std::string candidate_id, TimePoint now) {
  return [release_id, candidate_id, now](const SkillKeySnapshot& snap) -> Result<SkillPlan> {
    std::int64_t max = 0;
    for (const auto& r : snap.releases) max = std::max(max, r.version);
    SkillPlan plan;
    plan.release.id = release_id;
    plan.release.owner = snap.owner;
    plan.release.skill_key = snap.skill_key;
    plan.release.candidate_id = candidate_id;
    plan.release.version = max + 1;
    plan.release.promoted_by = snap.owner;
    plan.release.promoted_at = now;
    plan.candidate_updates.push_back({candidate_id, "promoted", release_id});
    return plan;
  };
}

class SkillStoreTest : public SkillsTest {
 protected:
  void add_candidate(const SkillCandidate& c) {
    auto r = run(io, store->insert_candidate(c));
    ASSERT_TRUE(r.ok()) << r.error().context;
  }
  SkillRelease promote(const std::string& release_id, const std::string& candidate_id,
                       const std::string& key, TimePoint now, std::string owner = "alice") {
    auto r = run(io, store->apply_skill_plan(owner, key, candidate_id,
                                             next_version_planner(release_id, candidate_id, now)));
    EXPECT_TRUE(r.ok()) << r.error().message << " " << r.error().context;
    return r.ok() ? *r : SkillRelease{};
  }
  std::vector<SkillRelease> releases(std::optional<std::string> key = std::nullopt,
                                     bool active_only = false) {
    ReleaseQuery q;
    q.owner = "alice";
    q.skill_key = std::move(key);
    q.active_only = active_only;
    auto r = run(io, store->list_releases(q));
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->items : std::vector<SkillRelease>{};
  }
};

// A payload round-trips as the same JSON value and is visible to its owner only.
TEST_P(SkillStoreTest, PayloadRoundTripAndOwnerScope) {
  SkillPayload p;
  p.id = "blob-000000000001";
  p.owner = "alice";
  p.kind = "browser_trace";
  p.payload =
      boost::json::parse(R"({"commands":["open x",{"n":1.5,"u":18446744073709551615}],"e":[]})");
  p.created_at = at(1);
  ASSERT_TRUE(run(io, store->insert_skill_payload(p)).ok());
  auto got = run(io, store->find_skill_payload("alice", p.id));
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->payload, p.payload);
  EXPECT_EQ((*got)->kind, "browser_trace");
  EXPECT_EQ((*got)->created_at, at(1));
  EXPECT_FALSE(run(io, store->find_skill_payload("bob", p.id))->has_value());
  EXPECT_FALSE(run(io, store->find_skill_payload("alice", "blob-00000000000f"))->has_value());
}

// Source executions must exist for the owner; executions of a deleted sandbox still count.
TEST_P(SkillStoreTest, MissingExecutions) {
  Sandbox sb = add_sandbox("sandbox-000000000001", "alice", at(0));
  ASSERT_TRUE(run(io, store->insert_execution(make_exec("exec-00000000000a", sb.id, at(1)))).ok());
  ASSERT_TRUE(
      run(io, store->insert_execution(make_exec("exec-00000000000b", "sandbox-x", at(2), "bob")))
          .ok());
  ASSERT_TRUE(run(io, store->delete_sandbox(sb.id, at(3))).ok());
  std::vector<std::string> ids{"exec-00000000000a", "exec-00000000000b", "exec-00000000000c",
                               "exec-00000000000a"};
  auto missing = run(io, store->missing_executions("alice", ids));
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(*missing, (std::vector<std::string>{"exec-00000000000b", "exec-00000000000c"}));
}

// Every candidate field round-trips, including JSON objects and the order of source ids.
TEST_P(SkillStoreTest, CandidateRoundTrip) {
  SkillCandidate c = make_candidate("sc-000000000001", "etl", at(5));
  c.scenario_key = "csv";
  c.payload_ref = "s3://x/y";
  c.summary = "sum";
  c.usage_notes = "notes";
  c.preconditions = boost::json::parse(R"({"a":{"b":[1,2]}})").as_object();
  c.postconditions = boost::json::object{};
  c.source_execution_ids = {"exec-2", "exec-1", "exec-2"};
  add_candidate(c);
  auto got = run(io, store->find_candidate("alice", c.id));
  ASSERT_TRUE(got.ok() && got->has_value());
  const SkillCandidate& g = **got;
  EXPECT_EQ(g.skill_key, "etl");
  EXPECT_EQ(g.scenario_key, "csv");
  EXPECT_EQ(g.payload_ref, "s3://x/y");
  EXPECT_EQ(g.skill_type, "code");
  EXPECT_FALSE(g.auto_release_eligible);
  EXPECT_EQ(g.summary, "sum");
  EXPECT_EQ(g.usage_notes, "notes");
  EXPECT_EQ(g.preconditions, c.preconditions);
  EXPECT_EQ(g.postconditions, c.postconditions);
  EXPECT_EQ(g.source_execution_ids, c.source_execution_ids);
  EXPECT_EQ(g.status, "draft");
  EXPECT_FALSE(g.latest_score.has_value());
  EXPECT_FALSE(g.latest_pass.has_value());
  EXPECT_FALSE(g.deleted.has_value());
  EXPECT_EQ(g.created_at, at(5));
  EXPECT_FALSE(run(io, store->find_candidate("bob", c.id))->has_value());
}

// Candidate lists: newest first (ties by insertion), filters, total independent of the page,
// other owners and deleted candidates hidden.
TEST_P(SkillStoreTest, ListCandidates) {
  add_candidate(make_candidate("sc-000000000001", "a", at(1)));
  add_candidate(make_candidate("sc-000000000002", "b", at(2)));
  add_candidate(make_candidate("sc-000000000003", "a", at(2)));  // ties with 2, newer
  add_candidate(make_candidate("sc-000000000004", "a", at(3), "bob"));
  add_candidate(make_candidate("sc-000000000005", "a", at(4)));
  SkillEvaluation e;
  e.id = "se-000000000001";
  e.owner = "alice";
  e.candidate_id = "sc-000000000001";
  e.passed = false;
  e.created_at = at(9);
  ASSERT_TRUE(run(io, store->record_evaluation(e, "rejected"))->has_value());
  ASSERT_TRUE(run(io, store->delete_candidate("alice", "sc-000000000005", {at(10), "alice", {}}))
                  ->candidate.has_value());

  auto ids = [&](CandidateQuery q) {
    q.owner = "alice";
    auto page = run(io, store->list_candidates(q));
    EXPECT_TRUE(page.ok());
    std::vector<std::string> out;
    for (const auto& c : page->items) out.push_back(c.id.substr(14));
    out.push_back("total=" + std::to_string(page->total));
    return out;
  };
  EXPECT_EQ(ids({}), (std::vector<std::string>{"3", "2", "1", "total=3"}));
  CandidateQuery by_key;
  by_key.skill_key = "a";
  EXPECT_EQ(ids(by_key), (std::vector<std::string>{"3", "1", "total=2"}));
  CandidateQuery by_status;
  by_status.status = "rejected";
  EXPECT_EQ(ids(by_status), (std::vector<std::string>{"1", "total=1"}));
  by_status.skill_key = "b";
  EXPECT_EQ(ids(by_status), (std::vector<std::string>{"total=0"}));
  CandidateQuery paged;
  paged.limit = 1;
  paged.offset = 1;
  EXPECT_EQ(ids(paged), (std::vector<std::string>{"2", "total=3"}));
}

// An evaluation updates the candidate and is written together with it; a missing, foreign or
// deleted candidate gets nothing written.
TEST_P(SkillStoreTest, RecordEvaluation) {
  add_candidate(make_candidate("sc-000000000001", "a", at(1)));
  SkillEvaluation e;
  e.id = "se-000000000001";
  e.owner = "alice";
  e.candidate_id = "sc-000000000001";
  e.score = 0.95;
  e.passed = true;
  e.created_at = at(7);
  auto r = run(io, store->record_evaluation(e, "evaluating"));
  ASSERT_TRUE(r.ok() && r->has_value()) << (r.ok() ? "" : r.error().context);
  EXPECT_EQ((*r)->status, "evaluating");
  EXPECT_EQ((*r)->latest_score, 0.95);
  EXPECT_EQ((*r)->latest_pass, true);
  EXPECT_EQ((*r)->last_evaluated_at, at(7));
  EXPECT_EQ((*r)->updated_at, at(7));
  // A later evaluation without a score clears latest_score.
  e.id = "se-000000000002";
  e.score.reset();
  e.passed = false;
  e.created_at = at(8);
  r = run(io, store->record_evaluation(e, "rejected"));
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_FALSE((*r)->latest_score.has_value());
  EXPECT_EQ((*r)->latest_pass, false);

  SkillEvaluation foreign = e;
  foreign.id = "se-000000000003";
  foreign.owner = "bob";
  EXPECT_FALSE(run(io, store->record_evaluation(foreign, "evaluating"))->has_value());
  SkillEvaluation unknown = e;
  unknown.id = "se-000000000004";
  unknown.candidate_id = "sc-00000000000f";
  EXPECT_FALSE(run(io, store->record_evaluation(unknown, "evaluating"))->has_value());
  auto c = run(io, store->find_candidate("alice", "sc-000000000001"));
  EXPECT_EQ((*c)->status, "rejected");
  EXPECT_EQ((*c)->last_evaluated_at, at(8));
}

// The planner sees every release of the key (deleted ones too, by version) and the named
// candidate; the planned release becomes the only active one and the candidate is updated.
TEST_P(SkillStoreTest, ApplyPlanSnapshotAndEffects) {
  add_candidate(make_candidate("sc-000000000001", "k", at(1)));
  add_candidate(make_candidate("sc-000000000002", "k", at(2)));
  add_candidate(make_candidate("sc-000000000003", "other", at(3)));
  SkillRelease r1 = promote("sr-000000000001", "sc-000000000001", "k", at(10));
  SkillRelease r2 = promote("sr-000000000002", "sc-000000000002", "k", at(20));
  SkillRelease o1 = promote("sr-000000000003", "sc-000000000003", "other", at(25));
  EXPECT_EQ(r1.version, 1);
  EXPECT_EQ(r2.version, 2);
  EXPECT_EQ(o1.version, 1);
  ASSERT_TRUE(
      run(io, store->delete_release("alice", r2.id, {at(30), "alice", "bad"}))->has_value());

  SkillKeySnapshot seen;
  SkillPlanner spy = [&seen](const SkillKeySnapshot& snap) -> Result<SkillPlan> {
    seen = snap;
    return next_version_planner("sr-000000000004", "sc-000000000001", at(40))(snap);
  };
  auto r3 = run(io, store->apply_skill_plan("alice", "k", std::string("sc-000000000001"), spy));
  ASSERT_TRUE(r3.ok()) << r3.error().context;
  ASSERT_EQ(seen.releases.size(), 2U);
  EXPECT_EQ(seen.releases[0].id, r1.id);
  EXPECT_EQ(seen.releases[1].id, r2.id);
  EXPECT_TRUE(seen.releases[1].deleted.has_value());
  ASSERT_TRUE(seen.candidate.has_value());
  EXPECT_EQ(seen.candidate->id, "sc-000000000001");
  EXPECT_EQ(r3->version, 3);  // the deleted version 2 is never reused
  EXPECT_TRUE(r3->is_active);

  auto active = releases(std::nullopt, true);
  std::set<std::string> active_ids;
  for (const auto& r : active) active_ids.insert(r.id);
  EXPECT_EQ(active_ids, (std::set<std::string>{"sr-000000000004", "sr-000000000003"}));
  auto c1 = run(io, store->find_candidate("alice", "sc-000000000001"));
  EXPECT_EQ((*c1)->status, "promoted");
  EXPECT_EQ((*c1)->promotion_release_id, "sr-000000000004");
  EXPECT_EQ((*c1)->updated_at, at(40));
  // Newest promotion first; the deleted release is hidden.
  auto listed = releases();
  ASSERT_EQ(listed.size(), 3U);
  EXPECT_EQ(listed[0].id, "sr-000000000004");
  EXPECT_EQ(listed[1].id, "sr-000000000003");
  EXPECT_EQ(listed[2].id, "sr-000000000001");
  EXPECT_EQ(releases("k").size(), 2U);
}

// A planner's error is returned as is and nothing is written; a plan for another key is a bug
// the store refuses.
TEST_P(SkillStoreTest, ApplyPlanFailuresWriteNothing) {
  add_candidate(make_candidate("sc-000000000001", "k", at(1)));
  SkillRelease r1 = promote("sr-000000000001", "sc-000000000001", "k", at(10));
  SkillPlanner refuse = [](const SkillKeySnapshot&) -> Result<SkillPlan> {
    return Error(ErrorCode::kConflict, "no");
  };
  auto r = run(io, store->apply_skill_plan("alice", "k", std::nullopt, refuse));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "no");
  SkillPlanner wrong_key = [](const SkillKeySnapshot& snap) -> Result<SkillPlan> {
    SkillPlan p;
    p.release.id = "sr-000000000002";
    p.release.owner = snap.owner;
    p.release.skill_key = "elsewhere";
    p.release.candidate_id = "sc-000000000001";
    return p;
  };
  r = run(io, store->apply_skill_plan("alice", "k", std::nullopt, wrong_key));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  // A release colliding with an existing version violates the unique constraint: rolled back.
  SkillPlanner same_version = [](const SkillKeySnapshot& snap) -> Result<SkillPlan> {
    SkillPlan p;
    p.release.id = "sr-000000000003";
    p.release.owner = snap.owner;
    p.release.skill_key = snap.skill_key;
    p.release.candidate_id = "sc-000000000001";
    p.release.version = 1;
    return p;
  };
  r = run(io, store->apply_skill_plan("alice", "k", std::nullopt, same_version));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  auto all = releases();
  ASSERT_EQ(all.size(), 1U);
  EXPECT_EQ(all[0].id, r1.id);
  EXPECT_TRUE(all[0].is_active);  // the deactivation was rolled back too
}

// The fault-injection hook covers the skill writes: an injected failure writes nothing.
TEST_P(SkillStoreTest, InjectedWriteFailure) {
  add_candidate(make_candidate("sc-000000000001", "k", at(1)));
  const int before = store->write_count();
  store->fail_writes_after(0);
  auto r = run(io, store->apply_skill_plan(
                       "alice", "k", std::string("sc-000000000001"),
                       next_version_planner("sr-000000000001", "sc-000000000001", at(2))));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_EQ(store->write_count(), before + 1);
  EXPECT_TRUE(releases().empty());
  promote("sr-000000000002", "sc-000000000001", "k", at(3));
  EXPECT_EQ(releases().size(), 1U);
}

struct PromotionOutcome {
  bool done = false;
  std::string failure;
};

asio::awaitable<void> promote_one(SqliteStore* store, int i, PromotionOutcome* out) {
  char rid[32];
  std::snprintf(rid, sizeof rid, "sr-%012d", i);
  SkillPlanner planner = next_version_planner(rid, "sc-000000000001", at(100 + i));
  std::optional<std::string> candidate = std::string("sc-000000000001");
  auto op = store->apply_skill_plan("alice", "k", std::move(candidate), std::move(planner));
  auto r = co_await std::move(op);
  if (!r) out->failure = r.error().message + " " + r.error().context;
  out->done = true;
}

// 20 promotions of one key from four threads at once get versions 1..20, each once, and
// leave exactly one active release.
TEST_P(SkillStoreTest, ConcurrentPromotionsAreAtomic) {
  add_candidate(make_candidate("sc-000000000001", "k", at(1)));
  constexpr int kPromotions = 20;
  std::vector<PromotionOutcome> outcomes(kPromotions);
  {
    asio::thread_pool callers(4);
    for (int i = 0; i < kPromotions; ++i) {
      asio::co_spawn(callers, promote_one(store.get(), i, &outcomes[i]), asio::detached);
    }
    callers.join();
  }
  std::set<std::int64_t> versions;
  for (const auto& o : outcomes) {
    EXPECT_TRUE(o.done);
    EXPECT_EQ(o.failure, "");
  }
  auto all = releases();
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kPromotions));
  int active = 0;
  for (const auto& r : all) {
    versions.insert(r.version);
    active += r.is_active ? 1 : 0;
  }
  EXPECT_EQ(versions.size(), static_cast<std::size_t>(kPromotions));
  EXPECT_EQ(*versions.begin(), 1);
  EXPECT_EQ(*versions.rbegin(), kPromotions);
  EXPECT_EQ(active, 1);
}

// Deleting a release deactivates and hides it, resets the candidates that pointed at it and
// activates nothing else; a second delete finds nothing.
TEST_P(SkillStoreTest, DeleteRelease) {
  add_candidate(make_candidate("sc-000000000001", "k", at(1)));
  add_candidate(make_candidate("sc-000000000002", "k", at(2)));
  promote("sr-000000000001", "sc-000000000001", "k", at(10));
  promote("sr-000000000002", "sc-000000000002", "k", at(20));
  auto d = run(io, store->delete_release("alice", "sr-000000000002", {at(30), "alice", "why"}));
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_FALSE((*d)->is_active);
  ASSERT_TRUE((*d)->deleted.has_value());
  EXPECT_EQ((*d)->deleted->at, at(30));
  EXPECT_EQ((*d)->deleted->by, "alice");
  EXPECT_EQ((*d)->deleted->reason, "why");
  EXPECT_FALSE(run(io, store->find_release("alice", "sr-000000000002"))->has_value());
  auto c2 = run(io, store->find_candidate("alice", "sc-000000000002"));
  EXPECT_FALSE((*c2)->promotion_release_id.has_value());
  auto c1 = run(io, store->find_candidate("alice", "sc-000000000001"));
  EXPECT_EQ((*c1)->promotion_release_id, "sr-000000000001");
  EXPECT_TRUE(releases("k", true).empty());
  EXPECT_FALSE(run(io, store->delete_release("alice", "sr-000000000002", {at(31), "alice", {}}))
                   ->has_value());
  EXPECT_FALSE(
      run(io, store->delete_release("bob", "sr-000000000001", {at(31), "bob", {}}))->has_value());
}

// A candidate backing an active release cannot be deleted; once that release is inactive it
// can, and then it is hidden.
TEST_P(SkillStoreTest, DeleteCandidate) {
  add_candidate(make_candidate("sc-000000000001", "k", at(1)));
  add_candidate(make_candidate("sc-000000000002", "k", at(2)));
  promote("sr-000000000001", "sc-000000000001", "k", at(10));
  auto refused =
      run(io, store->delete_candidate("alice", "sc-000000000001", {at(11), "alice", {}}));
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->candidate.has_value());
  EXPECT_EQ(refused->active_release_ids, (std::vector<std::string>{"sr-000000000001"}));
  EXPECT_TRUE(run(io, store->find_candidate("alice", "sc-000000000001"))->has_value());

  promote("sr-000000000002", "sc-000000000002", "k", at(20));
  auto ok = run(io, store->delete_candidate("alice", "sc-000000000001", {at(21), "alice", "old"}));
  ASSERT_TRUE(ok.ok() && ok->candidate.has_value());
  EXPECT_EQ(ok->candidate->deleted->reason, "old");
  EXPECT_FALSE(run(io, store->find_candidate("alice", "sc-000000000001"))->has_value());
  auto again = run(io, store->delete_candidate("alice", "sc-000000000001", {at(22), "alice", {}}));
  EXPECT_FALSE(again->candidate.has_value());
  EXPECT_TRUE(again->active_release_ids.empty());
}

// The previous release is the highest live version below the given one.
TEST_P(SkillStoreTest, PreviousRelease) {
  add_candidate(make_candidate("sc-000000000001", "k", at(1)));
  for (int i = 1; i <= 4; ++i) {
    promote("sr-00000000000" + std::to_string(i), "sc-000000000001", "k", at(10 * i));
  }
  ASSERT_TRUE(run(io, store->delete_release("alice", "sr-000000000003", {at(50), "alice", {}}))
                  ->has_value());
  auto p = run(io, store->previous_release("alice", "k", 4));
  ASSERT_TRUE(p.ok() && p->has_value());
  EXPECT_EQ((*p)->version, 2);
  EXPECT_FALSE(run(io, store->previous_release("alice", "k", 1))->has_value());
  EXPECT_FALSE(run(io, store->previous_release("bob", "k", 4))->has_value());
}

// Health samples: the owner's executions carrying exactly the tag release:<id> (as a whole
// tag), created within the closed window.
TEST_P(SkillStoreTest, ReleaseSamples) {
  auto exec = [&](int n, std::optional<std::string> tags, TimePoint when, bool ok, std::int64_t ms,
                  std::string owner = "alice") {
    Execution e = make_exec("exec-0000000000" + std::to_string(10 + n), "sandbox-1", when, owner);
    e.tags = std::move(tags);
    e.success = ok;
    e.execution_time_ms = ms;
    ASSERT_TRUE(run(io, store->insert_execution(e)).ok());
  };
  const std::string rid = "sr-000000000001";
  exec(1, "release:" + rid, at(100), true, 10);                       // window start: in
  exec(2, "a,release:" + rid + ",stage:canary", at(150), false, 20);  // middle tag: in
  exec(3, "release:" + rid, at(200), true, 30);                       // window end: in
  exec(4, "release:" + rid, at(99), true, 40);                        // before
  exec(5, "release:" + rid, at(201), true, 50);                       // after
  exec(6, "release:" + rid + "0", at(150), true, 60);                 // another release
  exec(7, "xrelease:" + rid, at(150), true, 70);                      // another tag
  exec(8, "release:" + rid, at(150), true, 80, "bob");                // another owner
  exec(9, std::nullopt, at(150), true, 90);                           // untagged
  auto s = run(io, store->release_samples("alice", rid, at(100), at(200)));
  ASSERT_TRUE(s.ok()) << s.error().context;
  std::multiset<std::int64_t> ms;
  for (const auto& x : *s) ms.insert(x.execution_time_ms);
  EXPECT_EQ(ms, (std::multiset<std::int64_t>{10, 20, 30}));
  int failures = 0;
  for (const auto& x : *s) failures += x.success ? 0 : 1;
  EXPECT_EQ(failures, 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, SkillStoreTest,
                         ::testing::Values(Backend::kFile, Backend::kMemory), backend_name);

// Every skills statement is served by an index: no full scan of a skills table or of the
// executions.
TEST(SkillsQueryPlans, StatementsUseIndexes) {
  auto db = sqlite::SqliteDb::open(":memory:");
  ASSERT_TRUE(db.ok());
  sqlite::Connection& c = (*db)->connection();
  namespace sk = sqlite::skills;
  SkillPayload p;
  p.id = "blob-000000000001";
  p.owner = "alice";
  p.kind = "generic";
  p.payload = boost::json::array{};
  ASSERT_TRUE(sk::insert_payload(c, p).ok());
  (void)sk::find_payload(c, "alice", p.id);
  (void)sk::missing_executions(c, "alice", {"exec-1"});
  ASSERT_TRUE(sk::insert_candidate(c, make_candidate("sc-000000000001", "k", at(1))).ok());
  (void)sk::find_candidate(c, "alice", "sc-000000000001");
  for (int mask = 0; mask < 4; ++mask) {
    CandidateQuery q;
    q.owner = "alice";
    if (mask & 1) q.status = "draft";
    if (mask & 2) q.skill_key = "k";
    (void)sk::list_candidates(c, q);
  }
  SkillEvaluation e;
  e.id = "se-000000000001";
  e.owner = "alice";
  e.candidate_id = "sc-000000000001";
  e.passed = true;
  (void)sk::record_evaluation(c, e, "evaluating");
  ASSERT_TRUE(
      sk::apply_skill_plan(c, "alice", "k", std::string("sc-000000000001"),
                           next_version_planner("sr-000000000001", "sc-000000000001", at(2)))
          .ok());
  (void)sk::find_release(c, "alice", "sr-000000000001");
  for (int mask = 0; mask < 8; ++mask) {
    ReleaseQuery q;
    q.owner = "alice";
    if (mask & 1) q.skill_key = "k";
    if (mask & 2) q.active_only = true;
    if (mask & 4) q.stage = "canary";
    (void)sk::list_releases(c, q);
  }
  (void)sk::previous_release(c, "alice", "k", 2);
  (void)sk::release_samples(c, "alice", "sr-000000000001", at(0), at(9));
  (void)sk::delete_candidate(c, "alice", "sc-000000000001", {at(3), "alice", {}});
  (void)sk::delete_release(c, "alice", "sr-000000000001", {at(4), "alice", {}});

  const std::set<std::string> tables = {"skill_payloads", "skill_candidates", "skill_evaluations",
                                        "skill_releases", "executions"};
  int checked = 0;
  for (const auto& sql : c.cached_statements()) {
    if (sql.rfind("SELECT", 0) != 0 && sql.rfind("UPDATE", 0) != 0) continue;
    auto plan = c.prepare("EXPLAIN QUERY PLAN " + sql);
    ASSERT_TRUE(plan.ok()) << sql;
    ++checked;
    for (;;) {
      auto row = plan->step();
      ASSERT_TRUE(row.ok());
      if (!*row) break;
      std::string detail = plan->text(3);
      for (const auto& t : tables) {
        bool full_scan =
            detail.rfind("SCAN " + t, 0) == 0 && detail.find("INDEX") == std::string::npos;
        EXPECT_FALSE(full_scan) << sql << "\n" << detail;
      }
    }
  }
  EXPECT_GE(checked, 20);
}

}  // namespace
}  // namespace shipyard::bay::testing
