// The synchronous half of SqliteStore's SkillStore: one blocking function per operation over
// the store's connection. Internal to bay_store (tests call it directly to check plans).
//
// Thread-safety: none. SqliteStore calls these only from its database thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bay/store/skill_store.hpp"
#include "bay/store/sqlite_connection.hpp"

namespace shipyard::bay::sqlite::skills {

Status insert_payload(Connection& c, const SkillPayload& p);
Result<std::optional<SkillPayload>> find_payload(Connection& c, const std::string& owner,
                                                 const std::string& id);

Result<std::vector<std::string>> missing_executions(Connection& c, const std::string& owner,
                                                    const std::vector<std::string>& ids);
Status insert_candidate(Connection& c, const SkillCandidate& cand);
Result<std::optional<SkillCandidate>> find_candidate(Connection& c, const std::string& owner,
                                                     const std::string& id);
Result<CandidatePage> list_candidates(Connection& c, const CandidateQuery& q);
Result<std::optional<SkillCandidate>> record_evaluation(Connection& c, const SkillEvaluation& e,
                                                        const std::string& status);
Result<CandidateDeletion> delete_candidate(Connection& c, const std::string& owner,
                                           const std::string& id, const Deletion& d);

Result<std::optional<SkillRelease>> find_release(Connection& c, const std::string& owner,
                                                 const std::string& id);
Result<ReleasePage> list_releases(Connection& c, const ReleaseQuery& q);
Result<std::optional<SkillRelease>> previous_release(Connection& c, const std::string& owner,
                                                     const std::string& skill_key,
                                                     std::int64_t below);
Result<SkillRelease> apply_skill_plan(Connection& c, const std::string& owner,
                                      const std::string& skill_key,
                                      const std::optional<std::string>& candidate_id,
                                      const SkillPlanner& planner);
Result<std::optional<SkillRelease>> delete_release(Connection& c, const std::string& owner,
                                                   const std::string& id, const Deletion& d);
Result<std::vector<ExecutionSample>> release_samples(Connection& c, const std::string& owner,
                                                     const std::string& release_id, TimePoint from,
                                                     TimePoint to);

}  // namespace shipyard::bay::sqlite::skills
