// Persistent state of the skills lifecycle (bay-api-v1.md §12) behind one interface: payload
// blobs, candidates, evaluations and releases, all owner-scoped.
//
// Like Store, every method is a coroutine that does its blocking work off the I/O threads
// (SqliteStore: on its database thread) and resumes the caller on the caller's executor.
// The rules (state machine, versioning, rollback targets, health) live in SkillService; the
// store only guarantees atomicity. The one read-modify-write that spans several rows of a
// skill key — promotion and rollback — is apply_skill_plan: the store reads the key's state
// and calls the domain's planner inside one write transaction, so concurrent promotions and
// rollbacks of a key are serialised (never duplicate versions, never two active releases).
// Errors: kInternal for database failures, kConflict for unique-key violations; a planner's
// own errors are returned unchanged (nothing is written then).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bay/domain/model.hpp"
#include "bay/store/store.hpp"

namespace shipyard::bay {

// An owner-scoped JSON document, referenced by clients as "blob:<id>".
struct SkillPayload {
  std::string id;  // blob-<12hex>
  std::string owner;
  std::string kind;
  boost::json::value payload;  // an object or an array
  TimePoint created_at;
};

// Who soft-deleted a row, when and why (§12.11).
struct Deletion {
  TimePoint at;
  std::string by;
  std::optional<std::string> reason;
};

struct SkillCandidate {
  std::string id;  // sc-<12hex>
  std::string owner;
  std::string skill_key;
  std::optional<std::string> scenario_key;
  std::optional<std::string> payload_ref;
  std::string skill_type = "code";
  bool auto_release_eligible = false;
  std::optional<std::string> auto_release_reason;
  std::optional<std::string> summary;
  std::optional<std::string> usage_notes;
  std::optional<boost::json::object> preconditions;
  std::optional<boost::json::object> postconditions;
  std::vector<std::string> source_execution_ids;  // request order
  std::string status = "draft";
  std::optional<double> latest_score;
  std::optional<bool> latest_pass;
  std::optional<TimePoint> last_evaluated_at;
  std::optional<std::string> promotion_release_id;
  std::optional<std::string> created_by;
  TimePoint created_at;
  TimePoint updated_at;
  std::optional<Deletion> deleted;
};

struct SkillEvaluation {
  std::string id;  // se-<12hex>
  std::string owner;
  std::string candidate_id;
  std::optional<std::string> benchmark_id;
  std::optional<double> score;
  bool passed = false;
  std::optional<std::string> report;
  std::optional<std::string> evaluated_by;
  TimePoint created_at;
};

struct SkillRelease {
  std::string id;  // sr-<12hex>
  std::string owner;
  std::string skill_key;
  std::string candidate_id;
  std::int64_t version = 1;
  std::string stage = "canary";
  bool is_active = false;
  std::string release_mode = "manual";
  std::optional<std::string> promoted_by;
  TimePoint promoted_at;
  std::optional<std::string> rollback_of;
  std::optional<std::string> auto_promoted_from;
  std::optional<TimePoint> health_window_end_at;
  std::optional<std::string> upgrade_of_release_id;
  std::optional<std::string> upgrade_reason;
  std::optional<std::string> change_summary;
  std::optional<Deletion> deleted;
};

struct CandidateQuery {
  std::string owner;
  std::optional<std::string> status;
  std::optional<std::string> skill_key;
  std::int64_t limit = 100;
  std::int64_t offset = 0;
};

struct CandidatePage {
  std::vector<SkillCandidate> items;  // newest first
  std::int64_t total = 0;
};

struct ReleaseQuery {
  std::string owner;
  std::optional<std::string> skill_key;
  bool active_only = false;
  std::optional<std::string> stage;
  std::int64_t limit = 100;
  std::int64_t offset = 0;
};

struct ReleasePage {
  std::vector<SkillRelease> items;  // newest promotion first
  std::int64_t total = 0;
};

// The state of one (owner, skill key) as read inside apply_skill_plan's transaction.
struct SkillKeySnapshot {
  std::string owner;
  std::string skill_key;
  std::vector<SkillRelease> releases;  // every release of the key, deleted ones too, by version
  // The candidate named in the call (deleted ones too) when it exists for the owner.
  std::optional<SkillCandidate> candidate;
};

struct CandidateStatusUpdate {
  std::string candidate_id;
  std::string status;
  // When set, also becomes the candidate's promotion_release_id.
  std::optional<std::string> promotion_release_id;
};

// What a planner decided: `release` is inserted and becomes the only active release of its
// key; the listed live candidates change status (updated_at = release.promoted_at).
struct SkillPlan {
  SkillRelease release;
  std::vector<CandidateStatusUpdate> candidate_updates;
};

// Runs on the store's database thread inside the write transaction: must be pure (no I/O,
// no shared mutable state).
using SkillPlanner = std::function<Result<SkillPlan>(const SkillKeySnapshot&)>;

// Outcome of a candidate deletion.
struct CandidateDeletion {
  // The candidate as deleted; nullopt when there is no live candidate of the owner with that id
  // or when the deletion was refused.
  std::optional<SkillCandidate> candidate;
  // Non-empty: refused, these active non-deleted releases are backed by the candidate.
  std::vector<std::string> active_release_ids;
};

// One execution counted by release health (§12.10).
struct ExecutionSample {
  bool success = false;
  std::int64_t execution_time_ms = 0;
};

class SkillStore {
 public:
  virtual ~SkillStore() = default;

  // --- payload blobs
  virtual Async<void> insert_skill_payload(SkillPayload payload) = 0;
  virtual Async<std::optional<SkillPayload>> find_skill_payload(std::string owner,
                                                                std::string id) = 0;

  // --- candidates and evaluations
  // The ids among `ids` that name no execution of `owner` (request order, duplicates kept).
  // Executions of deleted sandboxes still count: their rows are kept for skill statistics.
  virtual Async<std::vector<std::string>> missing_executions(std::string owner,
                                                             std::vector<std::string> ids) = 0;
  virtual Async<void> insert_candidate(SkillCandidate candidate) = 0;
  // A live (not deleted) candidate of the owner.
  virtual Async<std::optional<SkillCandidate>> find_candidate(std::string owner,
                                                              std::string id) = 0;
  virtual Async<CandidatePage> list_candidates(CandidateQuery query) = 0;
  // In one transaction: stores the evaluation and sets the candidate's latest_score,
  // latest_pass, last_evaluated_at (= evaluation.created_at) and `status`. Returns the updated
  // candidate, or nullopt (nothing written) when evaluation.candidate_id is no live candidate
  // of evaluation.owner.
  virtual Async<std::optional<SkillCandidate>> record_evaluation(SkillEvaluation evaluation,
                                                                 std::string status) = 0;
  // Soft-deletes a live candidate unless an active, non-deleted release is backed by it
  // (checked in the same transaction).
  virtual Async<CandidateDeletion> delete_candidate(std::string owner, std::string id,
                                                    Deletion deletion) = 0;

  // --- releases
  // A live (not deleted) release of the owner.
  virtual Async<std::optional<SkillRelease>> find_release(std::string owner, std::string id) = 0;
  virtual Async<ReleasePage> list_releases(ReleaseQuery query) = 0;
  // The highest-version live release of the key with version < `below`.
  virtual Async<std::optional<SkillRelease>> previous_release(std::string owner,
                                                              std::string skill_key,
                                                              std::int64_t below) = 0;
  // The atomic step of promotion and rollback: in one write transaction, reads the key's
  // snapshot (with `candidate_id`'s candidate when given), asks `planner`, deactivates every
  // release of the key, inserts the planned release active and applies the candidate updates.
  // Returns the inserted release.
  virtual Async<SkillRelease> apply_skill_plan(std::string owner, std::string skill_key,
                                               std::optional<std::string> candidate_id,
                                               SkillPlanner planner) = 0;
  // Soft-deletes a live release (it also becomes inactive) and resets promotion_release_id of
  // the candidates pointing at it, in one transaction. nullopt: no such live release.
  virtual Async<std::optional<SkillRelease>> delete_release(std::string owner, std::string id,
                                                            Deletion deletion) = 0;
  // Executions of `owner` carrying the tag "release:<release_id>" (a whole tag of the
  // normalised, comma-joined list) created within [from, to].
  virtual Async<std::vector<ExecutionSample>> release_samples(std::string owner,
                                                              std::string release_id,
                                                              TimePoint from, TimePoint to) = 0;
};

}  // namespace shipyard::bay
