// The legacy Shipyard /ship API (legacy-api.md): authentication (§2), X-SESSION-ID (§3),
// request schemas and the Ship entity (§4); the logic is in legacy::LegacyService. Errors
// use the legacy {"detail"} shape (legacy_errors.hpp).
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <regex>
#include <set>
#include <vector>

#include "bay/api/errors.hpp"
#include "bay/api/legacy_errors.hpp"
#include "bay/api/routes.hpp"
#include "bay/api/upload_spool.hpp"
#include "bay/api/views.hpp"
#include "bay/version.hpp"
#include "common/http/multipart.hpp"
#include "common/random.hpp"
#include "common/strings.hpp"
#include "common/unique_fd.hpp"

namespace shipyard::bay {
namespace {
namespace asio = boost::asio;
using http::bhttp::verb;
using Awaitable = asio::awaitable<Result<std::optional<Reply>>>;
using LegacyHandler =
    std::function<asio::awaitable<Result<std::optional<Reply>>>(http::Exchange&, BayApp&)>;
using EventKind = http::MultipartParser::EventKind;

constexpr std::size_t kChunk = 256 * 1024;
constexpr std::size_t kMaxFieldBytes = 8192;
constexpr std::size_t kErrorBodyLimit = 64 * 1024;
// How much of an oversized upload is still read (and discarded) to report its size in the
// 413 (§8.3); past this the connection is closed and the size counted so far reported.
constexpr std::uint64_t kOversizeDrain = 1ull << 30;
constexpr auto kTransferBudget = std::chrono::seconds(30);
constexpr std::string_view kVendor = "Shipyard";

// ---------------------------------------------------------------- edges

// §2, checked before anything else about the request.
// A header that is present but empty or blank is malformed, not missing.
Status authenticate(const http::Exchange& ex, const BayConfig& config) {
  const auto& fields = ex.request_header();
  auto it = fields.find(http::bhttp::field::authorization);
  if (it == fields.end()) return Error(ErrorCode::kForbidden, "Not authenticated");
  auto token = bearer_token(trim(it->value()));
  if (!token) return Error(ErrorCode::kForbidden, "Invalid authentication credentials");
  if (!constant_time_equals(*token, config.legacy.access_token)) {
    return Error(ErrorCode::kUnauthorized, "Invalid access token");
  }
  return {};
}

asio::awaitable<void> send(http::Exchange& ex, Result<std::optional<Reply>> r) {
  if (!r) {
    co_await ex.respond(legacy_error_response(r.error(), ex));
    co_return;
  }
  if (!*r) co_return;  // the handler streamed its answer itself
  Reply& reply = **r;
  if (reply.no_content) {
    co_await ex.respond(http::Response::no_content());
  } else {
    co_await ex.respond(http::Response::json(reply.status, reply.body));
  }
}

http::Handler legacy_route(BayApp& app, LegacyHandler h, bool authenticated = true) {
  return [&app, h = std::move(h), authenticated](http::Exchange& ex) -> asio::awaitable<void> {
    assign_request_id(ex);
    if (authenticated) {
      if (auto a = authenticate(ex, app.config); !a) {
        co_await ex.respond(legacy_error_response(a.error(), ex));
        co_return;
      }
    }
    auto r = co_await h(ex, app);
    co_await send(ex, std::move(r));
  };
}

// §3: required → 422 when absent; 400 "Invalid X-SESSION-ID" when malformed.
Result<std::string> session_header(const http::Exchange& ex) {
  auto it = ex.request_header().find("X-SESSION-ID");
  if (it == ex.request_header().end()) {
    return schema_error("header", "x-session-id", "Field required", "missing");
  }
  static const std::regex kValid("^[A-Za-z0-9._-]{1,128}$");
  std::string id(it->value());
  if (!std::regex_match(id, kValid) || id == "." || id == "..") {
    return Error(ErrorCode::kInvalidArgument, "Invalid X-SESSION-ID");
  }
  return id;
}

// Collects schema violations (422) with FastAPI-style locations.
class Violations {
 public:
  void add(std::vector<std::string> loc, std::string msg, std::string type) {
    json::array l;
    l.emplace_back("body");
    for (auto& p : loc) l.emplace_back(std::move(p));
    errors_.push_back(
        json::object{{"loc", std::move(l)}, {"msg", std::move(msg)}, {"type", std::move(type)}});
  }
  // Fields outside `allowed` are refused (the legacy models forbid extra fields).
  void extra(const json::object& o, const std::set<std::string_view>& allowed,
             const std::vector<std::string>& at = {}) {
    for (const auto& kv : o) {
      if (allowed.contains(kv.key())) continue;
      auto loc = at;
      loc.emplace_back(kv.key());
      add(std::move(loc), "Extra inputs are not permitted", "extra_forbidden");
    }
  }
  // A required (or, with `required` false, optional) integer > 0.
  std::optional<std::int64_t> positive_int(const json::object& o, std::string_view key,
                                           bool required) {
    const auto* v = o.if_contains(key);
    std::vector<std::string> loc{std::string(key)};
    if (v == nullptr) {
      if (required) add(loc, "Field required", "missing");
      return std::nullopt;
    }
    std::optional<std::int64_t> n;
    if (v->is_int64()) n = v->as_int64();
    if (v->is_uint64()) n = v->as_uint64() > INT64_MAX ? INT64_MAX : std::int64_t(v->as_uint64());
    if (v->is_double() && v->as_double() == std::trunc(v->as_double()) &&
        std::fabs(v->as_double()) < 9e18) {
      n = static_cast<std::int64_t>(v->as_double());
    }
    if (!n) {
      add(loc, "Input should be a valid integer", "int_type");
      return std::nullopt;
    }
    if (*n <= 0) {
      add(loc, "Input should be greater than 0", "greater_than");
      return std::nullopt;
    }
    return n;
  }
  bool ok() const { return errors_.empty(); }
  Error error() const {
    Error e(ErrorCode::kSchema, "Request validation failed");
    e.details["errors"] = errors_;
    return e;
  }

 private:
  json::array errors_;
};

json::value opt_string(const std::optional<std::string>& s) {
  if (s) return json::string(*s);
  return nullptr;
}

// §4.
json::object ship_json(const legacy::ShipView& v) {
  return json::object{{"id", v.ship.id},
                      {"status", v.ship.status},
                      {"created_at", format_timestamp(v.ship.created_at)},
                      {"updated_at", format_timestamp(v.ship.updated_at)},
                      {"container_id", opt_string(v.container_id)},
                      {"ip_address", opt_string(v.ip_address)},
                      {"ttl", v.ship.ttl},
                      {"max_session_num", v.ship.max_session_num},
                      {"current_session_num", v.current_session_num},
                      {"expires_at", timestamp_or_null(v.ship.expires_at)}};
}

std::string ship_id(const http::Exchange& ex) { return std::string(ex.params().get("id")); }

// ---------------------------------------------------------------- waiting clients

// Watches the client's connection while its request waits for a ship slot, and sets `gone`
// once the client closed it (§5: a client that disconnects leaves the queue). The socket
// is watched through a duplicate descriptor, so the connection itself is not disturbed.
asio::awaitable<void> watch_peer(std::shared_ptr<asio::posix::stream_descriptor> sock,
                                 std::shared_ptr<AsyncEvent> gone) {
  for (;;) {
    auto [ec] = co_await sock->async_wait(asio::posix::stream_descriptor::wait_read,
                                          asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;  // cancelled: the request is over
    char c;
    ssize_t n = ::recv(sock->native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) co_return;  // a pipelined request: the client is still there
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    gone->set();
    co_return;
  }
}

class PeerWatch {
 public:
  PeerWatch(http::Exchange& ex, std::shared_ptr<AsyncEvent> gone) {
    int fd = ::fcntl(ex.native_socket(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return;
    sock_ = std::make_shared<asio::posix::stream_descriptor>(ex.executor(), fd);
    asio::co_spawn(ex.executor(), watch_peer(sock_, std::move(gone)), asio::detached);
  }
  ~PeerWatch() {
    boost::system::error_code ec;
    if (sock_) sock_->cancel(ec);
  }
  PeerWatch(const PeerWatch&) = delete;
  PeerWatch& operator=(const PeerWatch&) = delete;

 private:
  std::shared_ptr<asio::posix::stream_descriptor> sock_;
};

// ---------------------------------------------------------------- ships (§5, §7)

Awaitable create_ship(http::Exchange& ex, BayApp& app) {
  auto sid = session_header(ex);
  if (!sid) co_return std::move(sid).error();
  auto body = co_await read_json(ex, app, /*optional_body=*/false);
  if (!body) co_return std::move(body).error();
  Violations v;
  v.extra(*body, {"ttl", "spec", "max_session_num"});
  legacy::ShipRequest req;
  req.session_id = *sid;
  auto ttl = v.positive_int(*body, "ttl", true);
  auto max = v.positive_int(*body, "max_session_num", false);
  if (const auto* spec = body->if_contains("spec"); spec != nullptr && !spec->is_null()) {
    if (!spec->is_object()) {
      v.add({"spec"}, "Input should be a valid dictionary or object", "dict_type");
    } else {
      const auto& s = spec->as_object();
      v.extra(s, {"cpus", "memory"}, {"spec"});
      if (const auto* c = s.if_contains("cpus"); c != nullptr && !c->is_null()) {
        if (!c->is_number()) {
          v.add({"spec", "cpus"}, "Input should be a valid number", "float_type");
        } else if (c->to_number<double>() <= 0 || !std::isfinite(c->to_number<double>())) {
          v.add({"spec", "cpus"}, "Input should be greater than 0", "greater_than");
        } else {
          req.cpus = c->to_number<double>();
        }
      }
      if (const auto* m = s.if_contains("memory"); m != nullptr && !m->is_null()) {
        auto bytes = m->is_string() ? parse_memory(m->as_string()) : std::nullopt;
        if (!m->is_string()) {
          v.add({"spec", "memory"}, "Input should be a valid string", "string_type");
        } else if (!bytes || *bytes < (16u << 20)) {
          v.add({"spec", "memory"}, "Input should be a memory size of at least 16m (e.g. 512m, 1g)",
                "value_error");
        } else {
          req.memory = std::string(m->as_string());
        }
      }
    }
  }
  if (!v.ok()) co_return v.error();
  req.ttl = *ttl;
  req.max_session_num = max.value_or(1);

  auto gone = std::make_shared<AsyncEvent>(co_await asio::this_coro::executor);
  PeerWatch watch(ex, gone);
  auto ship = co_await app.legacy.allocate(std::move(req), gone);
  if (!ship) co_return std::move(ship).error();
  co_return Reply::created(ship_json(*ship));
}

Awaitable get_ship(http::Exchange& ex, BayApp& app) {
  auto ship = co_await app.legacy.get(ship_id(ex));
  if (!ship) co_return std::move(ship).error();
  co_return Reply::ok(ship_json(*ship));
}

Awaitable delete_ship(http::Exchange& ex, BayApp& app) {
  if (auto s = co_await app.legacy.remove(ship_id(ex)); !s) co_return std::move(s).error();
  co_return Reply::none();
}

Awaitable list_ships(http::Exchange&, BayApp& app) {
  auto ships = co_await app.legacy.list_running();
  if (!ships) co_return std::move(ships).error();
  json::array out;
  for (const auto& s : *ships) out.push_back(ship_json(s));
  co_return Reply::ok(std::move(out));
}

Awaitable ship_logs(http::Exchange& ex, BayApp& app) {
  auto logs = co_await app.legacy.logs(ship_id(ex));
  if (!logs) co_return std::move(logs).error();
  co_return Reply::ok(json::object{{"logs", std::move(*logs)}});
}

Awaitable extend_ttl(http::Exchange& ex, BayApp& app) {
  auto body = co_await read_json(ex, app, /*optional_body=*/false);
  if (!body) co_return std::move(body).error();
  Violations v;
  v.extra(*body, {"ttl"});
  auto ttl = v.positive_int(*body, "ttl", true);
  if (!v.ok()) co_return v.error();
  auto ship = co_await app.legacy.extend(ship_id(ex), *ttl);
  if (!ship) co_return std::move(ship).error();
  co_return Reply::ok(ship_json(*ship));
}

// ---------------------------------------------------------------- exec (§8.1, §8.2)

Awaitable forward(BayApp& app, std::string id, std::string sid, std::string type,
                  json::object payload) {
  auto data =
      co_await app.legacy.exec(std::move(id), std::move(sid), std::move(type), std::move(payload));
  if (!data) co_return std::move(data).error();
  co_return Reply::ok(
      json::object{{"success", true}, {"data", std::move(*data)}, {"error", nullptr}});
}

// `payload`: an object, or null/absent for {}.
std::optional<json::object> read_payload(const json::object& body, Violations& v) {
  const auto* p = body.if_contains("payload");
  if (p == nullptr || p->is_null()) return json::object{};
  if (!p->is_object()) {
    v.add({"payload"}, "Input should be a valid dictionary", "dict_type");
    return std::nullopt;
  }
  return p->as_object();
}

Awaitable exec(http::Exchange& ex, BayApp& app) {
  auto sid = session_header(ex);
  if (!sid) co_return std::move(sid).error();
  auto body = co_await read_json(ex, app, /*optional_body=*/false);
  if (!body) co_return std::move(body).error();
  Violations v;
  v.extra(*body, {"type", "payload"});
  std::string type;
  if (const auto* t = body->if_contains("type"); t == nullptr) {
    v.add({"type"}, "Field required", "missing");
  } else if (!t->is_string()) {
    v.add({"type"}, "Input should be a valid string", "string_type");
  } else {
    type = std::string(t->as_string());
  }
  auto payload = read_payload(*body, v);
  if (!v.ok()) co_return v.error();
  co_return co_await forward(app, ship_id(ex), std::move(*sid), std::move(type),
                             std::move(*payload));
}

// §8.2: the body is either the envelope {"type"?, "payload"} or the bare payload.
Awaitable exec_alias(http::Exchange& ex, BayApp& app) {
  auto sid = session_header(ex);
  if (!sid) co_return std::move(sid).error();
  auto body = co_await read_json(ex, app, /*optional_body=*/true);
  if (!body) co_return std::move(body).error();
  std::string oper(ex.params().get("oper"));
  const json::value* t = body->if_contains("type");
  const json::value* p = body->if_contains("payload");
  bool envelope = !body->empty() && (t == nullptr || t->is_string()) &&
                  (p == nullptr || p->is_null() || p->is_object()) &&
                  std::all_of(body->begin(), body->end(), [](const auto& kv) {
                    return kv.key() == "type" || kv.key() == "payload";
                  });
  json::object payload = *body;
  if (envelope) {
    if (t != nullptr && t->as_string() != oper) {
      co_return Error(ErrorCode::kInvalidArgument, "Operation type mismatch");
    }
    Violations v;
    payload = read_payload(*body, v).value_or(json::object{});
  }
  co_return co_await forward(app, ship_id(ex), std::move(*sid), std::move(oper),
                             std::move(payload));
}

// ---------------------------------------------------------------- transfers (§8.3, §8.4)

// Ship's error for a transfer: a path escape stays 403, a missing download 404, anything
// else is a 400.
Error transfer_error(unsigned status, std::string_view body, bool download) {
  ErrorCode code = status == 403               ? ErrorCode::kForbidden
                   : status == 404 && download ? ErrorCode::kNotFound
                                               : ErrorCode::kInvalidArgument;
  return Error(code, legacy::ship_returned(status, body));
}

// A failure of the transfer itself (runtime unreachable, I/O): 500 "<what> failed: ...".
Error transfer_failure(std::string_view what, const Error& e) {
  Error out(ErrorCode::kInternal, std::string(what) + " failed: " + e.message);
  out.context = e.context;
  return out;
}

// Opens the multipart upload to Ship and sends everything up to the file's bytes.
asio::awaitable<Result<std::unique_ptr<ShipBodyWriter>>> open_upload(SessionLease& lease,
                                                                     std::string boundary,
                                                                     std::string session_id,
                                                                     std::string file_path) {
  std::string target = "/fs/upload";
  std::string type = "multipart/form-data; boundary=" + boundary;
  const auto deadline = std::chrono::steady_clock::now() + kTransferBudget;
  auto w = co_await lease.ship().post_stream(std::move(target), std::move(type), deadline,
                                             std::move(session_id));
  if (!w) co_return std::move(w).error();
  std::string prefix = "--" + boundary +
                       "\r\nContent-Disposition: form-data; name=\"file_path\"\r\n\r\n" +
                       file_path + "\r\n--" + boundary +
                       "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload\"\r\n"
                       "Content-Type: application/octet-stream\r\n\r\n";
  if (auto s = co_await (*w)->write(asio::buffer(prefix)); !s) co_return std::move(s).error();
  co_return std::move(*w);
}

Awaitable upload(http::Exchange& ex, BayApp& app) {
  auto sid = session_header(ex);
  if (!sid) co_return std::move(sid).error();
  const std::string id = ship_id(ex);
  auto lease = co_await app.legacy.open_transfer(id, *sid);
  if (!lease) {
    auto code = lease.error().code;
    if (code == ErrorCode::kNotFound || code == ErrorCode::kForbidden) {
      co_return std::move(lease).error();
    }
    co_return transfer_failure("File upload", lease.error());
  }
  auto boundary = http::multipart_boundary(ex.header(http::bhttp::field::content_type));
  if (!boundary) co_return schema_error("body", "file", boundary.error().message, "multipart_type");

  const auto max = static_cast<std::uint64_t>(app.config.legacy.max_upload_size);
  http::MultipartParser parser(*boundary);
  std::vector<char> buf(kChunk);
  enum class Part { kNone, kFile, kPath, kOther } part = Part::kNone;
  std::optional<std::string> file_path;
  std::string field;
  bool have_file = false;
  bool oversize = false;
  std::uint64_t size = 0;
  UploadSpool spool;
  std::unique_ptr<ShipBodyWriter> writer;
  const std::string ship_boundary = "----shipyard-" + random_hex(24);

  for (bool done = false; !done;) {
    auto event = parser.next();
    if (!event) co_return std::move(event).error();
    switch (*event) {
      case EventKind::kNeedMore: {
        auto n = co_await ex.read_some(asio::buffer(buf));
        if (!n) co_return std::move(n).error();
        if (*n == 0) {
          parser.finish();
        } else {
          parser.feed(std::string_view(buf.data(), *n));
        }
        break;
      }
      case EventKind::kPartBegin: {
        const auto& name = parser.headers().name;
        if (name == "file" && !have_file) {
          have_file = true;
          part = Part::kFile;
          if (file_path) {
            auto w = co_await open_upload(**lease, ship_boundary, *sid, *file_path);
            if (!w) co_return transfer_failure("File upload", w.error());
            writer = std::move(*w);
          } else if (auto s = spool.open(app.config.data_dir + "/tmp"); !s) {
            co_return transfer_failure("File upload", s.error());
          }
        } else if (name == "file_path" && !file_path) {
          part = Part::kPath;
          field.clear();
        } else {
          part = Part::kOther;
        }
        break;
      }
      case EventKind::kData: {
        std::string_view d = parser.data();
        if (part == Part::kPath) {
          if (field.size() + d.size() > kMaxFieldBytes) {
            co_return schema_error("body", "file_path", "file_path is too long", "string_too_long");
          }
          field.append(d);
        } else if (part == Part::kFile) {
          size += d.size();
          if (size > max && !oversize) {
            // Ship drops an upload whose connection ends before its last byte.
            oversize = true;
            writer.reset();
          }
          if (oversize) {
            if (size > max + kOversizeDrain) {
              ex.close_after();
              done = true;
            }
          } else if (writer) {
            if (auto s = co_await writer->write(asio::buffer(d.data(), d.size())); !s) {
              (*lease)->mark_broken();
              co_return transfer_failure("File upload", s.error());
            }
          } else if (auto s = spool.write(d); !s) {
            co_return transfer_failure("File upload", s.error());
          }
        }
        break;
      }
      case EventKind::kPartEnd:
        if (part == Part::kPath) file_path = field;
        part = Part::kNone;
        break;
      case EventKind::kDone: done = true; break;
    }
  }
  if (oversize) {
    co_return Error(ErrorCode::kPayloadTooLarge, "File size (" + std::to_string(size) +
                                                     " bytes) exceeds maximum allowed size (" +
                                                     std::to_string(max) + " bytes)");
  }
  if (!have_file) co_return schema_error("body", "file", "Field required", "missing");
  if (!file_path) co_return schema_error("body", "file_path", "Field required", "missing");
  if (!writer) {
    // The file came before its path: open the upload now and send the spooled bytes.
    auto w = co_await open_upload(**lease, ship_boundary, *sid, *file_path);
    if (!w) co_return transfer_failure("File upload", w.error());
    writer = std::move(*w);
    if (::lseek(spool.fd(), 0, SEEK_SET) < 0) {
      co_return transfer_failure("File upload", system_error("rewinding spool", errno));
    }
    for (;;) {
      ssize_t n = ::read(spool.fd(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) co_return transfer_failure("File upload", system_error("reading spool", errno));
      if (n == 0) break;
      if (auto s = co_await writer->write(asio::buffer(buf.data(), static_cast<std::size_t>(n)));
          !s) {
        co_return transfer_failure("File upload", s.error());
      }
    }
  }
  std::string suffix = "\r\n--" + ship_boundary + "--\r\n";
  if (auto s = co_await writer->write(asio::buffer(suffix)); !s) {
    co_return transfer_failure("File upload", s.error());
  }
  auto res = co_await writer->finish(kErrorBodyLimit);
  if (!res) co_return transfer_failure("File upload", res.error());
  if (res->status != 200) co_return transfer_error(res->status, res->body, false);
  boost::system::error_code ec;
  json::value answer = json::parse(res->body, ec);
  const json::value* path =
      !ec && answer.is_object() ? answer.as_object().if_contains("file_path") : nullptr;
  if (path == nullptr || !path->is_string()) {
    co_return transfer_error(res->status, res->body, false);
  }
  lease->reset();
  co_await app.legacy.session_used(id, *sid);
  co_return Reply::ok(json::object{{"success", true},
                                   {"message", "File uploaded successfully"},
                                   {"file_path", *path},
                                   {"error", nullptr}});
}

// `attachment; filename="<name>"` with the name made safe for a quoted header value.
std::string disposition(std::string_view path) {
  auto slash = path.rfind('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  std::string plain;
  bool ascii = true;
  for (char c : base) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F || u >= 0x80) {
      ascii = false;
      plain += '_';
    } else {
      if (c == '"' || c == '\\') plain += '\\';
      plain += c;
    }
  }
  std::string out = "attachment; filename=\"" + plain + "\"";
  if (!ascii) out += "; filename*=UTF-8''" + percent_encode(base);
  return out;
}

Awaitable download(http::Exchange& ex, BayApp& app) {
  auto sid = session_header(ex);
  if (!sid) co_return std::move(sid).error();
  auto file_path = ex.query("file_path");
  if (!file_path) co_return schema_error("query", "file_path", "Field required", "missing");
  const std::string id = ship_id(ex);
  auto lease = co_await app.legacy.open_transfer(id, *sid);
  if (!lease) {
    auto code = lease.error().code;
    if (code == ErrorCode::kNotFound || code == ErrorCode::kForbidden) {
      co_return std::move(lease).error();
    }
    // §8.4 has no 500: a runtime that cannot be (re)started is one of the "other" errors.
    co_return Error(ErrorCode::kInvalidArgument, "File download failed: " + lease.error().message);
  }
  std::string target = "/fs/download?file_path=" + percent_encode(*file_path);
  const auto deadline = std::chrono::steady_clock::now() + kTransferBudget;
  auto reader = co_await (*lease)->ship().get_stream(std::move(target), deadline, *sid);
  if (!reader) {
    if (reader.error().code == ErrorCode::kUpstream) (*lease)->mark_broken();
    co_return Error(ErrorCode::kInvalidArgument, "Connection error: " + reader.error().message);
  }
  auto& r = **reader;
  if (r.status() != 200) {
    auto body = co_await r.read_rest(kErrorBodyLimit);
    if (!body)
      co_return Error(ErrorCode::kInvalidArgument, "Connection error: " + body.error().message);
    co_return transfer_error(r.status(), *body, true);
  }
  auto length = r.content_length();
  if (!length) {
    co_return Error(ErrorCode::kInvalidArgument, "Ship returned a download without a length");
  }
  http::Response head;
  head.content_type = "application/octet-stream";
  head.headers.emplace_back("Content-Disposition", disposition(*file_path));
  if (auto s = co_await ex.begin_response(std::move(head), *length); !s) co_return std::nullopt;
  // Spliced like the v1 download; a runtime that ends early leaves a short body.
  std::uint64_t sent = co_await ex.splice_body(r, *length);
  if (sent != *length) {
    ex.close_after();
    co_return std::nullopt;
  }
  lease->reset();
  co_await app.legacy.session_used(id, *sid);
  co_return std::nullopt;
}

}  // namespace

void add_legacy_routes(BayRouter& r, BayApp& app) {
  if (!app.config.legacy.enabled) return;
  auto root = [](http::Exchange&, BayApp&) -> Awaitable {
    co_return Reply::ok(json::object{{"status", "ok"}, {"message", "Welcome to Bay API"}});
  };
  auto stat = [](http::Exchange&, BayApp&) -> Awaitable {
    co_return Reply::ok(json::object{
        {"service", "bay"}, {"version", kBayVersion}, {"status", "running"}, {"author", kVendor}});
  };
  r.add(verb::get, "/", legacy_route(app, root, /*authenticated=*/false));
  r.add(verb::get, "/stat", legacy_route(app, stat, /*authenticated=*/false));
  r.add(verb::post, "/ship", legacy_route(app, create_ship));
  r.add(verb::get, "/ships", legacy_route(app, list_ships));
  r.add(verb::get, "/ship/logs/{id}", legacy_route(app, ship_logs));
  r.add(verb::get, "/ship/{id}", legacy_route(app, get_ship));
  r.add(verb::delete_, "/ship/{id}", legacy_route(app, delete_ship));
  r.add(verb::post, "/ship/{id}/exec", legacy_route(app, exec));
  r.add(verb::post, "/ship/{id}/exec/{oper*}", legacy_route(app, exec_alias));
  r.add(verb::post, "/ship/{id}/extend-ttl", legacy_route(app, extend_ttl));
  r.add(verb::post, "/ship/{id}/upload", legacy_route(app, upload));
  r.add(verb::get, "/ship/{id}/download", legacy_route(app, download));
}

}  // namespace shipyard::bay
