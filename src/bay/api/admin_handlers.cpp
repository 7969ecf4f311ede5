// Admin: garbage collection (bay-api-v1.md §13).
#include "bay/api/routes.hpp"

namespace shipyard::bay {
namespace {
namespace asio = boost::asio;
using http::bhttp::verb;
using Awaitable = asio::awaitable<Result<std::optional<Reply>>>;

Awaitable run(http::Exchange& ex, BayApp& app, const std::string&) {
  auto body = co_await read_json(ex, app, /*optional_body=*/true);
  if (!body) co_return std::move(body).error();
  FieldReader r(*body);
  std::optional<std::vector<std::string>> tasks;
  if (const auto* arr = r.optional_array("tasks")) {
    tasks.emplace();
    for (const auto& t : *arr) {
      if (!t.is_string()) {
        r.violation("tasks", "Input should be a valid string", "string_type");
        break;
      }
      tasks->emplace_back(t.as_string());  // unknown names are ignored (§13.2)
    }
  }
  if (!r.ok()) co_return r.error();
  auto report = co_await app.gc.run(std::move(tasks));
  if (!report) co_return std::move(report).error();
  json::array results;
  std::int64_t cleaned = 0, errors = 0;
  for (const auto& t : report->results) {
    json::array errs;
    for (const auto& e : t.errors) errs.emplace_back(e);
    cleaned += t.cleaned_count;
    errors += static_cast<std::int64_t>(t.errors.size());
    results.push_back(json::object{{"task_name", t.task_name},
                                   {"cleaned_count", t.cleaned_count},
                                   {"skipped_count", t.skipped_count},
                                   {"errors", std::move(errs)}});
  }
  co_return Reply::ok(json::object{{"results", std::move(results)},
                                   {"total_cleaned", cleaned},
                                   {"total_errors", errors},
                                   {"duration_ms", report->duration_ms}});
}

Awaitable status(http::Exchange&, BayApp& app, const std::string&) {
  const auto& gc = app.config.gc;
  json::object tasks{{"idle_session", json::object{{"enabled", gc.idle_session.enabled}}},
                     {"expired_sandbox", json::object{{"enabled", gc.expired_sandbox.enabled}}},
                     {"orphan_cargo", json::object{{"enabled", gc.orphan_cargo.enabled}}},
                     {"orphan_container", json::object{{"enabled", gc.orphan_container.enabled}}}};
  co_return Reply::ok(json::object{{"enabled", gc.enabled},
                                   {"is_running", app.gc.running()},
                                   {"instance_id", gc.instance_id},
                                   {"interval_seconds", gc.interval_seconds},
                                   {"tasks", std::move(tasks)}});
}

}  // namespace

void add_admin_routes(BayRouter& r, BayApp& app) {
  r.add(verb::post, "/v1/admin/gc/run", v1_route(app, run));
  r.add(verb::get, "/v1/admin/gc/status", v1_route(app, status));
}

}  // namespace shipyard::bay
