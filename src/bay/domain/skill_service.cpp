#include "bay/domain/skill_service.hpp"

#include <algorithm>
#include <utility>

#include "bay/domain/rules.hpp"
#include "common/json.hpp"
#include "common/strings.hpp"

namespace shipyard::bay {

namespace {

constexpr std::string_view kBlobPrefix = "blob:";

// Rates are ratios of small integers; a difference that equals a threshold in exact
// arithmetic (1.0 - 0.97 vs 0.03) must not exceed it through rounding.
constexpr double kRateEpsilon = 1e-9;

// Errors of §12, built in one place so that messages stay exact.
Error not_passed(const std::string& candidate_id) {
  boost::json::object d{{"candidate_id", candidate_id}};
  return conflict("Candidate has not passed evaluation: " + candidate_id, std::move(d));
}

}  // namespace

// ---------------------------------------------------------------- rules

const std::vector<std::string>& candidate_statuses() {
  static const std::vector<std::string> kStatuses{"draft",           "evaluating",      "promoted",
                                                  "promoted_canary", "promoted_stable", "rejected",
                                                  "rolled_back"};
  return kStatuses;
}

bool is_candidate_status(std::string_view s) {
  const auto& all = candidate_statuses();
  return std::find(all.begin(), all.end(), s) != all.end();
}

bool is_release_stage(std::string_view s) { return s == "canary" || s == "stable"; }

std::string status_after_evaluation(bool passed) { return passed ? "evaluating" : "rejected"; }

Result<std::string> parse_payload_ref(std::string_view ref) {
  if (ref.substr(0, kBlobPrefix.size()) != kBlobPrefix) {
    return validation_error("Unsupported payload_ref: " + std::string(ref));
  }
  std::string_view id = ref.substr(kBlobPrefix.size());
  if (id.empty()) return validation_error("Invalid payload_ref: " + std::string(ref));
  return std::string(id);
}

std::string make_payload_ref(std::string_view blob_id) {
  return std::string(kBlobPrefix) + std::string(blob_id);
}

std::int64_t next_release_version(const std::vector<SkillRelease>& releases) {
  std::int64_t max = 0;
  for (const auto& r : releases) max = std::max(max, r.version);
  return max + 1;
}

const SkillRelease* rollback_target(const std::vector<SkillRelease>& releases,
                                    const SkillRelease& r) {
  const SkillRelease* best = nullptr;
  for (const auto& p : releases) {
    if (p.deleted || p.version >= r.version || p.skill_key != r.skill_key) continue;
    if (best == nullptr || p.version > best->version) best = &p;
  }
  return best;
}

Result<SkillPlan> plan_promotion(const SkillKeySnapshot& snap, const std::string& candidate_id,
                                 const PromotionRequest& req, const std::string& release_id,
                                 TimePoint now) {
  // Re-checked here, inside the transaction: the candidate may have been deleted or
  // re-evaluated since the caller looked it up.
  if (!snap.candidate || snap.candidate->deleted || snap.candidate->id != candidate_id) {
    return not_found("candidate", candidate_id);
  }
  if (snap.candidate->latest_pass != true) return not_passed(candidate_id);
  SkillPlan plan;
  SkillRelease& r = plan.release;
  r.id = release_id;
  r.owner = snap.owner;
  r.skill_key = snap.skill_key;
  r.candidate_id = candidate_id;
  r.version = next_release_version(snap.releases);
  r.stage = req.stage;
  r.is_active = true;
  r.release_mode = "manual";
  r.promoted_by = snap.owner;
  r.promoted_at = now;
  r.upgrade_of_release_id = req.upgrade_of_release_id;
  r.upgrade_reason = req.upgrade_reason;
  r.change_summary = req.change_summary;
  plan.candidate_updates.push_back(CandidateStatusUpdate{candidate_id, "promoted", release_id});
  return plan;
}

Result<SkillPlan> plan_rollback(const SkillKeySnapshot& snap, const std::string& release_id,
                                const std::string& new_release_id, TimePoint now) {
  auto it = std::find_if(snap.releases.begin(), snap.releases.end(),
                         [&](const SkillRelease& r) { return r.id == release_id; });
  if (it == snap.releases.end() || it->deleted) return not_found("release", release_id);
  const SkillRelease& r = *it;
  const SkillRelease* p = rollback_target(snap.releases, r);
  if (p == nullptr) {
    boost::json::object d{{"release_id", r.id}, {"skill_key", r.skill_key}};
    return conflict("No previous release to roll back to: " + r.id, std::move(d));
  }
  SkillPlan plan;
  SkillRelease& n = plan.release;
  n.id = new_release_id;
  n.owner = snap.owner;
  n.skill_key = snap.skill_key;
  n.candidate_id = p->candidate_id;
  n.version = next_release_version(snap.releases);
  n.stage = p->stage;
  n.is_active = true;
  n.release_mode = "manual";
  n.promoted_by = snap.owner;
  n.promoted_at = now;
  n.rollback_of = r.id;
  plan.candidate_updates.push_back(CandidateStatusUpdate{r.candidate_id, "rolled_back", {}});
  return plan;
}

std::int64_t p95_nearest_rank(std::vector<std::int64_t> values) {
  if (values.empty()) return 0;
  const std::size_t n = values.size();
  // ceil(0.95 n) in integers: no floating-point rounding at exact multiples.
  const std::size_t rank = (95 * n + 99) / 100;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(rank - 1),
                   values.end());
  return values[rank - 1];
}

WindowStats window_stats(const std::vector<ExecutionSample>& samples) {
  WindowStats w;
  w.samples = static_cast<std::int64_t>(samples.size());
  if (samples.empty()) return w;
  std::int64_t ok = 0;
  std::vector<std::int64_t> durations;
  durations.reserve(samples.size());
  for (const auto& s : samples) {
    if (s.success) ++ok;
    durations.push_back(s.execution_time_ms);
  }
  w.success_rate = static_cast<double>(ok) / static_cast<double>(w.samples);
  w.error_rate = static_cast<double>(w.samples - ok) / static_cast<double>(w.samples);
  w.p95_duration_ms = p95_nearest_rank(std::move(durations));
  return w;
}

TimePoint health_window_end(const SkillRelease& r) {
  if (r.health_window_end_at) return *r.health_window_end_at;
  return r.promoted_at + std::chrono::duration_cast<Micros>(kHealthWindow);
}

ReleaseHealth compute_release_health(const SkillRelease& r,
                                     const std::vector<ExecutionSample>& samples,
                                     const std::optional<std::vector<ExecutionSample>>& baseline,
                                     TimePoint now, HealthThresholds thresholds) {
  ReleaseHealth h;
  h.release_id = r.id;
  h.skill_key = r.skill_key;
  h.stage = r.stage;
  h.window_start_at = r.promoted_at;
  h.window_end_at = health_window_end(r);
  h.window_complete = now >= h.window_end_at;
  h.current = window_stats(samples);
  h.thresholds = thresholds;
  if (baseline && !baseline->empty()) {
    WindowStats b = window_stats(*baseline);
    h.baseline_samples = b.samples;
    h.baseline_success_rate = b.success_rate;
    h.baseline_error_rate = b.error_rate;
  }
  h.success_drop = h.baseline_success_rate - h.current.success_rate;
  if (h.baseline_error_rate > 0.0) {
    h.error_rate_multiplier = h.current.error_rate / h.baseline_error_rate;
  } else {
    h.error_rate_multiplier = h.current.error_rate > 0.0 ? 1000000.0 : 1.0;
  }
  // The reasons follow the spec literally, also without samples; healthy and should_rollback
  // both require samples, so an unobserved release is neither.
  if (h.success_drop > thresholds.success_drop + kRateEpsilon) {
    h.rollback_reasons.emplace_back("success_rate_drop");
  }
  if (h.error_rate_multiplier > thresholds.error_rate_multiplier + kRateEpsilon) {
    h.rollback_reasons.emplace_back("error_rate_regression");
  }
  h.healthy = h.current.samples > 0 && h.rollback_reasons.empty();
  h.should_rollback = h.current.samples > 0 && !h.rollback_reasons.empty();
  return h;
}

// ---------------------------------------------------------------- service

Async<SkillPayload> SkillService::create_payload(std::string owner, boost::json::value payload,
                                                 std::string kind) {
  if (!payload.is_object() && !payload.is_array()) {
    co_return schema_error("body", "payload", "Input should be a valid dictionary or list",
                           "model_type");
  }
  SkillPayload p;
  p.id = new_id("blob-");
  p.owner = std::move(owner);
  p.kind = std::move(kind);
  p.payload = std::move(payload);
  p.created_at = clock_.now();
  auto s = co_await store_.insert_skill_payload(p);
  if (!s) co_return std::move(s).error();
  co_return p;
}

Async<SkillPayload> SkillService::get_payload(std::string owner, std::string ref) {
  auto id = parse_payload_ref(ref);
  if (!id) co_return std::move(id).error();
  auto p = co_await store_.find_skill_payload(std::move(owner), std::move(*id));
  if (!p) co_return std::move(p).error();
  if (!*p) co_return not_found("payload", ref);
  co_return std::move(**p);
}

Async<SkillCandidate> SkillService::create_candidate(std::string owner, NewCandidate req) {
  std::string key(trim(req.skill_key));
  if (key.empty()) co_return validation_error("skill_key must not be empty");
  if (req.source_execution_ids.empty()) {
    co_return validation_error("source_execution_ids must not be empty");
  }
  auto missing = co_await store_.missing_executions(owner, req.source_execution_ids);
  if (!missing) co_return std::move(missing).error();
  if (!missing->empty()) {
    Error e = validation_error("Execution ID not found or not owned: " + missing->front());
    e.details["execution_id"] = missing->front();
    co_return e;
  }
  const TimePoint now = clock_.now();
  SkillCandidate c;
  c.id = new_id("sc-");
  c.owner = owner;
  c.skill_key = std::move(key);
  c.scenario_key = std::move(req.scenario_key);
  c.payload_ref = std::move(req.payload_ref);
  c.summary = std::move(req.summary);
  c.usage_notes = std::move(req.usage_notes);
  c.preconditions = std::move(req.preconditions);
  c.postconditions = std::move(req.postconditions);
  c.source_execution_ids = std::move(req.source_execution_ids);
  c.status = "draft";
  c.created_by = owner;
  c.created_at = now;
  c.updated_at = now;
  auto s = co_await store_.insert_candidate(c);
  if (!s) co_return std::move(s).error();
  co_return c;
}

Async<CandidatePage> SkillService::list_candidates(std::string owner, CandidateFilter filter) {
  if (filter.status && !is_candidate_status(*filter.status)) {
    co_return validation_error("Invalid candidate status: " + *filter.status);
  }
  CandidateQuery q;
  q.owner = std::move(owner);
  q.status = std::move(filter.status);
  q.skill_key = std::move(filter.skill_key);
  q.limit = filter.limit;
  q.offset = filter.offset;
  co_return co_await store_.list_candidates(std::move(q));
}

Async<SkillCandidate> SkillService::get_candidate(std::string owner, std::string id) {
  auto c = co_await store_.find_candidate(std::move(owner), id);
  if (!c) co_return std::move(c).error();
  if (!*c) co_return not_found("candidate", id);
  co_return std::move(**c);
}

Async<SkillEvaluation> SkillService::evaluate(std::string owner, std::string candidate_id,
                                              EvaluationRequest req) {
  SkillEvaluation e;
  e.id = new_id("se-");
  e.owner = owner;
  e.candidate_id = candidate_id;
  e.benchmark_id = std::move(req.benchmark_id);
  e.score = req.score;
  e.passed = req.passed;
  e.report = std::move(req.report);
  e.evaluated_by = owner;
  e.created_at = clock_.now();
  std::string status = status_after_evaluation(req.passed);
  auto op = store_.record_evaluation(e, std::move(status));
  auto updated = co_await std::move(op);
  if (!updated) co_return std::move(updated).error();
  if (!*updated) co_return not_found("candidate", candidate_id);
  co_return e;
}

Async<SkillRelease> SkillService::promote(std::string owner, std::string candidate_id,
                                          PromotionRequest req) {
  if (!is_release_stage(req.stage)) co_return validation_error("Invalid stage: " + req.stage);
  auto found = co_await store_.find_candidate(owner, candidate_id);
  if (!found) co_return std::move(found).error();
  if (!*found) co_return not_found("candidate", candidate_id);
  // Answered before taking the write lock; plan_promotion checks again inside it.
  if ((*found)->latest_pass != true) co_return not_passed(candidate_id);
  const std::string key = (*found)->skill_key;
  SkillPlanner planner = [clock = &clock_, candidate_id, req = std::move(req),
                          release_id = new_id("sr-")](const SkillKeySnapshot& snap) {
    return plan_promotion(snap, candidate_id, req, release_id, clock->now());
  };
  std::optional<std::string> with_candidate = candidate_id;
  auto op =
      store_.apply_skill_plan(std::move(owner), key, std::move(with_candidate), std::move(planner));
  co_return co_await std::move(op);
}

Async<ReleasePage> SkillService::list_releases(std::string owner, ReleaseFilter filter) {
  if (filter.stage && !is_release_stage(*filter.stage)) {
    co_return validation_error("Invalid stage: " + *filter.stage);
  }
  ReleaseQuery q;
  q.owner = std::move(owner);
  q.skill_key = std::move(filter.skill_key);
  q.active_only = filter.active_only;
  q.stage = std::move(filter.stage);
  q.limit = filter.limit;
  q.offset = filter.offset;
  co_return co_await store_.list_releases(std::move(q));
}

Async<SkillRelease> SkillService::rollback(std::string owner, std::string release_id) {
  auto found = co_await store_.find_release(owner, release_id);
  if (!found) co_return std::move(found).error();
  if (!*found) co_return not_found("release", release_id);
  const std::string key = (*found)->skill_key;
  SkillPlanner planner = [clock = &clock_, release_id,
                          new_release_id = new_id("sr-")](const SkillKeySnapshot& snap) {
    return plan_rollback(snap, release_id, new_release_id, clock->now());
  };
  auto op = store_.apply_skill_plan(std::move(owner), key, std::nullopt, std::move(planner));
  co_return co_await std::move(op);
}

Async<ReleaseHealth> SkillService::health(std::string owner, std::string release_id) {
  auto found = co_await store_.find_release(owner, release_id);
  if (!found) co_return std::move(found).error();
  if (!*found) co_return not_found("release", release_id);
  const SkillRelease r = std::move(**found);
  auto samples = co_await store_.release_samples(owner, r.id, r.promoted_at, health_window_end(r));
  if (!samples) co_return std::move(samples).error();
  // The baseline is the previous *live* version, the same release a rollback would return
  // to (§12.9): a deleted release is gone from every view of the API.
  auto prev = co_await store_.previous_release(owner, r.skill_key, r.version);
  if (!prev) co_return std::move(prev).error();
  std::optional<std::vector<ExecutionSample>> baseline;
  if (*prev) {
    const SkillRelease& p = **prev;
    auto b = co_await store_.release_samples(owner, p.id, p.promoted_at, health_window_end(p));
    if (!b) co_return std::move(b).error();
    baseline = std::move(*b);
  }
  co_return compute_release_health(r, *samples, baseline, clock_.now());
}

Async<Deletion> SkillService::delete_release(std::string owner, std::string id,
                                             std::optional<std::string> reason) {
  Deletion d{clock_.now(), owner, std::move(reason)};
  auto r = co_await store_.delete_release(std::move(owner), id, d);
  if (!r) co_return std::move(r).error();
  if (!*r) co_return not_found("release", id);
  co_return d;
}

Async<Deletion> SkillService::delete_candidate(std::string owner, std::string id,
                                               std::optional<std::string> reason) {
  Deletion d{clock_.now(), owner, std::move(reason)};
  auto r = co_await store_.delete_candidate(std::move(owner), id, d);
  if (!r) co_return std::move(r).error();
  if (!r->active_release_ids.empty()) {
    boost::json::array ids;
    for (const auto& rid : r->active_release_ids) ids.emplace_back(rid);
    boost::json::object details{{"candidate_id", id}, {"active_release_ids", std::move(ids)}};
    co_return conflict("Candidate backs an active release: " + id, std::move(details));
  }
  if (!r->candidate) co_return not_found("candidate", id);
  co_return d;
}

}  // namespace shipyard::bay
