#include "bay/domain/capability_service.hpp"

#include <spdlog/spdlog.h>

#include <cmath>

#include "bay/domain/rules.hpp"

namespace shipyard::bay {
namespace asio = boost::asio;
using boost::beast::http::verb;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto kFsBudget = std::chrono::seconds(30);
constexpr std::size_t kExecReplyLimit = 64u << 20;
// What one history entry keeps of a call's output and error. The response carries the
// whole text; the stored copy is bounded so that output floods (Ship allows 10 MiB per
// stream, a replaced Ship anything up to kExecReplyLimit) cannot grow Bay's database by
// tens of MiB per call.
constexpr std::size_t kHistoryTextLimit = 1u << 20;
// Representable file times: the years 1 to 9999. A hostile Ship's 1e300 must not
// turn into an unparseable timestamp.
constexpr double kMinUnixSeconds = -62135596800.0;
constexpr double kMaxUnixSeconds = 253402300799.0;

std::optional<std::string> history_copy(const std::optional<std::string>& text) {
  if (!text || text->size() <= kHistoryTextLimit) return text;
  std::size_t cut = kHistoryTextLimit;
  // Cut at a character boundary so the stored text stays valid UTF-8.
  while (cut > 0 && (static_cast<unsigned char>((*text)[cut]) & 0xC0) == 0x80) --cut;
  return text->substr(0, cut) + "\n[history copy truncated: " + std::to_string(text->size() - cut) +
         " bytes omitted]";
}

Error ship_error(unsigned status, std::string message = "The sandbox runtime returned an error") {
  Error e(ErrorCode::kUpstream, std::move(message));
  if (status != 0) e.details["status"] = status;
  return e;
}

std::string detail_text(const json::object& body) {
  if (const auto* d = body.if_contains("detail"); d && d->is_string()) {
    return std::string(d->as_string());
  }
  return {};
}

std::int64_t elapsed_ms(SteadyClock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count();
}

json::value opt(const std::optional<std::string>& s) {
  if (s) return json::string(*s);
  return nullptr;
}

}  // namespace

std::string iso_from_unix(double seconds) {
  auto us = static_cast<std::int64_t>(std::llround(seconds * 1e6));
  return format_timestamp(TimePoint(Micros(us)));
}

Error map_ship_error(unsigned status, const json::object& body, std::string_view field,
                     std::string_view path, bool filesystem) {
  if (status == 403) {
    return invalid_path(field, "symlink_escape", "Path resolves outside /workspace");
  }
  if (filesystem && status == 404) {
    Error e(ErrorCode::kFileNotFound, "File not found: " + std::string(path));
    e.details["path"] = path;
    return e;
  }
  if (filesystem && status == 400) {
    std::string msg = detail_text(body);
    return validation_error(msg.empty() ? "Invalid filesystem request" : msg);
  }
  Error e = ship_error(status);
  e.context = "ship answered " + std::to_string(status) + ": " + detail_text(body);
  return e;
}

CapabilityService::CapabilityService(Store& store, SandboxService& sandboxes, const Clock& clock)
    : store_(store), sandboxes_(sandboxes), clock_(clock) {}

asio::awaitable<Result<json::object>> CapabilityService::record(
    const CallTarget& t, const std::string& session_id, std::string exec_type,
    const ExecRequest& req, bool success, std::int64_t elapsed, std::optional<std::string> output,
    std::optional<std::string> error, json::object response) {
  Execution e;
  e.id = new_id("exec-");
  e.owner = t.sandbox.owner;
  e.sandbox_id = t.sandbox.id;
  e.session_id = session_id;
  e.exec_type = std::move(exec_type);
  e.code = req.code;
  e.success = success;
  e.execution_time_ms = elapsed;
  e.output = history_copy(output);
  e.error = history_copy(error);
  e.description = req.description;
  if (req.tags) e.tags = normalize_tags(*req.tags);
  e.created_at = clock_.now();
  response["execution_id"] = e.id;
  response["execution_time_ms"] = elapsed;
  auto s = co_await store_.insert_execution(std::move(e));
  if (!s) co_return std::move(s).error().with_context("recording execution");
  co_return response;
}

asio::awaitable<Result<json::object>> CapabilityService::python(const CallTarget& t,
                                                                ExecRequest req) {
  const auto t0 = SteadyClock::now();
  auto lease = co_await sandboxes_.ensure_session(t);
  if (!lease) co_return std::move(lease).error();
  json::object body{{"code", req.code}, {"timeout", req.timeout}, {"silent", false}};
  auto deadline = SteadyClock::now() + std::chrono::seconds(req.timeout + 5);
  auto reply = co_await (*lease)->ship().request_json(verb::post, "/ipython/exec", std::move(body),
                                                      deadline, kExecReplyLimit);
  if (!reply) {
    if (reply.error().code == ErrorCode::kUpstream) (*lease)->mark_broken();
    co_return std::move(reply).error();
  }
  if (reply->status != 200) co_return map_ship_error(reply->status, reply->body, "code", "", false);
  const auto& b = reply->body;
  const auto* success = b.if_contains("success");
  if (success == nullptr || !success->is_bool()) {
    co_return ship_error(200, "The sandbox runtime sent a malformed response");
  }
  // §10.3: output text from output.text ("" if missing), the whole output object as data.
  json::value output_obj = json::object{{"text", ""}, {"images", json::array{}}};
  std::string text;
  if (const auto* o = b.if_contains("output"); o && o->is_object()) {
    output_obj = *o;
    if (const auto* tx = o->as_object().if_contains("text"); tx && tx->is_string()) {
      text = std::string(tx->as_string());
    }
  }
  std::optional<std::string> error;
  if (const auto* e = b.if_contains("error"); e && e->is_string())
    error = std::string(e->as_string());
  json::value count = nullptr;
  if (const auto* c = b.if_contains("execution_count"); c && c->is_int64()) count = *c;
  json::object resp{{"success", success->as_bool()},
                    {"output", text},
                    {"error", opt(error)},
                    {"data", json::object{{"execution_count", count}, {"output", output_obj}}},
                    {"code", req.include_code ? json::value(json::string(req.code)) : nullptr}};
  co_return co_await record(t, (*lease)->session_id(), "python", req, success->as_bool(),
                            elapsed_ms(t0), text, error, std::move(resp));
}

asio::awaitable<Result<json::object>> CapabilityService::shell(const CallTarget& t,
                                                               ExecRequest req) {
  const auto t0 = SteadyClock::now();
  auto lease = co_await sandboxes_.ensure_session(t);
  if (!lease) co_return std::move(lease).error();
  json::object body{{"command", req.code}, {"timeout", req.timeout}};
  if (req.cwd) body["cwd"] = *req.cwd;
  auto deadline = SteadyClock::now() + std::chrono::seconds(req.timeout + 5);
  auto reply = co_await (*lease)->ship().request_json(verb::post, "/shell/exec", std::move(body),
                                                      deadline, kExecReplyLimit);
  if (!reply) {
    if (reply.error().code == ErrorCode::kUpstream) (*lease)->mark_broken();
    co_return std::move(reply).error();
  }
  if (reply->status != 200) co_return map_ship_error(reply->status, reply->body, "cwd", "", false);
  const auto& b = reply->body;
  const auto* success = b.if_contains("success");
  const auto* stdout_v = b.if_contains("stdout");
  const auto* stderr_v = b.if_contains("stderr");
  if (success == nullptr || !success->is_bool() || (stdout_v && !stdout_v->is_string()) ||
      (stderr_v && !stderr_v->is_string())) {
    co_return ship_error(200, "The sandbox runtime sent a malformed response");
  }
  std::string out = stdout_v ? std::string(stdout_v->as_string()) : std::string();
  std::string err_text = stderr_v ? std::string(stderr_v->as_string()) : std::string();
  // §10.3: the runtime's error if set, else stderr if non-empty, else null.
  std::optional<std::string> error;
  if (const auto* e = b.if_contains("error"); e && e->is_string() && !e->as_string().empty()) {
    error = std::string(e->as_string());
  } else if (!err_text.empty()) {
    error = err_text;
  }
  json::value exit_code = nullptr;
  if (const auto* rc = b.if_contains("return_code"); rc && rc->is_int64()) exit_code = *rc;
  bool ok = success->as_bool();
  json::object resp{{"success", ok},
                    {"output", out},
                    {"error", opt(error)},
                    {"exit_code", exit_code},
                    {"command", req.include_code ? json::value(json::string(req.code)) : nullptr}};
  co_return co_await record(t, (*lease)->session_id(), "shell", req, ok, elapsed_ms(t0), out, error,
                            std::move(resp));
}

asio::awaitable<Result<ShipClient::JsonReply>> CapabilityService::fs_call(const CallTarget& t,
                                                                          std::string target,
                                                                          json::object body,
                                                                          const std::string& path) {
  auto lease = co_await sandboxes_.ensure_session(t);
  if (!lease) co_return std::move(lease).error();
  auto reply = co_await (*lease)->ship().request_json(
      verb::post, std::move(target), std::move(body), SteadyClock::now() + kFsBudget, 80u << 20);
  if (!reply) {
    if (reply.error().code == ErrorCode::kUpstream) (*lease)->mark_broken();
    co_return std::move(reply).error();
  }
  if (reply->status != 200)
    co_return map_ship_error(reply->status, reply->body, "path", path, true);
  co_return reply;
}

asio::awaitable<Result<json::object>> CapabilityService::read_file(const CallTarget& t,
                                                                   std::string path) {
  json::object body{{"path", path}};
  auto r = co_await fs_call(t, "/fs/read_file", std::move(body), path);
  if (!r) co_return std::move(r).error();
  const auto* content = r->body.if_contains("content");
  if (content == nullptr || !content->is_string()) {
    co_return ship_error(200, "The sandbox runtime sent a malformed response");
  }
  co_return json::object{{"content", *content}};
}

asio::awaitable<Result<json::object>> CapabilityService::write_file(const CallTarget& t,
                                                                    std::string path,
                                                                    std::string content) {
  json::object body{{"path", path}, {"content", std::move(content)}, {"mode", "w"}};
  auto r = co_await fs_call(t, "/fs/write_file", std::move(body), path);
  if (!r) co_return std::move(r).error();
  co_return json::object{{"status", "ok"}};
}

asio::awaitable<Result<json::object>> CapabilityService::delete_file(const CallTarget& t,
                                                                     std::string path) {
  json::object body{{"path", path}};
  auto r = co_await fs_call(t, "/fs/delete_file", std::move(body), path);
  if (!r) co_return std::move(r).error();
  co_return json::object{{"status", "ok"}};
}

asio::awaitable<Result<json::object>> CapabilityService::list_dir(const CallTarget& t,
                                                                  std::string path,
                                                                  bool show_hidden) {
  json::object body{{"path", path}, {"show_hidden", show_hidden}};
  auto r = co_await fs_call(t, "/fs/list_dir", std::move(body), path);
  if (!r) co_return std::move(r).error();
  const auto* files = r->body.if_contains("files");
  if (files == nullptr || !files->is_array()) {
    co_return ship_error(200, "The sandbox runtime sent a malformed response");
  }
  json::array entries;
  for (const auto& f : files->as_array()) {
    if (!f.is_object()) co_return ship_error(200, "The sandbox runtime sent a malformed response");
    const auto& o = f.as_object();
    const auto* name = o.if_contains("name");
    const auto* p = o.if_contains("path");
    const auto* is_file = o.if_contains("is_file");
    const auto* is_dir = o.if_contains("is_dir");
    if (!name || !name->is_string() || !p || !p->is_string() || !is_file || !is_file->is_bool() ||
        !is_dir || !is_dir->is_bool()) {
      co_return ship_error(200, "The sandbox runtime sent a malformed response");
    }
    // Paths relative to /workspace (§10.3): strip the mount prefix; the root is ".".
    std::string rel(p->as_string());
    if (rel == "/workspace") {
      rel = ".";
    } else if (rel.rfind("/workspace/", 0) == 0) {
      rel = rel.substr(11);
    }
    json::value size = nullptr;
    if (const auto* s = o.if_contains("size"); s && (s->is_int64() || s->is_uint64())) size = *s;
    json::value mtime = nullptr;
    json::value modified_at = nullptr;
    if (const auto* m = o.if_contains("modified_time"); m && m->is_number()) {
      double secs = m->to_number<double>();
      if (std::isfinite(secs) && secs >= kMinUnixSeconds && secs <= kMaxUnixSeconds) {
        mtime = secs;
        modified_at = json::string(iso_from_unix(secs));
      }
    }
    bool file = is_file->as_bool(), dir = is_dir->as_bool();
    entries.push_back(json::object{{"name", *name},
                                   {"path", rel},
                                   {"is_file", file},
                                   {"is_dir", dir},
                                   {"type", dir    ? "directory"
                                            : file ? "file"
                                                   : "other"},
                                   {"size", size},
                                   {"modified_time", mtime},
                                   {"modified_at", modified_at}});
  }
  co_return json::object{{"entries", std::move(entries)}};
}

}  // namespace shipyard::bay
