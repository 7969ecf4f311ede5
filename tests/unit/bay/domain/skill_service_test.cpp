// Skills lifecycle (bay-api-v1.md §12): the pure rules (state machine, versioning, rollback
// target, health math) and SkillService over an in-memory SqliteStore with a manual clock.
#include "bay/domain/skill_service.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <set>

#include "bay/domain/rules.hpp"
#include "domain_test_support.hpp"

namespace shipyard::bay::testing {
namespace {

namespace asio = boost::asio;

const TimePoint kT0 = TimePoint(Micros(1'770'000'000'000'000));

SkillRelease release(std::string id, std::int64_t version, bool deleted = false,
                     std::string candidate = "sc-000000000001", std::string stage = "canary") {
  SkillRelease r;
  r.id = std::move(id);
  r.owner = "alice";
  r.skill_key = "k";
  r.candidate_id = std::move(candidate);
  r.version = version;
  r.stage = std::move(stage);
  r.promoted_at = kT0;
  if (deleted) r.deleted = Deletion{kT0, "alice", std::nullopt};
  return r;
}

std::vector<ExecutionSample> samples(int ok, int failed, std::int64_t ms = 10) {
  std::vector<ExecutionSample> out;
  for (int i = 0; i < ok; ++i) out.push_back({true, ms});
  for (int i = 0; i < failed; ++i) out.push_back({false, ms});
  return out;
}

// ---------------------------------------------------------------- pure rules

// The seven documented statuses are the only valid ones; stages are canary and stable.
TEST(SkillRules, StatusesAndStages) {
  for (const char* s : {"draft", "evaluating", "promoted", "promoted_canary", "promoted_stable",
                        "rejected", "rolled_back"}) {
    EXPECT_TRUE(is_candidate_status(s)) << s;
  }
  EXPECT_FALSE(is_candidate_status("Draft"));
  EXPECT_FALSE(is_candidate_status(""));
  EXPECT_TRUE(is_release_stage("canary"));
  EXPECT_TRUE(is_release_stage("stable"));
  EXPECT_FALSE(is_release_stage("beta"));
  EXPECT_EQ(status_after_evaluation(true), "evaluating");
  EXPECT_EQ(status_after_evaluation(false), "rejected");
}

// blob: references parse to their id; other schemes and empty ids are 400s with the spec's
// messages.
TEST(SkillRules, PayloadRefs) {
  EXPECT_EQ(*parse_payload_ref("blob:blob-0123456789ab"), "blob-0123456789ab");
  EXPECT_EQ(make_payload_ref("blob-0123456789ab"), "blob:blob-0123456789ab");
  auto s3 = parse_payload_ref("s3://candidate/payload-1");
  ASSERT_FALSE(s3.ok());
  EXPECT_EQ(s3.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(s3.error().message.find("Unsupported payload_ref"), std::string::npos);
  auto empty = parse_payload_ref("blob:");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("Invalid payload_ref"), std::string::npos);
  EXPECT_FALSE(parse_payload_ref("BLOB:x").ok());
}

// Versions continue after the highest one ever used, deleted releases included.
TEST(SkillRules, NextVersionCountsDeleted) {
  EXPECT_EQ(next_release_version({}), 1);
  EXPECT_EQ(next_release_version({release("a", 1), release("b", 3, true)}), 4);
}

// The rollback target is the highest non-deleted version below R.
TEST(SkillRules, RollbackTarget) {
  std::vector<SkillRelease> rs{release("v1", 1), release("v2", 2), release("v3", 3, true),
                               release("v4", 4), release("v5", 5)};
  EXPECT_EQ(rollback_target(rs, rs[4])->id, "v4");
  EXPECT_EQ(rollback_target(rs, rs[3])->id, "v2");  // v3 is deleted
  EXPECT_EQ(rollback_target(rs, rs[0]), nullptr);
}

// Promotion needs the live candidate with latest_pass true (409 carries candidate_id) and
// yields the next version, active, manual, promoted by the owner.
TEST(SkillRules, PlanPromotion) {
  SkillKeySnapshot snap;
  snap.owner = "alice";
  snap.skill_key = "k";
  snap.releases = {release("sr-1", 1), release("sr-2", 2, true)};
  PromotionRequest req;
  req.stage = "stable";
  req.change_summary = "faster";
  auto missing = plan_promotion(snap, "sc-1", req, "sr-new", kT0);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  SkillCandidate c;
  c.id = "sc-1";
  c.owner = "alice";
  c.skill_key = "k";
  snap.candidate = c;
  for (std::optional<bool> pass : {std::optional<bool>(), std::optional<bool>(false)}) {
    snap.candidate->latest_pass = pass;
    auto refused = plan_promotion(snap, "sc-1", req, "sr-new", kT0);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
    EXPECT_EQ(std::string(refused.error().details.at("candidate_id").as_string()), "sc-1");
  }
  snap.candidate->latest_pass = true;
  auto plan = plan_promotion(snap, "sc-1", req, "sr-new", kT0 + Micros(5));
  ASSERT_TRUE(plan.ok());
  const SkillRelease& r = plan->release;
  EXPECT_EQ(r.id, "sr-new");
  EXPECT_EQ(r.version, 3);
  EXPECT_EQ(r.stage, "stable");
  EXPECT_TRUE(r.is_active);
  EXPECT_EQ(r.release_mode, "manual");
  EXPECT_EQ(r.promoted_by, "alice");
  EXPECT_EQ(r.promoted_at, kT0 + Micros(5));
  EXPECT_EQ(r.change_summary, "faster");
  ASSERT_EQ(plan->candidate_updates.size(), 1U);
  EXPECT_EQ(plan->candidate_updates[0].status, "promoted");
  EXPECT_EQ(plan->candidate_updates[0].promotion_release_id, "sr-new");

  snap.candidate->deleted = Deletion{kT0, "alice", std::nullopt};
  EXPECT_EQ(plan_promotion(snap, "sc-1", req, "sr-new", kT0).error().code, ErrorCode::kNotFound);
}

// Rollback of R creates max+1 with P's candidate and stage, rollback_of R, and marks R's
// candidate rolled_back; no P is a 409, a deleted or unknown R a 404.
TEST(SkillRules, PlanRollback) {
  SkillKeySnapshot snap;
  snap.owner = "alice";
  snap.skill_key = "k";
  snap.releases = {release("v1", 1, false, "sc-a", "stable"), release("v2", 2, true, "sc-b"),
                   release("v3", 3, false, "sc-c"), release("v4", 4, true, "sc-d")};
  auto plan = plan_rollback(snap, "v3", "sr-n", kT0);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->release.version, 5);
  EXPECT_EQ(plan->release.candidate_id, "sc-a");
  EXPECT_EQ(plan->release.stage, "stable");
  EXPECT_EQ(plan->release.rollback_of, "v3");
  EXPECT_TRUE(plan->release.is_active);
  EXPECT_EQ(plan->release.release_mode, "manual");
  ASSERT_EQ(plan->candidate_updates.size(), 1U);
  EXPECT_EQ(plan->candidate_updates[0].candidate_id, "sc-c");
  EXPECT_EQ(plan->candidate_updates[0].status, "rolled_back");
  EXPECT_FALSE(plan->candidate_updates[0].promotion_release_id.has_value());

  auto first = plan_rollback(snap, "v1", "sr-n", kT0);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().code, ErrorCode::kConflict);
  EXPECT_EQ(plan_rollback(snap, "v4", "sr-n", kT0).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(plan_rollback(snap, "nope", "sr-n", kT0).error().code, ErrorCode::kNotFound);
}

// p95 by nearest rank: the ceil(0.95 n)-th smallest value, exact at multiples of 20.
TEST(SkillRules, P95NearestRank) {
  EXPECT_EQ(p95_nearest_rank({}), 0);
  EXPECT_EQ(p95_nearest_rank({7}), 7);
  EXPECT_EQ(p95_nearest_rank({5, 1}), 5);  // ceil(1.9) = 2
  std::vector<std::int64_t> v;
  for (int i = 20; i >= 1; --i) v.push_back(i);  // unsorted input
  EXPECT_EQ(p95_nearest_rank(v), 19);            // ceil(19.0) = 19
  v.push_back(21);
  EXPECT_EQ(p95_nearest_rank(v), 20);  // ceil(19.95) = 20
  std::vector<std::int64_t> hundred;
  for (int i = 1; i <= 100; ++i) hundred.push_back(i * 10);
  EXPECT_EQ(p95_nearest_rank(hundred), 950);
}

// Without samples: rates 0.0, p95 0, baseline defaults 1.0/0.0, neither healthy nor
// should_rollback (the reasons follow the formulas literally).
TEST(SkillRules, HealthWithoutSamples) {
  SkillRelease r = release("sr-1", 1);
  auto h = compute_release_health(r, {}, std::nullopt, kT0);
  EXPECT_EQ(h.current.samples, 0);
  EXPECT_EQ(h.current.success_rate, 0.0);
  EXPECT_EQ(h.current.error_rate, 0.0);
  EXPECT_EQ(h.current.p95_duration_ms, 0);
  EXPECT_EQ(h.baseline_success_rate, 1.0);
  EXPECT_EQ(h.baseline_error_rate, 0.0);
  EXPECT_EQ(h.baseline_samples, 0);
  EXPECT_EQ(h.success_drop, 1.0);
  EXPECT_EQ(h.error_rate_multiplier, 1.0);
  EXPECT_FALSE(h.healthy);
  EXPECT_FALSE(h.should_rollback);
  EXPECT_EQ(h.rollback_reasons, (std::vector<std::string>{"success_rate_drop"}));
  EXPECT_EQ(h.thresholds.success_drop, 0.03);
  EXPECT_EQ(h.thresholds.error_rate_multiplier, 2.0);
  // A previous release without samples in its window also gives the defaults.
  auto h2 = compute_release_health(r, samples(3, 0), std::vector<ExecutionSample>{}, kT0);
  EXPECT_EQ(h2.baseline_success_rate, 1.0);
  EXPECT_EQ(h2.baseline_samples, 0);
  EXPECT_TRUE(h2.healthy);
}

// The window is [promoted_at, promoted_at + 24 h] unless health_window_end_at is set, and is
// complete once now reaches its end.
TEST(SkillRules, HealthWindow) {
  SkillRelease r = release("sr-1", 1);
  auto h = compute_release_health(r, {}, std::nullopt, kT0 + std::chrono::hours(24) - Micros(1));
  EXPECT_EQ(h.window_start_at, kT0);
  EXPECT_EQ(h.window_end_at, kT0 + std::chrono::hours(24));
  EXPECT_FALSE(h.window_complete);
  EXPECT_TRUE(
      compute_release_health(r, {}, std::nullopt, kT0 + std::chrono::hours(24)).window_complete);
  r.health_window_end_at = kT0 + std::chrono::hours(1);
  h = compute_release_health(r, {}, std::nullopt, kT0 + std::chrono::hours(2));
  EXPECT_EQ(h.window_end_at, kT0 + std::chrono::hours(1));
  EXPECT_TRUE(h.window_complete);
}

// Error-rate multiplier: a ratio against the baseline; against a zero baseline 1e6 when there
// are errors, else 1.0; a regression only strictly above 2.0.
TEST(SkillRules, ErrorRateMultiplierEdges) {
  SkillRelease r = release("sr-2", 2);
  // Baseline without errors, current with one: 1e6, regression (and a success drop).
  auto h = compute_release_health(r, samples(9, 1), samples(10, 0), kT0);
  EXPECT_EQ(h.error_rate_multiplier, 1000000.0);
  EXPECT_EQ(h.rollback_reasons,
            (std::vector<std::string>{"success_rate_drop", "error_rate_regression"}));
  EXPECT_TRUE(h.should_rollback);
  EXPECT_FALSE(h.healthy);
  // Both without errors: 1.0, healthy.
  h = compute_release_health(r, samples(5, 0), samples(10, 0), kT0);
  EXPECT_EQ(h.error_rate_multiplier, 1.0);
  EXPECT_EQ(h.success_drop, 0.0);
  EXPECT_TRUE(h.healthy);
  EXPECT_TRUE(h.rollback_reasons.empty());
  // Exactly twice the baseline error rate (0.2 vs 0.1) is not a regression...
  h = compute_release_health(r, samples(80, 20), samples(90, 10), kT0);
  EXPECT_DOUBLE_EQ(h.error_rate_multiplier, 2.0);
  EXPECT_EQ(
      std::count(h.rollback_reasons.begin(), h.rollback_reasons.end(), "error_rate_regression"), 0);
  // ...three times is (0.3 vs 0.1, which is 2.9999999999999996 in doubles).
  h = compute_release_health(r, samples(70, 30), samples(90, 10), kT0);
  EXPECT_NEAR(h.error_rate_multiplier, 3.0, 1e-9);
  EXPECT_EQ(
      std::count(h.rollback_reasons.begin(), h.rollback_reasons.end(), "error_rate_regression"), 1);
  // Fewer errors than the baseline: a multiplier below 1.
  h = compute_release_health(r, samples(100, 0), samples(50, 50), kT0);
  EXPECT_EQ(h.error_rate_multiplier, 0.0);
  EXPECT_LT(h.success_drop, 0.0);
  EXPECT_TRUE(h.healthy);
}

// Success drop: a drop of exactly the threshold (1.0 → 0.97) is not a reason, more is.
TEST(SkillRules, SuccessDropEdges) {
  SkillRelease r = release("sr-2", 2);
  auto h = compute_release_health(r, samples(97, 3), std::nullopt, kT0);
  EXPECT_NEAR(h.success_drop, 0.03, 1e-12);
  // Against the default baseline (0 errors) any error is a 1e6 multiplier.
  EXPECT_EQ(h.rollback_reasons, (std::vector<std::string>{"error_rate_regression"}));
  h = compute_release_health(r, samples(97, 3), samples(100, 0), kT0);
  EXPECT_EQ(std::count(h.rollback_reasons.begin(), h.rollback_reasons.end(), "success_rate_drop"),
            0);
  h = compute_release_health(r, samples(96, 4), samples(100, 0), kT0);
  EXPECT_EQ(std::count(h.rollback_reasons.begin(), h.rollback_reasons.end(), "success_rate_drop"),
            1);
  // Baseline stats are those of the previous release's samples.
  h = compute_release_health(r, samples(3, 1, 100), samples(1, 3), kT0);
  EXPECT_EQ(h.baseline_samples, 4);
  EXPECT_EQ(h.baseline_success_rate, 0.25);
  EXPECT_EQ(h.baseline_error_rate, 0.75);
  EXPECT_EQ(h.current.success_rate, 0.75);
  EXPECT_EQ(h.current.p95_duration_ms, 100);
  EXPECT_EQ(h.success_drop, -0.5);
  EXPECT_EQ(h.error_rate_multiplier, 0.25 / 0.75);
  EXPECT_TRUE(h.healthy);
}

// ---------------------------------------------------------------- service

class SkillServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteStore::open(":memory:", io.get_executor());
    ASSERT_TRUE(s.ok()) << s.error().context;
    store = std::move(*s);
    skills = std::make_unique<SkillService>(*store, clock);
  }

  std::string exec(std::optional<std::string> tags = std::nullopt, bool ok = true,
                   std::int64_t ms = 10, std::string owner = "alice") {
    Execution e;
    e.id = new_id("exec-");
    e.owner = std::move(owner);
    e.sandbox_id = "sandbox-000000000001";
    e.exec_type = "python";
    e.code = "1";
    e.success = ok;
    e.execution_time_ms = ms;
    e.tags = tags ? normalize_tags(*tags) : std::nullopt;
    e.created_at = clock.now();
    EXPECT_TRUE(run(io, store->insert_execution(e)).ok());
    return e.id;
  }

  SkillCandidate candidate(std::string key = "k", std::string owner = "alice") {
    NewCandidate req;
    req.skill_key = std::move(key);
    req.source_execution_ids = {exec(std::nullopt, true, 10, owner)};
    auto c = run(io, skills->create_candidate(owner, req));
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    return c.ok() ? *c : SkillCandidate{};
  }

  SkillCandidate passed(std::string key = "k") {
    SkillCandidate c = candidate(std::move(key));
    EvaluationRequest ev;
    ev.passed = true;
    EXPECT_TRUE(run(io, skills->evaluate("alice", c.id, ev)).ok());
    return c;
  }

  SkillRelease promote(const std::string& candidate_id, std::string stage = "canary") {
    PromotionRequest req;
    req.stage = std::move(stage);
    auto r = run(io, skills->promote("alice", candidate_id, req));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : SkillRelease{};
  }

  std::vector<SkillRelease> releases(bool active_only = false) {
    ReleaseFilter f;
    f.active_only = active_only;
    auto page = run(io, skills->list_releases("alice", f));
    EXPECT_TRUE(page.ok());
    return page.ok() ? page->items : std::vector<SkillRelease>{};
  }

  SkillCandidate get(const std::string& id) {
    auto c = run(io, skills->get_candidate("alice", id));
    EXPECT_TRUE(c.ok());
    return c.ok() ? *c : SkillCandidate{};
  }

  asio::io_context io;
  ManualClock clock{kT0};
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<SkillService> skills;
};

// Payloads: stored per owner with a blob: reference, 404 for unknown or foreign ones.
TEST_F(SkillServiceTest, Payloads) {
  auto created =
      run(io, skills->create_payload("alice", boost::json::parse(R"([1,{"a":null}])"), "generic"));
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->id.rfind("blob-", 0), 0U);
  EXPECT_EQ(created->id.size(), 17U);
  const std::string ref = make_payload_ref(created->id);
  auto got = run(io, skills->get_payload("alice", ref));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->payload, boost::json::parse(R"([1,{"a":null}])"));
  EXPECT_EQ(run(io, skills->get_payload("bob", ref)).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(run(io, skills->get_payload("alice", "blob:blob-000000000000")).error().code,
            ErrorCode::kNotFound);
  EXPECT_EQ(run(io, skills->get_payload("alice", "s3://x")).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(run(io, skills->create_payload("alice", 3, "generic")).error().code,
            ErrorCode::kSchema);
}

// Candidate creation: trimmed key, draft, owner as created_by; 400s in the spec's order.
TEST_F(SkillServiceTest, CreateCandidateValidation) {
  NewCandidate req;
  req.skill_key = "  ";
  req.source_execution_ids = {};
  auto r = run(io, skills->create_candidate("alice", req));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("skill_key"), std::string::npos);
  req.skill_key = " etl ";
  r = run(io, skills->create_candidate("alice", req));
  EXPECT_NE(r.error().message.find("source_execution_ids"), std::string::npos);
  const std::string mine = exec();
  const std::string bobs = exec(std::nullopt, true, 1, "bob");
  req.source_execution_ids = {mine, bobs};
  r = run(io, skills->create_candidate("alice", req));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "Execution ID not found or not owned: " + bobs);
  req.source_execution_ids = {mine};
  clock.advance(Micros(7));
  r = run(io, skills->create_candidate("alice", req));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->skill_key, "etl");
  EXPECT_EQ(r->status, "draft");
  EXPECT_EQ(r->created_by, "alice");
  EXPECT_EQ(r->created_at, kT0 + Micros(7));
  EXPECT_EQ(r->id.rfind("sc-", 0), 0U);
}

// Evaluation sets latest_* and the status from any status, and is recorded as the owner's.
TEST_F(SkillServiceTest, EvaluateStateMachine) {
  SkillCandidate c = candidate();
  EvaluationRequest fail;
  fail.passed = false;
  fail.score = 0.2;
  fail.report = "bad";
  auto e = run(io, skills->evaluate("alice", c.id, fail));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->id.rfind("se-", 0), 0U);
  EXPECT_EQ(e->evaluated_by, "alice");
  EXPECT_EQ(e->report, "bad");
  EXPECT_EQ(get(c.id).status, "rejected");
  EXPECT_EQ(get(c.id).latest_score, 0.2);
  EXPECT_EQ(get(c.id).latest_pass, false);
  EXPECT_EQ(run(io, skills->promote("alice", c.id, {})).error().code, ErrorCode::kConflict);

  EvaluationRequest pass;
  pass.passed = true;
  ASSERT_TRUE(run(io, skills->evaluate("alice", c.id, pass)).ok());
  EXPECT_EQ(get(c.id).status, "evaluating");
  promote(c.id);
  EXPECT_EQ(get(c.id).status, "promoted");
  ASSERT_TRUE(run(io, skills->evaluate("alice", c.id, pass)).ok());
  EXPECT_EQ(get(c.id).status, "evaluating");  // evaluating again re-applies the rules

  EXPECT_EQ(run(io, skills->evaluate("bob", c.id, pass)).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(run(io, skills->evaluate("alice", "sc-000000000000", pass)).error().code,
            ErrorCode::kNotFound);
}

// Promotion: stage checked first (400), unknown 404, unevaluated 409 with candidate_id;
// versions per key continue past deleted releases; the new one is the only active one.
TEST_F(SkillServiceTest, Promotion) {
  PromotionRequest bad;
  bad.stage = "beta";
  EXPECT_EQ(run(io, skills->promote("alice", "sc-000000000000", bad)).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(run(io, skills->promote("alice", "sc-000000000000", {})).error().code,
            ErrorCode::kNotFound);
  SkillCandidate draft = candidate();
  auto refused = run(io, skills->promote("alice", draft.id, {}));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_EQ(std::string(refused.error().details.at("candidate_id").as_string()), draft.id);

  SkillCandidate a = passed();
  SkillCandidate b = passed();
  SkillCandidate other = passed("other");
  SkillRelease r1 = promote(a.id);
  clock.advance(Micros(1));
  SkillRelease r2 = promote(b.id, "stable");
  SkillRelease o1 = promote(other.id);
  EXPECT_EQ(r1.version, 1);
  EXPECT_EQ(r2.version, 2);
  EXPECT_EQ(r2.stage, "stable");
  EXPECT_EQ(o1.version, 1);
  EXPECT_EQ(r2.promoted_by, "alice");
  EXPECT_EQ(r2.promoted_at, kT0 + Micros(1));
  EXPECT_EQ(get(b.id).promotion_release_id, r2.id);
  EXPECT_EQ(releases(true).size(), 2U);  // one per key

  ASSERT_TRUE(run(io, skills->delete_release("alice", r2.id, std::nullopt)).ok());
  SkillRelease r3 = promote(a.id);
  EXPECT_EQ(r3.version, 3);
  EXPECT_EQ(get(a.id).promotion_release_id, r3.id);
}

struct Outcome {
  bool done = false;
  std::string failure;
};

asio::awaitable<void> promote_concurrently(SkillService* skills, std::string candidate_id,
                                           Outcome* out) {
  PromotionRequest req;
  auto op = skills->promote("alice", std::move(candidate_id), std::move(req));
  auto r = co_await std::move(op);
  if (!r) out->failure = r.error().message;
  out->done = true;
}

asio::awaitable<void> rollback_concurrently(SkillService* skills, std::string release_id,
                                            Outcome* out) {
  auto op = skills->rollback("alice", std::move(release_id));
  auto r = co_await std::move(op);
  if (!r) out->failure = r.error().message;
  out->done = true;
}

// 20 concurrent promotions of candidates of one key get versions 1..20, each once, and leave
// exactly one active release; concurrent rollbacks keep both invariants too.
TEST_F(SkillServiceTest, ConcurrentPromotionsAndRollbacks) {
  constexpr int kCount = 20;
  std::vector<SkillCandidate> cands;
  for (int i = 0; i < kCount; ++i) cands.push_back(passed());
  std::vector<Outcome> outcomes(kCount);
  for (int i = 0; i < kCount; ++i) {
    asio::co_spawn(io, promote_concurrently(skills.get(), cands[i].id, &outcomes[i]),
                   asio::detached);
  }
  ASSERT_TRUE(run_until(io, [&] {
    return std::all_of(outcomes.begin(), outcomes.end(), [](const Outcome& o) { return o.done; });
  }));
  for (const auto& o : outcomes) EXPECT_EQ(o.failure, "");
  auto all = releases();
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kCount));
  std::set<std::int64_t> versions;
  for (const auto& r : all) versions.insert(r.version);
  EXPECT_EQ(versions.size(), static_cast<std::size_t>(kCount));
  EXPECT_EQ(*versions.rbegin(), kCount);
  EXPECT_EQ(releases(true).size(), 1U);

  std::vector<Outcome> rollbacks(5);
  for (int i = 0; i < 5; ++i) {
    // all[i] is version 20 - i: each has a previous release.
    asio::co_spawn(io, rollback_concurrently(skills.get(), all[i].id, &rollbacks[i]),
                   asio::detached);
  }
  ASSERT_TRUE(run_until(io, [&] {
    return std::all_of(rollbacks.begin(), rollbacks.end(), [](const Outcome& o) { return o.done; });
  }));
  for (const auto& o : rollbacks) EXPECT_EQ(o.failure, "");
  all = releases();
  versions.clear();
  for (const auto& r : all) versions.insert(r.version);
  EXPECT_EQ(versions.size(), static_cast<std::size_t>(kCount + 5));
  EXPECT_EQ(*versions.rbegin(), kCount + 5);
  EXPECT_EQ(releases(true).size(), 1U);
}

// Rollback (§12.9): N = max+1 with P's candidate and stage, R's candidate rolled_back,
// deleted releases skipped as targets, 409 without a previous release, 404 for deleted R.
TEST_F(SkillServiceTest, Rollback) {
  SkillCandidate a = passed();
  SkillCandidate b = passed();
  SkillCandidate c = passed();
  SkillRelease r1 = promote(a.id, "stable");
  SkillRelease r2 = promote(b.id);
  SkillRelease r3 = promote(c.id);
  auto none = run(io, skills->rollback("alice", r1.id));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kConflict);

  ASSERT_TRUE(run(io, skills->delete_release("alice", r2.id, std::string("bad"))).ok());
  clock.advance(Micros(9));
  auto n = run(io, skills->rollback("alice", r3.id));
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(n->version, 4);
  EXPECT_EQ(n->candidate_id, a.id);
  EXPECT_EQ(n->stage, "stable");
  EXPECT_EQ(n->rollback_of, r3.id);
  EXPECT_TRUE(n->is_active);
  EXPECT_EQ(n->promoted_at, kT0 + Micros(9));
  EXPECT_EQ(get(c.id).status, "rolled_back");
  EXPECT_EQ(get(c.id).promotion_release_id, r3.id);
  auto active = releases(true);
  ASSERT_EQ(active.size(), 1U);
  EXPECT_EQ(active[0].id, n->id);

  EXPECT_EQ(run(io, skills->rollback("alice", r2.id)).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(run(io, skills->rollback("bob", r3.id)).error().code, ErrorCode::kNotFound);
}

// Health reads the owner's executions tagged release:<id> inside the window; the baseline is
// the previous live version in its own window.
TEST_F(SkillServiceTest, HealthFromExecutions) {
  SkillCandidate a = passed();
  SkillCandidate b = passed();
  exec("release:sr-000000000000");  // before anything was promoted
  SkillRelease r1 = promote(a.id);
  clock.advance(Micros(10));
  exec("release:" + r1.id, true, 5);
  exec("release:" + r1.id + ",skill:k", false, 7);
  exec("release:" + r1.id, true, 5, "bob");  // another owner's
  clock.advance(std::chrono::hours(25));     // past r1's window
  exec("release:" + r1.id, false, 9);        // outside r1's window
  SkillRelease r2 = promote(b.id);
  clock.advance(Micros(1));
  for (int i = 0; i < 3; ++i) exec("release:" + r2.id, true, 100 + i);
  exec("release:" + r2.id, false, 500);

  auto h = run(io, skills->health("alice", r2.id));
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(h->release_id, r2.id);
  EXPECT_EQ(h->window_start_at, r2.promoted_at);
  EXPECT_EQ(h->window_end_at, r2.promoted_at + std::chrono::hours(24));
  EXPECT_FALSE(h->window_complete);
  EXPECT_EQ(h->current.samples, 4);
  EXPECT_EQ(h->current.success_rate, 0.75);
  EXPECT_EQ(h->current.p95_duration_ms, 500);
  EXPECT_EQ(h->baseline_samples, 2);
  EXPECT_EQ(h->baseline_success_rate, 0.5);
  EXPECT_EQ(h->baseline_error_rate, 0.5);
  EXPECT_EQ(h->success_drop, -0.25);
  EXPECT_EQ(h->error_rate_multiplier, 0.5);
  EXPECT_TRUE(h->healthy);
  EXPECT_FALSE(h->should_rollback);

  h = run(io, skills->health("alice", r1.id));
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->window_complete);
  EXPECT_EQ(h->current.samples, 2);
  EXPECT_EQ(h->baseline_samples, 0);  // no previous version

  // Deleting r1 leaves r2 without a baseline release: defaults 1.0 / 0.0.
  ASSERT_TRUE(run(io, skills->delete_release("alice", r1.id, std::nullopt)).ok());
  h = run(io, skills->health("alice", r2.id));
  EXPECT_EQ(h->baseline_samples, 0);
  EXPECT_EQ(h->baseline_success_rate, 1.0);
  EXPECT_EQ(h->error_rate_multiplier, 1000000.0);
  EXPECT_TRUE(h->should_rollback);
  EXPECT_EQ(run(io, skills->health("alice", r1.id)).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(run(io, skills->health("bob", r2.id)).error().code, ErrorCode::kNotFound);
}

// Soft deletes (§12.11): the deletion record, hiding, 409 for a candidate backing an active
// release, reset of promotion_release_id, no implicit re-activation, repeat → 404.
TEST_F(SkillServiceTest, SoftDeletes) {
  SkillCandidate a = passed();
  SkillCandidate b = passed();
  SkillRelease r1 = promote(a.id);
  SkillRelease r2 = promote(b.id);
  auto busy = run(io, skills->delete_candidate("alice", b.id, std::nullopt));
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code, ErrorCode::kConflict);
  EXPECT_EQ(std::string(busy.error().details.at("candidate_id").as_string()), b.id);

  clock.advance(Micros(3));
  auto d = run(io, skills->delete_release("alice", r2.id, std::string("cleanup")));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->at, kT0 + Micros(3));
  EXPECT_EQ(d->by, "alice");
  EXPECT_EQ(d->reason, "cleanup");
  EXPECT_FALSE(get(b.id).promotion_release_id.has_value());
  EXPECT_TRUE(releases(true).empty());  // r1 is not re-activated
  EXPECT_EQ(releases().size(), 1U);
  EXPECT_EQ(run(io, skills->delete_release("alice", r2.id, std::nullopt)).error().code,
            ErrorCode::kNotFound);

  // a backs r1, which is inactive now: deletable.
  auto dc = run(io, skills->delete_candidate("alice", a.id, std::nullopt));
  ASSERT_TRUE(dc.ok());
  EXPECT_FALSE(dc->reason.has_value());
  EXPECT_EQ(run(io, skills->get_candidate("alice", a.id)).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(run(io, skills->delete_candidate("alice", a.id, std::nullopt)).error().code,
            ErrorCode::kNotFound);
  auto page = run(io, skills->list_candidates("alice", {}));
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 1);
  EXPECT_EQ(run(io, skills->promote("alice", a.id, {})).error().code, ErrorCode::kNotFound);
}

// List filters: an unknown status or stage is a 400; valid filters narrow.
TEST_F(SkillServiceTest, ListFilters) {
  SkillCandidate a = passed("x");
  candidate("y");
  CandidateFilter f;
  f.status = "bogus";
  EXPECT_EQ(run(io, skills->list_candidates("alice", f)).error().code, ErrorCode::kInvalidArgument);
  f.status = "evaluating";
  auto page = run(io, skills->list_candidates("alice", f));
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->total, 1);
  EXPECT_EQ(page->items[0].id, a.id);
  ReleaseFilter rf;
  rf.stage = "prod";
  EXPECT_EQ(run(io, skills->list_releases("alice", rf)).error().code, ErrorCode::kInvalidArgument);
  promote(a.id, "stable");
  rf.stage = "canary";
  EXPECT_EQ(run(io, skills->list_releases("alice", rf))->total, 0);
  rf.stage = "stable";
  EXPECT_EQ(run(io, skills->list_releases("alice", rf))->total, 1);
  EXPECT_EQ(run(io, skills->list_releases("bob", {}))->total, 0);
}

}  // namespace
}  // namespace shipyard::bay::testing
