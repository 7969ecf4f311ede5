// Execution history routes (bay-api-v1.md §11).
#include "bay/api/routes.hpp"
#include "bay/api/views.hpp"
#include "bay/domain/rules.hpp"
#include "common/strings.hpp"

namespace shipyard::bay {
namespace {
namespace asio = boost::asio;
using http::bhttp::verb;
using Awaitable = asio::awaitable<Result<std::optional<Reply>>>;

const std::vector<std::string> kExecTypes{"python", "shell", "browser", "browser_batch"};

Awaitable list(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto t = co_await app.sandboxes.lookup(owner, std::string(ex.params().get("id")));
  if (!t) co_return std::move(t).error();
  QueryReader q(ex);
  HistoryQuery hq;
  hq.owner = owner;
  hq.sandbox_id = t->sandbox.id;
  hq.exec_type = q.choice("exec_type", kExecTypes);
  hq.success_only = q.boolean("success_only", false);
  hq.limit = q.integer("limit", 100, 1, 500);
  hq.offset = q.integer("offset", 0, 0, INT64_MAX);
  hq.has_notes = q.boolean("has_notes", false);
  hq.has_description = q.boolean("has_description", false);
  if (auto tags = q.string("tags")) {
    for (auto part : split(*tags, ',')) {
      auto tag = trim(part);
      if (!tag.empty()) hq.tags.emplace_back(tag);
    }
  }
  if (!q.ok()) co_return q.error();
  auto page = co_await app.store.query_history(std::move(hq));
  if (!page) co_return std::move(page).error();
  json::array entries;
  for (const auto& e : page->entries) entries.push_back(execution_json(e));
  co_return Reply::ok(json::object{{"entries", std::move(entries)}, {"total", page->total}});
}

Awaitable last(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto t = co_await app.sandboxes.lookup(owner, std::string(ex.params().get("id")));
  if (!t) co_return std::move(t).error();
  QueryReader q(ex);
  auto type = q.choice("exec_type", kExecTypes);
  if (!q.ok()) co_return q.error();
  auto e = co_await app.store.last_execution(owner, t->sandbox.id, type);
  if (!e) co_return std::move(e).error();
  if (!*e) {
    Error err(ErrorCode::kNotFound, "No execution history for sandbox: " + t->sandbox.id);
    err.details["resource"] = "execution";
    co_return err;
  }
  co_return Reply::ok(execution_json(**e));
}

Awaitable get(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto t = co_await app.sandboxes.lookup(owner, std::string(ex.params().get("id")));
  if (!t) co_return std::move(t).error();
  std::string eid(ex.params().get("eid"));
  auto e = co_await app.store.find_execution(owner, t->sandbox.id, eid);
  if (!e) co_return std::move(e).error();
  if (!*e) co_return not_found("execution", eid);
  co_return Reply::ok(execution_json(**e));
}

Awaitable annotate(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto t = co_await app.sandboxes.lookup(owner, std::string(ex.params().get("id")));
  if (!t) co_return std::move(t).error();
  auto body = co_await read_json(ex, app, true);
  if (!body) co_return std::move(body).error();
  FieldReader r(*body);
  Annotation a;
  a.description = r.optional_string("description");
  auto tags = r.optional_string("tags");
  a.notes = r.optional_string("notes");
  if (!r.ok()) co_return r.error();
  // Tags that normalise to nothing clear the field (stored as "").
  if (tags) a.tags = normalize_tags(*tags).value_or("");
  std::string eid(ex.params().get("eid"));
  auto e = co_await app.store.annotate_execution(owner, t->sandbox.id, eid, std::move(a));
  if (!e) co_return std::move(e).error();
  if (!*e) co_return not_found("execution", eid);
  co_return Reply::ok(execution_json(**e));
}

}  // namespace

void add_history_routes(BayRouter& r, BayApp& app) {
  r.add(verb::get, "/v1/sandboxes/{id}/history", v1_route(app, list));
  // `last` is registered before `{eid}` so it is never taken for an execution id.
  r.add(verb::get, "/v1/sandboxes/{id}/history/last", v1_route(app, last));
  r.add(verb::get, "/v1/sandboxes/{id}/history/{eid}", v1_route(app, get));
  r.add(verb::patch, "/v1/sandboxes/{id}/history/{eid}", v1_route(app, annotate));
}

}  // namespace shipyard::bay
