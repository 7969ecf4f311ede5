// LegacyService: the ship's runtime — starting it with the ship's resources, preparing a
// session inside it, forwarding exec (§8.1) and the checks around transfers (§8.3, §8.4).
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "bay/legacy/legacy_service.hpp"
#include "bay/legacy/lifetime.hpp"
#include "common/strings.hpp"
#include "common/unique_fd.hpp"

namespace shipyard::bay::legacy {
namespace asio = boost::asio;
using boost::beast::http::verb;
using SteadyClock = std::chrono::steady_clock;

namespace {

// Bounds of what Bay accepts from Ship for one exec, and of a Ship body quoted in an error.
constexpr std::size_t kExecReplyLimit = 64u << 20;
constexpr std::size_t kQuotedBodyLimit = 64u << 10;
// §8.1: at least 30 s; a payload timeout T gives T + 5 s. Ship caps timeouts at a week.
constexpr std::int64_t kMinBudget = 30;
constexpr std::int64_t kMaxBudget = 7 * 24 * 3600 + 5;
constexpr auto kPrepareBudget = std::chrono::seconds(15);

Error bad(std::string message) { return Error(ErrorCode::kInvalidArgument, std::move(message)); }

std::chrono::seconds exec_budget(const json::object& payload) {
  const auto* t = payload.if_contains("timeout");
  if (t == nullptr || !t->is_number() || t->is_bool()) return std::chrono::seconds(kMinBudget);
  double timeout = t->to_number<double>();
  if (!std::isfinite(timeout)) return std::chrono::seconds(kMinBudget);
  double budget = std::clamp(timeout + 5, double(kMinBudget), double(kMaxBudget));
  return std::chrono::seconds(static_cast<std::int64_t>(std::ceil(budget)));
}

std::string read_tail(const std::string& path, std::size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) return {};
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const std::uint64_t from = size > max_bytes ? size - max_bytes : 0;
  std::string out(static_cast<std::size_t>(size - from), '\0');
  ssize_t n = ::pread(fd.get(), out.data(), out.size(), static_cast<off_t>(from));
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return sanitize_utf8(out);
}

}  // namespace

std::optional<ShipOperation> find_operation(std::string_view type) {
  static const std::array<std::pair<std::string_view, verb>, 12> kOperations{{
      {"fs/create_file", verb::post},
      {"fs/read_file", verb::post},
      {"fs/write_file", verb::post},
      {"fs/edit_file", verb::post},
      {"fs/delete_file", verb::post},
      {"fs/list_dir", verb::post},
      {"ipython/exec", verb::post},
      {"ipython/kernel/restart", verb::post},
      {"ipython/kernel/status", verb::get},
      {"shell/exec", verb::post},
      {"shell/processes", verb::get},
      {"shell/cwd", verb::get},
  }};
  for (const auto& [name, method] : kOperations) {
    if (name == type) return ShipOperation{method, "/" + std::string(name)};
  }
  return std::nullopt;
}

LogReader file_log_reader(std::string sessions_dir, std::size_t max_bytes) {
  return [dir = std::move(sessions_dir), max_bytes](const std::string& session_id) {
    // Runtime session ids are Bay's own ("sess-<hex>"); anything else is not a file name.
    if (session_id.empty() || session_id.find('/') != std::string::npos || session_id[0] == '.') {
      return std::string();
    }
    return read_tail(dir + "/" + session_id + "/ship.log", max_bytes);
  };
}

std::string ship_returned(unsigned status, std::string_view body) {
  if (body.size() > kQuotedBodyLimit) body = body.substr(0, kQuotedBodyLimit);
  return "Ship returned " + std::to_string(status) + ": " + sanitize_utf8(body);
}

Error LegacyService::start_failure(const Error& e, bool deleted) const {
  Error out(ErrorCode::kInternal, e.message);
  if (deleted) {
    out.message = "Ship was deleted while starting";
  } else if (e.code == ErrorCode::kUnavailable) {
    out.message = "Ship failed to become ready within " +
                  std::to_string(config_.legacy.ship_ready_timeout) + " seconds";
  } else if (out.message.empty()) {
    out.message = "Ship could not be started";
  }
  out.context = e.context.empty() ? e.message : e.message + " (" + e.context + ")";
  return out;
}

asio::awaitable<Result<std::unique_ptr<SessionLease>>> LegacyService::runtime(ShipPtr ship) {
  const std::string id = ship->rec.id;
  auto sb = co_await store_.find_sandbox(id);
  if (!sb) co_return std::move(sb).error();
  if (!*sb || (*sb)->deleted_at) co_return Error(ErrorCode::kNotFound, "Ship not found");
  const Profile* base = config_.find_profile((*sb)->profile);
  if (base == nullptr) {
    Error e(ErrorCode::kInternal, "The ship's profile no longer exists: " + (*sb)->profile);
    e.context = e.message;
    co_return e;
  }
  auto cargo = co_await store_.find_cargo((*sb)->cargo_id);
  if (!cargo) co_return std::move(cargo).error();
  if (!*cargo || (*cargo)->deleted_at) {
    Error e(ErrorCode::kInternal, "The ship's cargo is missing: " + (*sb)->cargo_id);
    e.context = e.message;
    co_return e;
  }
  // The ship's own limits: its request, else the legacy defaults, else the profile's.
  Profile profile = *base;
  if (auto cpus = ship->rec.cpus ? ship->rec.cpus : config_.legacy.default_cpus) {
    profile.resources.cpus = *cpus;
  }
  if (auto memory = ship->rec.memory ? ship->rec.memory : config_.legacy.default_memory) {
    if (auto bytes = parse_memory(*memory)) {
      profile.resources.memory = *memory;
      profile.resources.memory_bytes = *bytes;
    }
  }
  const auto deadline =
      SteadyClock::now() + std::chrono::seconds(config_.legacy.ship_ready_timeout);
  std::optional<Cargo> known = std::move(**cargo);
  co_return co_await sessions_.acquire(**sb, profile, std::move(known), deadline);
}

asio::awaitable<Status> LegacyService::prepare_session(SessionLease& lease,
                                                       std::string session_id) {
  // Creating the kernel also creates /workspace/<session>; a runtime without Python still
  // gets the directory from the cheap cwd call.
  const auto deadline = SteadyClock::now() + kPrepareBudget;
  std::string kernel_target = "/ipython/create_kernel";
  std::string kernel_body = "{}";
  auto k = co_await lease.ship().request(verb::post, std::move(kernel_target),
                                         std::move(kernel_body), deadline, 64 * 1024, session_id);
  if (k && k->status == 200) co_return Status{};
  std::string cwd_target = "/shell/cwd";
  auto c = co_await lease.ship().request(verb::get, std::move(cwd_target), std::string(), deadline,
                                         64 * 1024, session_id);
  if (c && c->status == 200) co_return Status{};
  if (!c && c.error().code == ErrorCode::kUpstream) lease.mark_broken();
  Error e(ErrorCode::kInternal, "Ship could not prepare the session workspace");
  e.context = c ? ship_returned(c->status, c->body) : c.error().message + " " + c.error().context;
  co_return e;
}

asio::awaitable<Result<json::value>> LegacyService::exec(std::string id, std::string session_id,
                                                         std::string type, json::object payload) {
  ShipPtr ship = find_ship(id);
  if (!ship || ship->phase != Phase::kRunning) co_return bad("Ship not found or not running");
  auto a = attached_.find(session_id);
  if (a == attached_.end() || a->second.ship_id != id) {
    co_return bad("Session does not have access to this ship");
  }
  auto op = find_operation(type);
  if (!op) co_return bad("Unsupported operation type: " + type);

  auto lease = co_await runtime(ship);
  if (!lease) {
    if (lease.error().code == ErrorCode::kNotFound) co_return bad("Ship not found or not running");
    co_return bad("Connection error: " + lease.error().message);
  }
  const auto deadline = SteadyClock::now() + exec_budget(payload);
  std::string body = op->method == verb::post ? json::serialize(payload) : std::string();
  auto res = co_await (*lease)->ship().request(op->method, op->path, std::move(body), deadline,
                                               kExecReplyLimit, session_id);
  if (!res) {
    if (res.error().code == ErrorCode::kTimeout) co_return bad("Request timeout");
    (*lease)->mark_broken();
    co_return bad("Connection error: " + res.error().message);
  }
  if (res->status != 200) co_return bad(ship_returned(res->status, res->body));
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 64;
  json::value data = json::parse(res->body, ec, {}, opts);
  if (ec) co_return bad("Ship returned an invalid response: " + ship_returned(200, res->body));
  lease->reset();
  co_await session_used(id, session_id);
  co_return data;
}

asio::awaitable<Result<std::unique_ptr<SessionLease>>> LegacyService::open_transfer(
    std::string id, std::string session_id) {
  ShipPtr ship = find_ship(id);
  if (!ship || ship->phase != Phase::kRunning) {
    co_return Error(ErrorCode::kNotFound, "Ship not found or not running");
  }
  auto a = attached_.find(session_id);
  if (a == attached_.end() || a->second.ship_id != id) {
    co_return Error(ErrorCode::kForbidden, "Session does not have access to this ship");
  }
  auto lease = co_await runtime(ship);
  if (!lease && lease.error().code == ErrorCode::kNotFound) {
    co_return Error(ErrorCode::kNotFound, "Ship not found or not running");
  }
  co_return lease;
}

asio::awaitable<void> LegacyService::session_used(std::string id, std::string session_id) {
  ShipPtr ship = find_ship(id);
  auto a = attached_.find(session_id);
  if (!ship || ship->phase != Phase::kRunning || a == attached_.end() || a->second.ship_id != id) {
    co_return;
  }
  const TimePoint now = clock_.now();
  refresh_session(a->second, now);
  recompute_expiry(ship->rec, sessions_of(id), now);
  co_await persist(ship, session_id);
}

}  // namespace shipyard::bay::legacy
