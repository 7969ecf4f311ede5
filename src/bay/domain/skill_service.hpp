// The skills lifecycle of bay-api-v1.md §12: payload blobs, candidates, evaluations,
// promotion to releases, rollback, release health and soft deletes — domain rules over a
// SkillStore, no HTTP.
//
// The rules are free functions (pure, unit-tested without a store); SkillService sequences
// them with the store. Promotion and rollback hand a planner built from these rules to
// SkillStore::apply_skill_plan, which runs it inside the store's write transaction, so the
// version assignment and the single active release per key hold under concurrency.
//
// Threading: SkillService runs on Bay's I/O executor; the planners it builds run on the
// store's database thread and only read the (thread-safe) Clock.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bay/domain/clock.hpp"
#include "bay/store/skill_store.hpp"

namespace shipyard::bay {

// ---------------------------------------------------------------- rules

// The health window of a release without an explicit health_window_end_at (§12.10).
inline constexpr std::chrono::hours kHealthWindow{24};

// Candidate status values (§12.1), in the order the API documents them.
const std::vector<std::string>& candidate_statuses();
bool is_candidate_status(std::string_view s);
bool is_release_stage(std::string_view s);  // canary | stable
// §12.6: evaluating when passed, rejected otherwise — from any status.
std::string status_after_evaluation(bool passed);

// "blob:<id>" → id. Not starting with "blob:" → 400 "Unsupported payload_ref: …"; an empty
// id → 400 "Invalid payload_ref: …" (§12.2).
Result<std::string> parse_payload_ref(std::string_view ref);
std::string make_payload_ref(std::string_view blob_id);

// 1 + the highest version among `releases` (deleted ones included), 1 when there are none.
std::int64_t next_release_version(const std::vector<SkillRelease>& releases);
// §12.9: the highest-version non-deleted release of `releases` with a version below
// `r.version`, or nullptr.
const SkillRelease* rollback_target(const std::vector<SkillRelease>& releases,
                                    const SkillRelease& r);

struct PromotionRequest {
  std::string stage = "canary";
  std::optional<std::string> upgrade_of_release_id;
  std::optional<std::string> upgrade_reason;
  std::optional<std::string> change_summary;
};

// §12.7 over a snapshot of the candidate's key: 404 unless the snapshot holds the live
// candidate, 409 {candidate_id} unless its latest_pass is true; otherwise release
// `release_id` with the next version, promoted by the owner at `now`, and the candidate
// promoted with promotion_release_id.
Result<SkillPlan> plan_promotion(const SkillKeySnapshot& snap, const std::string& candidate_id,
                                 const PromotionRequest& req, const std::string& release_id,
                                 TimePoint now);
// §12.9 over a snapshot of R's key: 404 unless R is a live release of the snapshot, 409
// without a rollback target P; otherwise release `new_release_id` (next version, P's candidate
// and stage, rollback_of R) and R's candidate rolled_back.
Result<SkillPlan> plan_rollback(const SkillKeySnapshot& snap, const std::string& release_id,
                                const std::string& new_release_id, TimePoint now);

struct HealthThresholds {
  double success_drop = 0.03;
  double error_rate_multiplier = 2.0;
};

// Metrics of one release over its window.
struct WindowStats {
  std::int64_t samples = 0;
  double success_rate = 0.0;  // 0.0 without samples
  double error_rate = 0.0;
  std::int64_t p95_duration_ms = 0;
};

// The 95th percentile by nearest rank: the ceil(0.95 n)-th smallest value; 0 when empty.
std::int64_t p95_nearest_rank(std::vector<std::int64_t> values);
WindowStats window_stats(const std::vector<ExecutionSample>& samples);

struct ReleaseHealth {
  std::string release_id;
  std::string skill_key;
  std::string stage;
  TimePoint window_start_at;
  TimePoint window_end_at;
  bool window_complete = false;
  WindowStats current;
  double baseline_success_rate = 1.0;
  double baseline_error_rate = 0.0;
  std::int64_t baseline_samples = 0;
  double success_drop = 0.0;
  double error_rate_multiplier = 1.0;
  bool healthy = false;
  bool should_rollback = false;
  std::vector<std::string> rollback_reasons;
  HealthThresholds thresholds;
};

// health_window_end_at, or promoted_at + 24 h.
TimePoint health_window_end(const SkillRelease& r);
// §12.10. `baseline` holds the samples of the previous version's release in its own window
// (nullopt when there is no such release); without baseline samples the baseline rates
// default to 1.0 / 0.0.
ReleaseHealth compute_release_health(const SkillRelease& r,
                                     const std::vector<ExecutionSample>& samples,
                                     const std::optional<std::vector<ExecutionSample>>& baseline,
                                     TimePoint now, HealthThresholds thresholds = {});

// ---------------------------------------------------------------- service

struct NewCandidate {
  std::string skill_key;
  std::vector<std::string> source_execution_ids;
  std::optional<std::string> scenario_key;
  std::optional<std::string> payload_ref;
  std::optional<std::string> summary;
  std::optional<std::string> usage_notes;
  std::optional<boost::json::object> preconditions;
  std::optional<boost::json::object> postconditions;
};

struct EvaluationRequest {
  bool passed = false;
  std::optional<double> score;
  std::optional<std::string> benchmark_id;
  std::optional<std::string> report;
};

// Filters as received; the service validates status/stage values (400, §12.5, §12.8).
struct CandidateFilter {
  std::optional<std::string> status;
  std::optional<std::string> skill_key;
  std::int64_t limit = 100;
  std::int64_t offset = 0;
};

struct ReleaseFilter {
  std::optional<std::string> skill_key;
  bool active_only = false;
  std::optional<std::string> stage;
  std::int64_t limit = 100;
  std::int64_t offset = 0;
};

class SkillService {
 public:
  SkillService(SkillStore& store, const Clock& clock) : store_(store), clock_(clock) {}

  // §12.2. `payload` must be an object or an array (the handler answers 422 otherwise).
  Async<SkillPayload> create_payload(std::string owner, boost::json::value payload,
                                     std::string kind);
  Async<SkillPayload> get_payload(std::string owner, std::string ref);

  // §12.4–12.6
  Async<SkillCandidate> create_candidate(std::string owner, NewCandidate req);
  Async<CandidatePage> list_candidates(std::string owner, CandidateFilter filter);
  Async<SkillCandidate> get_candidate(std::string owner, std::string id);
  Async<SkillEvaluation> evaluate(std::string owner, std::string candidate_id,
                                  EvaluationRequest req);

  // §12.7–12.10
  Async<SkillRelease> promote(std::string owner, std::string candidate_id, PromotionRequest req);
  Async<ReleasePage> list_releases(std::string owner, ReleaseFilter filter);
  Async<SkillRelease> rollback(std::string owner, std::string release_id);
  Async<ReleaseHealth> health(std::string owner, std::string release_id);

  // §12.11: both answer the deletion ({id, deleted_at, deleted_by, delete_reason}).
  Async<Deletion> delete_release(std::string owner, std::string id,
                                 std::optional<std::string> reason);
  Async<Deletion> delete_candidate(std::string owner, std::string id,
                                   std::optional<std::string> reason);

 private:
  SkillStore& store_;
  const Clock& clock_;
};

}  // namespace shipyard::bay
