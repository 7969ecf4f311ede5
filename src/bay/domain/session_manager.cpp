#include "bay/domain/session_manager.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <set>

#include "bay/domain/rules.hpp"
#include "bay/domain/runtime_ready.hpp"
#include "common/json.hpp"

namespace shipyard::bay {
namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;
using State = SessionView::State;

struct Runtime {
  explicit Runtime(asio::any_io_executor ex) : settled(ex) {}
  std::string sandbox_id;
  std::string owner;
  std::string session_id;
  State state = State::kStarting;
  RuntimeHandle handle;
  std::unique_ptr<ShipClient> client;
  AsyncEvent settled;  // the start finished (ready or failed) or was cancelled
  Error failure;
  bool cancelled = false;
  bool broken = false;
  bool parked = false;  // a warm runtime not yet adopted by a call (invisible)
  int inflight = 0;
  std::int64_t idle_timeout = 0;
  std::optional<TimePoint> idle_expires_at;
  // What the store holds. Only a restarted Bay reads it (idleness is judged in memory),
  // so it is rewritten when the deadline moved by kIdleSaveStep, not on every call.
  std::optional<TimePoint> saved_idle_expires_at;
  std::optional<std::string> version;
  std::vector<std::string> capabilities;
  TimePoint created_at;
  std::string failure_text;
};

namespace {

// A restarted Bay may see a session's idle deadline up to this much too early.
constexpr std::chrono::seconds kIdleSaveStep{1};

SessionState to_record_state(State s) {
  switch (s) {
    case State::kStarting: return SessionState::kStarting;
    case State::kReady: return SessionState::kReady;
    case State::kFailed: return SessionState::kFailed;
    case State::kNone: return SessionState::kStopped;
  }
  return SessionState::kStopped;
}

}  // namespace

// ---------------------------------------------------------------- SessionLease

SessionLease::SessionLease(std::shared_ptr<Runtime> rt, SessionManager* mgr)
    : rt_(std::move(rt)), mgr_(mgr) {}
SessionLease::~SessionLease() { mgr_->release(*rt_); }
ShipClient& SessionLease::ship() { return *rt_->client; }
const std::string& SessionLease::session_id() const { return rt_->session_id; }
const std::vector<std::string>& SessionLease::runtime_capabilities() const {
  return rt_->capabilities;
}
void SessionLease::mark_broken() { rt_->broken = true; }

// ---------------------------------------------------------------- SessionManager

std::vector<std::pair<std::string, std::string>> session_environment(const Sandbox& sandbox,
                                                                     const std::string& session_id,
                                                                     const Profile& profile) {
  json::object profile_env;
  for (const auto& [k, v] : profile.env) profile_env[k] = v;
  std::vector<std::pair<std::string, std::string>> env{
      {"BAY_SANDBOX_ID", sandbox.id},
      {"BAY_SESSION_ID", session_id},
      {"BAY_WORKSPACE_PATH", "/workspace"},
      {"BAY_PROFILE_ENV", json::serialize(profile_env)},
  };
  for (const auto& kv : profile.env) env.push_back(kv);
  return env;
}

SessionManager::SessionManager(asio::any_io_executor io, Store& store, Driver& driver,
                               const Clock& clock, SessionSettings settings)
    : io_(std::move(io)),
      store_(store),
      driver_(driver),
      clock_(clock),
      settings_(std::move(settings)) {}

SessionManager::~SessionManager() = default;

void SessionManager::release(Runtime& rt) {
  --rt.inflight;
  // A long call refreshes the idle deadline when it completes (§6.3, RECOMMENDED).
  if (rt.state == State::kReady && !rt.cancelled) {
    rt.idle_expires_at = clock_.now() + std::chrono::seconds(rt.idle_timeout);
  }
}

asio::awaitable<void> SessionManager::save_idle_expiry(std::shared_ptr<Runtime> rt) {
  const auto& saved = rt->saved_idle_expires_at;
  const auto& now = rt->idle_expires_at;
  if (saved && now && *now >= *saved && *now - *saved < kIdleSaveStep) co_return;
  rt->saved_idle_expires_at = now;
  auto s = co_await store_.set_session_idle_expiry(rt->session_id, now);
  if (!s) spdlog::warn("saving idle expiry of {}: {}", rt->session_id, s.error().context);
}

asio::awaitable<void> SessionManager::persist(std::shared_ptr<Runtime> rt) {
  SessionRecord rec;
  rec.id = rt->session_id;
  rec.sandbox_id = rt->sandbox_id;
  // A parked runtime is recorded as starting: a restarted Bay ends it rather than
  // showing it as a ready session nobody started.
  rec.state = rt->parked ? SessionState::kStarting : to_record_state(rt->state);
  rec.runtime_id = rt->handle.runtime_id;
  rec.endpoint = rt->handle.endpoint;
  rec.instance_id = settings_.instance_id;
  rec.created_at = rt->created_at;
  rec.idle_expires_at = rt->idle_expires_at;
  rt->saved_idle_expires_at = rt->idle_expires_at;
  rec.failure = rt->failure_text;
  auto r = co_await store_.save_session(std::move(rec));
  if (!r) spdlog::error("saving session {}: {}", rt->session_id, r.error().context);
}

asio::awaitable<Result<std::unique_ptr<SessionLease>>> SessionManager::acquire(
    const Sandbox& sandbox, const Profile& profile, std::optional<Cargo> cargo,
    SteadyClock::time_point wait_deadline, std::int64_t max_sessions_per_owner) {
  for (;;) {
    auto it = runtimes_.find(sandbox.id);
    std::shared_ptr<Runtime> rt = it == runtimes_.end() ? nullptr : it->second;
    if (rt && rt->state == State::kReady && (rt->broken || !driver_.alive(rt->handle))) {
      spdlog::info("sandbox {}: the runtime of {} is gone; starting a new session", sandbox.id,
                   rt->session_id);
      runtimes_.erase(sandbox.id);
      co_await retire(rt);
      continue;
    }
    if (rt && rt->parked) {
      // The first call adopts the warm runtime the sandbox got at creation.
      rt->parked = false;
      spdlog::info("sandbox {}: adopting warm session {}", sandbox.id, rt->session_id);
      co_await persist(rt);
      continue;
    }
    if (rt && rt->state == State::kFailed) {
      // The previous start failed: this call retries from scratch (§6.10.1).
      runtimes_.erase(sandbox.id);
      co_await retire(rt);
      continue;
    }
    if (!rt) {
      if (!cargo) {
        auto found = co_await store_.find_cargo(sandbox.cargo_id);
        if (!found) co_return std::move(found).error();
        if (!*found || (*found)->deleted_at) {
          Error e(ErrorCode::kInternal, "The sandbox's cargo is missing: " + sandbox.cargo_id);
          e.context = e.message;
          co_return e;
        }
        cargo = std::move(**found);
        continue;  // the lookup suspended: look at the sandbox's runtime again
      }
      if (max_sessions_per_owner > 0 && running_sessions(sandbox.owner) >= max_sessions_per_owner) {
        co_return quota_exceeded("sessions", max_sessions_per_owner,
                                 "Session quota exceeded: at most " +
                                     std::to_string(max_sessions_per_owner) +
                                     " running sessions per owner; stop a sandbox and retry");
      }
      rt = std::make_shared<Runtime>(io_);
      rt->sandbox_id = sandbox.id;
      rt->owner = sandbox.owner;
      rt->session_id = new_id("sess-");
      rt->idle_timeout = profile.idle_timeout;
      rt->created_at = clock_.now();
      runtimes_[sandbox.id] = rt;
      SessionSpec spec;
      spec.session_id = rt->session_id;
      spec.sandbox_id = sandbox.id;
      spec.profile = profile;
      spec.cargo_id = cargo->id;
      spec.cargo_path = cargo->storage_path;
      spec.cargo_uid = cargo->host_uid;
      spec.env = session_environment(sandbox, rt->session_id, profile);
      spec.instance_id = settings_.instance_id;
      spdlog::info("sandbox {}: starting session {}", sandbox.id, rt->session_id);
      // The start runs on its own: a caller that gives up does not cancel it, and stop or
      // delete can (§6.10.2).
      asio::co_spawn(io_, start_runtime(rt, std::move(spec)), asio::detached);
    }
    if (rt->state == State::kStarting) {
      bool settled = co_await rt->settled.wait_until(wait_deadline);
      if (!settled) {
        co_return session_not_ready(sandbox.id, "The sandbox session is still starting");
      }
      if (rt->cancelled) {
        co_return session_not_ready(sandbox.id, "The sandbox session was stopped while starting");
      }
      if (rt->state == State::kFailed) co_return rt->failure;
      continue;  // re-check: it may have died or been replaced meanwhile
    }
    // Ready.
    rt->idle_timeout = profile.idle_timeout;
    ++rt->inflight;
    rt->idle_expires_at = clock_.now() + std::chrono::seconds(rt->idle_timeout);
    auto lease = std::make_unique<SessionLease>(rt, this);
    co_await save_idle_expiry(rt);
    co_return lease;
  }
}

asio::awaitable<void> SessionManager::start_runtime(std::shared_ptr<Runtime> rt, SessionSpec spec) {
  co_await persist(rt);
  const std::string cargo_id = spec.cargo_id;
  auto handle = co_await driver_.start(std::move(spec));
  if (!handle) {
    co_await fail(rt, std::move(handle).error());
    co_return;
  }
  rt->handle = *handle;
  if (rt->cancelled) {
    co_await destroy_runtime(rt);
    co_return;
  }
  co_await persist(rt);  // from now on a restarted Bay can find (and clean up) the runtime
  if (auto t = co_await store_.touch_cargo(cargo_id, clock_.now()); !t) {
    spdlog::warn("touching cargo {}: {}", cargo_id, t.error().context);
  }
  rt->client = std::make_unique<ShipClient>(io_, rt->handle.endpoint);
  ReadinessBudget budget{settings_.ready_timeout, settings_.probe_budget, settings_.meta_budget};
  auto is_cancelled = [rt] { return rt->cancelled; };
  auto meta = co_await wait_runtime_ready(*rt->client, driver_, rt->handle, budget, rt->sandbox_id,
                                          std::move(is_cancelled));
  if (rt->cancelled) {
    co_await destroy_runtime(rt);
    co_return;
  }
  if (!meta) {
    co_await fail(rt, std::move(meta).error());
    co_return;
  }
  rt->version = std::move(meta->version);
  rt->capabilities = std::move(meta->capabilities);
  rt->state = State::kReady;
  rt->settled.set();
  spdlog::info("sandbox {}: session {} ready (ship {})", rt->sandbox_id, rt->session_id,
               *rt->version);
  co_await persist(rt);
}

asio::awaitable<void> SessionManager::fail(std::shared_ptr<Runtime> rt, Error error) {
  spdlog::warn("sandbox {}: session {} failed to start: {} ({})", rt->sandbox_id, rt->session_id,
               error.message, error.context);
  rt->state = State::kFailed;
  rt->failure_text = error.message;
  rt->failure = std::move(error);
  rt->settled.set();
  if (!rt->cancelled) co_await persist(rt);
  co_await destroy_runtime(rt);
}

asio::awaitable<void> SessionManager::destroy_runtime(std::shared_ptr<Runtime> rt) {
  if (rt->client) rt->client->reset();
  if (rt->handle.runtime_id.empty()) co_return;
  auto s = co_await driver_.destroy(rt->handle);
  if (!s) {
    spdlog::error("destroying runtime of session {}: {} ({})", rt->session_id, s.error().message,
                  s.error().context);
  }
}

asio::awaitable<void> SessionManager::retire(std::shared_ptr<Runtime> rt) {
  rt->cancelled = true;
  rt->settled.set();
  auto s = co_await store_.end_session(rt->session_id);
  if (!s) spdlog::error("ending session {}: {}", rt->session_id, s.error().context);
  // Teardown may take a moment (processes to reap, cgroups to remove): never make the
  // caller wait for it.
  asio::co_spawn(io_, destroy_runtime(rt), asio::detached);
}

asio::awaitable<void> SessionManager::park(const Sandbox& sandbox, const Profile& profile,
                                           PreparedRuntime prepared) {
  auto rt = std::make_shared<Runtime>(io_);
  rt->sandbox_id = sandbox.id;
  rt->owner = sandbox.owner;
  rt->session_id = prepared.session_id;
  rt->handle = prepared.handle;
  rt->client = std::move(prepared.client);
  rt->version = std::move(prepared.meta.version);
  rt->capabilities = std::move(prepared.meta.capabilities);
  rt->created_at = clock_.now();
  rt->idle_timeout = profile.idle_timeout;
  // Never used, it is reclaimed like a session idle since the sandbox's creation.
  rt->idle_expires_at = rt->created_at + std::chrono::seconds(profile.idle_timeout);
  rt->state = State::kReady;
  rt->parked = true;
  rt->settled.set();
  reserved_.erase(rt->session_id);
  if (runtimes_.contains(sandbox.id)) {
    co_await retire(rt);  // cannot happen for a sandbox being created; never leak it
    co_return;
  }
  runtimes_[sandbox.id] = rt;
  co_await persist(rt);
}

asio::awaitable<Status> SessionManager::stop(const std::string& sandbox_id) {
  auto it = runtimes_.find(sandbox_id);
  if (it == runtimes_.end()) co_return Status{};
  auto rt = it->second;
  runtimes_.erase(it);
  spdlog::info("sandbox {}: stopping session {}", sandbox_id, rt->session_id);
  co_await retire(rt);
  co_return Status{};
}

asio::awaitable<bool> SessionManager::keepalive(const std::string& sandbox_id,
                                                const Profile& profile) {
  auto it = runtimes_.find(sandbox_id);
  if (it == runtimes_.end() || it->second->state != State::kReady || it->second->parked) {
    co_return false;
  }
  auto rt = it->second;
  rt->idle_timeout = profile.idle_timeout;
  rt->idle_expires_at = clock_.now() + std::chrono::seconds(profile.idle_timeout);
  co_await save_idle_expiry(rt);
  co_return true;
}

std::int64_t SessionManager::running_sessions(const std::string& owner) const {
  std::int64_t n = 0;
  for (const auto& [id, rt] : runtimes_) {
    if (rt->owner == owner && (rt->state == State::kStarting || rt->state == State::kReady)) ++n;
  }
  return n;
}

SessionView SessionManager::view(const std::string& sandbox_id) const {
  SessionView v;
  auto it = runtimes_.find(sandbox_id);
  if (it == runtimes_.end()) return v;
  const auto& rt = *it->second;
  if (rt.parked) return v;
  v.state = rt.state;
  v.session_id = rt.session_id;
  v.idle_expires_at = rt.state == State::kReady ? rt.idle_expires_at : std::nullopt;
  v.version = rt.version;
  v.runtime_capabilities = rt.capabilities;
  v.inflight = rt.inflight;
  return v;
}

asio::awaitable<std::optional<bool>> SessionManager::probe_health(
    const std::string& sandbox_id, SteadyClock::time_point deadline) {
  auto it = runtimes_.find(sandbox_id);
  if (it == runtimes_.end() || it->second->state != State::kReady || it->second->parked) {
    co_return std::nullopt;
  }
  auto rt = it->second;
  auto res = co_await rt->client->request(boost::beast::http::verb::get, "/health", {}, deadline,
                                          64 * 1024);
  if (!res) {
    if (res.error().code == ErrorCode::kTimeout) co_return std::nullopt;
    co_return false;
  }
  co_return res->status == 200;
}

std::vector<std::string> SessionManager::sandboxes_with_sessions() const {
  std::vector<std::string> out;
  for (const auto& [id, rt] : runtimes_) {
    if (rt->state == State::kReady) out.push_back(id);
  }
  return out;
}

asio::awaitable<bool> SessionManager::reclaim_if_idle(const std::string& sandbox_id,
                                                      TimePoint now) {
  auto it = runtimes_.find(sandbox_id);
  if (it == runtimes_.end()) co_return false;
  auto rt = it->second;
  // Checked and removed without a suspension point in between: a call that arrives later
  // finds no session and starts a fresh one; a call already in flight blocks reclaim.
  if (rt->state != State::kReady || rt->inflight > 0 || !rt->idle_expires_at ||
      *rt->idle_expires_at >= now) {
    co_return false;
  }
  runtimes_.erase(it);
  spdlog::info("sandbox {}: reclaiming idle session {}", sandbox_id, rt->session_id);
  co_await retire(rt);
  co_return true;
}

bool SessionManager::knows_session(const std::string& session_id) const {
  if (reserved_.contains(session_id)) return true;
  for (const auto& [id, rt] : runtimes_) {
    if (rt->session_id == session_id) return true;
  }
  return false;
}

asio::awaitable<void> SessionManager::recover() {
  auto sessions = co_await store_.list_active_sessions();
  if (!sessions) {
    spdlog::error("recovering sessions: {}", sessions.error().context);
    co_return;
  }
  std::set<std::string> known;
  int reattached = 0, ended = 0;
  for (auto& s : *sessions) {
    known.insert(s.id);
    RuntimeHandle handle{s.runtime_id, s.endpoint};
    auto sandbox = co_await store_.find_sandbox(s.sandbox_id);
    bool live_sandbox = sandbox && *sandbox && !(*sandbox)->deleted_at;
    bool usable = live_sandbox && s.state == SessionState::kReady && !s.runtime_id.empty() &&
                  driver_.alive(handle) && !runtimes_.contains(s.sandbox_id);
    if (usable) {
      auto rt = std::make_shared<Runtime>(io_);
      rt->sandbox_id = s.sandbox_id;
      rt->owner = (*sandbox)->owner;
      rt->session_id = s.id;
      rt->handle = handle;
      rt->created_at = s.created_at;
      rt->idle_expires_at = s.idle_expires_at;
      rt->client = std::make_unique<ShipClient>(io_, handle.endpoint);
      auto meta =
          co_await rt->client->request_json(boost::beast::http::verb::get, "/meta", std::nullopt,
                                            SteadyClock::now() + settings_.probe_budget, 1 << 20);
      const json::value* version = nullptr;
      if (meta && meta->status == 200) {
        if (const auto* r = meta->body.if_contains("runtime"); r && r->is_object()) {
          version = r->as_object().if_contains("version");
        }
        if (const auto* caps = meta->body.if_contains("capabilities"); caps && caps->is_object()) {
          for (const auto& kv : caps->as_object()) rt->capabilities.emplace_back(kv.key());
        }
      }
      if (version != nullptr && version->is_string()) {
        rt->version = std::string(version->as_string());
        rt->state = State::kReady;
        rt->settled.set();
        rt->idle_timeout = 0;
        runtimes_[s.sandbox_id] = rt;
        ++reattached;
        continue;
      }
    }
    ++ended;
    auto e = co_await store_.end_session(s.id);
    if (!e) spdlog::error("ending session {}: {}", s.id, e.error().context);
    if (!s.runtime_id.empty()) {
      auto d = co_await driver_.destroy(handle);
      if (!d) spdlog::warn("destroying runtime of {}: {}", s.id, d.error().context);
    }
  }
  spdlog::info("sessions: {} re-attached, {} ended", reattached, ended);
  auto runtimes = co_await driver_.list_runtimes(settings_.instance_id);
  if (runtimes) {
    for (const auto& r : *runtimes) {
      if (!known.contains(r.session_id)) {
        spdlog::warn(
            "runtime of unknown session {} found ({}); the orphan_container GC task removes it",
            r.session_id, r.handle.runtime_id);
      }
    }
  }
}

}  // namespace shipyard::bay
