// Skills lifecycle routes (bay-api-v1.md §12): parse and schema-check (422), call
// SkillService (which owns the 400/404/409 rules), render.
#include "bay/api/routes.hpp"
#include "bay/domain/clock.hpp"
#include "bay/domain/skill_service.hpp"

namespace shipyard::bay {
namespace {
namespace asio = boost::asio;
using http::bhttp::verb;
using Awaitable = asio::awaitable<Result<std::optional<Reply>>>;

// ---------------------------------------------------------------- views

json::value opt(const std::optional<std::string>& s) {
  if (s) return json::string(*s);
  return nullptr;
}

json::value opt(const std::optional<double>& d) {
  if (d) return *d;
  return nullptr;
}

json::value opt(const std::optional<bool>& b) {
  if (b) return *b;
  return nullptr;
}

json::value opt(const std::optional<json::object>& o) {
  if (o) return *o;
  return nullptr;
}

json::value opt(const std::optional<TimePoint>& t) {
  if (t) return json::string(format_timestamp(*t));
  return nullptr;
}

void put_deletion(json::object& o, const std::optional<Deletion>& d) {
  o["is_deleted"] = d.has_value();
  o["deleted_at"] = d ? json::value(json::string(format_timestamp(d->at))) : nullptr;
  o["deleted_by"] = d ? json::value(json::string(d->by)) : nullptr;
  o["delete_reason"] = d ? opt(d->reason) : nullptr;
}

json::object candidate_json(const SkillCandidate& c) {
  json::array sources;
  for (const auto& id : c.source_execution_ids) sources.emplace_back(id);
  json::object o{{"id", c.id},
                 {"skill_key", c.skill_key},
                 {"scenario_key", opt(c.scenario_key)},
                 {"payload_ref", opt(c.payload_ref)},
                 {"skill_type", c.skill_type},
                 {"auto_release_eligible", c.auto_release_eligible},
                 {"auto_release_reason", opt(c.auto_release_reason)},
                 {"summary", opt(c.summary)},
                 {"usage_notes", opt(c.usage_notes)},
                 {"preconditions", opt(c.preconditions)},
                 {"postconditions", opt(c.postconditions)},
                 {"source_execution_ids", std::move(sources)},
                 {"status", c.status},
                 {"latest_score", opt(c.latest_score)},
                 {"latest_pass", opt(c.latest_pass)},
                 {"last_evaluated_at", opt(c.last_evaluated_at)},
                 {"promotion_release_id", opt(c.promotion_release_id)},
                 {"created_by", opt(c.created_by)},
                 {"created_at", format_timestamp(c.created_at)},
                 {"updated_at", format_timestamp(c.updated_at)}};
  put_deletion(o, c.deleted);
  return o;
}

json::object evaluation_json(const SkillEvaluation& e) {
  return json::object{{"id", e.id},
                      {"candidate_id", e.candidate_id},
                      {"benchmark_id", opt(e.benchmark_id)},
                      {"score", opt(e.score)},
                      {"passed", e.passed},
                      {"report", opt(e.report)},
                      {"evaluated_by", opt(e.evaluated_by)},
                      {"created_at", format_timestamp(e.created_at)}};
}

json::object release_json(const SkillRelease& r) {
  json::object o{{"id", r.id},
                 {"skill_key", r.skill_key},
                 {"candidate_id", r.candidate_id},
                 {"version", r.version},
                 {"stage", r.stage},
                 {"is_active", r.is_active},
                 {"release_mode", r.release_mode},
                 {"promoted_by", opt(r.promoted_by)},
                 {"promoted_at", format_timestamp(r.promoted_at)},
                 {"rollback_of", opt(r.rollback_of)},
                 {"auto_promoted_from", opt(r.auto_promoted_from)},
                 {"health_window_end_at", opt(r.health_window_end_at)},
                 {"upgrade_of_release_id", opt(r.upgrade_of_release_id)},
                 {"upgrade_reason", opt(r.upgrade_reason)},
                 {"change_summary", opt(r.change_summary)}};
  put_deletion(o, r.deleted);
  return o;
}

json::object health_json(const ReleaseHealth& h) {
  json::array reasons;
  for (const auto& r : h.rollback_reasons) reasons.emplace_back(r);
  json::object thresholds{{"success_drop", h.thresholds.success_drop},
                          {"error_rate_multiplier", h.thresholds.error_rate_multiplier}};
  return json::object{{"release_id", h.release_id},
                      {"skill_key", h.skill_key},
                      {"stage", h.stage},
                      {"window_start_at", format_timestamp(h.window_start_at)},
                      {"window_end_at", format_timestamp(h.window_end_at)},
                      {"window_complete", h.window_complete},
                      {"samples", h.current.samples},
                      {"success_rate", h.current.success_rate},
                      {"error_rate", h.current.error_rate},
                      {"p95_duration", h.current.p95_duration_ms},
                      {"baseline_success_rate", h.baseline_success_rate},
                      {"baseline_error_rate", h.baseline_error_rate},
                      {"baseline_samples", h.baseline_samples},
                      {"success_drop", h.success_drop},
                      {"error_rate_multiplier", h.error_rate_multiplier},
                      {"healthy", h.healthy},
                      {"should_rollback", h.should_rollback},
                      {"rollback_reasons", std::move(reasons)},
                      {"thresholds", std::move(thresholds)}};
}

json::object deletion_json(const std::string& id, const Deletion& d) {
  return json::object{{"id", id},
                      {"deleted_at", format_timestamp(d.at)},
                      {"deleted_by", d.by},
                      {"delete_reason", opt(d.reason)}};
}

// ---------------------------------------------------------------- request parsing

std::string path_id(const http::Exchange& ex) { return std::string(ex.params().get("id")); }

// A required JSON boolean (pydantic strict: no "true" strings, no 0/1).
bool required_bool(FieldReader& r, const json::object& body, std::string_view key) {
  auto it = body.find(key);
  if (it == body.end()) {
    r.violation(key, "Field required", "missing");
    return false;
  }
  if (!it->value().is_bool()) {
    r.violation(key, "Input should be a valid boolean", "bool_type");
    return false;
  }
  return it->value().as_bool();
}

// A required list of strings (may be empty: emptiness is a 400, §12.4).
std::vector<std::string> required_strings(FieldReader& r, const json::object& body,
                                          std::string_view key) {
  std::vector<std::string> out;
  auto it = body.find(key);
  if (it == body.end()) {
    r.violation(key, "Field required", "missing");
    return out;
  }
  if (!it->value().is_array()) {
    r.violation(key, "Input should be a valid list", "list_type");
    return out;
  }
  for (const auto& v : it->value().as_array()) {
    if (!v.is_string()) {
      r.violation(key, "Input should be a valid string", "string_type");
      return {};
    }
    out.emplace_back(v.as_string());
  }
  return out;
}

// The optional {"reason": str|null} body of the DELETE endpoints (§12.11).
asio::awaitable<Result<std::optional<std::string>>> read_reason(http::Exchange& ex, BayApp& app) {
  auto body = co_await read_json(ex, app, /*optional_body=*/true);
  if (!body) co_return std::move(body).error();
  FieldReader r(*body);
  auto reason = r.optional_string("reason");
  if (!r.ok()) co_return r.error();
  co_return reason;
}

// ---------------------------------------------------------------- payloads

Awaitable create_payload(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto body = co_await read_json(ex, app, false);
  if (!body) co_return std::move(body).error();
  FieldReader r(*body);
  json::value payload;
  if (auto it = body->find("payload"); it == body->end()) {
    r.violation("payload", "Field required", "missing");
  } else if (!it->value().is_object() && !it->value().is_array()) {
    r.violation("payload", "Input should be a valid dictionary or list", "model_type");
  } else {
    payload = it->value();
  }
  std::string kind = "generic";
  if (auto it = body->find("kind"); it != body->end()) {
    if (!it->value().is_string()) {
      r.violation("kind", "Input should be a valid string", "string_type");
    } else if (it->value().as_string().empty()) {
      r.violation("kind", "String should have at least 1 character", "string_too_short");
    } else {
      kind = std::string(it->value().as_string());
    }
  }
  if (!r.ok()) co_return r.error();
  auto op = app.skills.create_payload(owner, std::move(payload), std::move(kind));
  auto p = co_await std::move(op);
  if (!p) co_return std::move(p).error();
  co_return Reply::created(
      json::object{{"payload_ref", make_payload_ref(p->id)}, {"kind", p->kind}});
}

Awaitable get_payload(http::Exchange& ex, BayApp& app, const std::string& owner) {
  std::string ref(ex.params().get("ref"));
  auto p = co_await app.skills.get_payload(owner, ref);
  if (!p) co_return std::move(p).error();
  co_return Reply::ok(
      json::object{{"payload_ref", ref}, {"kind", p->kind}, {"payload", p->payload}});
}

// ---------------------------------------------------------------- candidates

Awaitable create_candidate(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto body = co_await read_json(ex, app, false);
  if (!body) co_return std::move(body).error();
  FieldReader r(*body);
  NewCandidate req;
  req.skill_key = r.required_string("skill_key");
  req.source_execution_ids = required_strings(r, *body, "source_execution_ids");
  req.scenario_key = r.optional_string("scenario_key");
  req.payload_ref = r.optional_string("payload_ref");
  req.summary = r.optional_string("summary");
  req.usage_notes = r.optional_string("usage_notes");
  if (const auto* o = r.optional_object("preconditions")) req.preconditions = *o;
  if (const auto* o = r.optional_object("postconditions")) req.postconditions = *o;
  if (!r.ok()) co_return r.error();
  auto c = co_await app.skills.create_candidate(owner, std::move(req));
  if (!c) co_return std::move(c).error();
  co_return Reply::created(candidate_json(*c));
}

Awaitable list_candidates(http::Exchange& ex, BayApp& app, const std::string& owner) {
  QueryReader q(ex);
  CandidateFilter f;
  f.status = q.string("status");
  f.skill_key = q.string("skill_key");
  f.limit = q.integer("limit", 100, 1, 500);
  f.offset = q.integer("offset", 0, 0, INT64_MAX);
  if (!q.ok()) co_return q.error();
  auto page = co_await app.skills.list_candidates(owner, std::move(f));
  if (!page) co_return std::move(page).error();
  json::array items;
  for (const auto& c : page->items) items.push_back(candidate_json(c));
  co_return Reply::ok(json::object{{"items", std::move(items)}, {"total", page->total}});
}

Awaitable get_candidate(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto c = co_await app.skills.get_candidate(owner, path_id(ex));
  if (!c) co_return std::move(c).error();
  co_return Reply::ok(candidate_json(*c));
}

Awaitable delete_candidate(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto reason = co_await read_reason(ex, app);
  if (!reason) co_return std::move(reason).error();
  const std::string id = path_id(ex);
  auto d = co_await app.skills.delete_candidate(owner, id, std::move(*reason));
  if (!d) co_return std::move(d).error();
  co_return Reply::ok(deletion_json(id, *d));
}

Awaitable evaluate(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto body = co_await read_json(ex, app, false);
  if (!body) co_return std::move(body).error();
  FieldReader r(*body);
  EvaluationRequest req;
  req.passed = required_bool(r, *body, "passed");
  req.score = r.optional_number("score");
  req.benchmark_id = r.optional_string("benchmark_id");
  req.report = r.optional_string("report");
  if (!r.ok()) co_return r.error();
  auto e = co_await app.skills.evaluate(owner, path_id(ex), std::move(req));
  if (!e) co_return std::move(e).error();
  co_return Reply::ok(evaluation_json(*e));
}

Awaitable promote(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto body = co_await read_json(ex, app, /*optional_body=*/true);
  if (!body) co_return std::move(body).error();
  FieldReader r(*body);
  PromotionRequest req;
  req.stage = r.string_or("stage", "canary");
  req.upgrade_of_release_id = r.optional_string("upgrade_of_release_id");
  req.upgrade_reason = r.optional_string("upgrade_reason");
  req.change_summary = r.optional_string("change_summary");
  if (!r.ok()) co_return r.error();
  auto rel = co_await app.skills.promote(owner, path_id(ex), std::move(req));
  if (!rel) co_return std::move(rel).error();
  co_return Reply::ok(release_json(*rel));
}

// ---------------------------------------------------------------- releases

Awaitable list_releases(http::Exchange& ex, BayApp& app, const std::string& owner) {
  QueryReader q(ex);
  ReleaseFilter f;
  f.skill_key = q.string("skill_key");
  f.active_only = q.boolean("active_only", false);
  f.stage = q.string("stage");
  f.limit = q.integer("limit", 100, 1, 500);
  f.offset = q.integer("offset", 0, 0, INT64_MAX);
  if (!q.ok()) co_return q.error();
  auto page = co_await app.skills.list_releases(owner, std::move(f));
  if (!page) co_return std::move(page).error();
  json::array items;
  for (const auto& rel : page->items) items.push_back(release_json(rel));
  co_return Reply::ok(json::object{{"items", std::move(items)}, {"total", page->total}});
}

Awaitable rollback(http::Exchange& ex, BayApp& app, const std::string& owner) {
  // No body is defined; whatever was sent is ignored (§2.2: none or {} must work).
  auto rel = co_await app.skills.rollback(owner, path_id(ex));
  if (!rel) co_return std::move(rel).error();
  co_return Reply::ok(release_json(*rel));
}

Awaitable health(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto h = co_await app.skills.health(owner, path_id(ex));
  if (!h) co_return std::move(h).error();
  co_return Reply::ok(health_json(*h));
}

Awaitable delete_release(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto reason = co_await read_reason(ex, app);
  if (!reason) co_return std::move(reason).error();
  const std::string id = path_id(ex);
  auto d = co_await app.skills.delete_release(owner, id, std::move(*reason));
  if (!d) co_return std::move(d).error();
  co_return Reply::ok(deletion_json(id, *d));
}

}  // namespace

void add_skill_routes(BayRouter& r, BayApp& app) {
  r.add(verb::post, "/v1/skills/payloads", v1_route(app, create_payload));
  // The reference is the percent-decoded rest of the path: it contains ':' and may contain
  // '/' once decoded (§12.2).
  r.add(verb::get, "/v1/skills/payloads/{ref*}", v1_route(app, get_payload));
  r.add(verb::post, "/v1/skills/candidates", v1_route(app, create_candidate));
  r.add(verb::get, "/v1/skills/candidates", v1_route(app, list_candidates));
  r.add(verb::get, "/v1/skills/candidates/{id}", v1_route(app, get_candidate));
  r.add(verb::delete_, "/v1/skills/candidates/{id}", v1_route(app, delete_candidate));
  r.add(verb::post, "/v1/skills/candidates/{id}/evaluate", v1_route(app, evaluate));
  r.add(verb::post, "/v1/skills/candidates/{id}/promote", v1_route(app, promote));
  r.add(verb::get, "/v1/skills/releases", v1_route(app, list_releases));
  r.add(verb::delete_, "/v1/skills/releases/{id}", v1_route(app, delete_release));
  r.add(verb::post, "/v1/skills/releases/{id}/rollback", v1_route(app, rollback));
  r.add(verb::get, "/v1/skills/releases/{id}/health", v1_route(app, health));
}

}  // namespace shipyard::bay
