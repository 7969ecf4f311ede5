#include "bay/domain/sandbox_service.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <charconv>

#include "bay/domain/rules.hpp"
#include "common/strings.hpp"

namespace shipyard::bay {
namespace asio = boost::asio;
using State = SessionView::State;

namespace {

// Bay's answer to a start that is still in progress after this long is 503 with
// retry_after_ms (§6.10.2 allows either waiting or answering so).
constexpr auto kStartWait = std::chrono::seconds(120);

std::string status_name(const Sandbox& sb, const SessionView& v, TimePoint now) {
  if (sb.expires_at && now > *sb.expires_at) return "expired";
  switch (v.state) {
    case State::kReady: return "ready";
    case State::kStarting: return "starting";
    case State::kFailed: return "failed";
    case State::kNone: return "idle";
  }
  return "idle";
}

}  // namespace

std::string encode_cursor(std::string_view kind, const ListCursor& c) {
  return base64url_encode(std::string(kind) + ":" +
                          std::to_string(c.created_at.time_since_epoch().count()) + ":" + c.id);
}

std::optional<ListCursor> decode_cursor(std::string_view kind, std::string_view s) {
  auto raw = base64url_decode(s);
  if (!raw) return std::nullopt;
  auto parts = split(*raw, ':');
  if (parts.size() != 3 || parts[0] != kind || parts[2].empty()) return std::nullopt;
  std::int64_t us = 0;
  auto r = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), us);
  if (r.ec != std::errc() || r.ptr != parts[1].data() + parts[1].size()) return std::nullopt;
  return ListCursor{TimePoint(Micros(us)), std::string(parts[2])};
}

SandboxService::SandboxService(Store& store, SessionManager& sessions, Driver& driver,
                               const BayConfig& config, const Clock& clock)
    : store_(store), sessions_(sessions), driver_(driver), config_(config), clock_(clock) {}

SandboxState SandboxService::state_of(const Sandbox& sandbox) const {
  SandboxState s;
  s.sandbox = sandbox;
  s.profile = config_.find_profile(sandbox.profile);
  s.session = sessions_.view(sandbox.id);
  // A legacy ship's sandbox is never reclaimed for idleness, so it has no idle deadline.
  if (sandbox.legacy) s.session.idle_expires_at.reset();
  s.status = status_name(sandbox, s.session, clock_.now());
  return s;
}

asio::awaitable<Result<SandboxState>> SandboxService::create(std::string owner,
                                                             CreateSandboxRequest req) {
  const Profile* profile = config_.find_profile(req.profile);
  if (profile == nullptr) co_return validation_error("Invalid profile: " + req.profile);
  // The owner's lock makes "count, then insert" atomic against the owner's other creates
  // (deletes only lower the count). It is held through the insert, so creates of one
  // owner are serialised while a quota is configured; other owners are not affected.
  KeyedLock::Guard quota_guard;
  if (config_.max_sandboxes_per_owner > 0) {
    quota_guard = co_await quota_lock_.lock(owner);
    auto count = co_await store_.count_live_sandboxes(owner);
    if (!count) co_return std::move(count).error();
    if (*count >= config_.max_sandboxes_per_owner) {
      co_return quota_exceeded("sandboxes", config_.max_sandboxes_per_owner,
                               "Sandbox quota exceeded: at most " +
                                   std::to_string(config_.max_sandboxes_per_owner) +
                                   " live sandboxes per owner; delete one and retry");
    }
  }
  const TimePoint now = clock_.now();
  Sandbox sb;
  sb.id = new_id("sandbox-");
  sb.owner = owner;
  sb.profile = profile->id;
  sb.created_at = now;
  if (req.ttl && *req.ttl > 0) sb.expires_at = add_seconds_capped(now, *req.ttl);

  std::optional<Cargo> managed;
  std::optional<WarmSlot> slot;
  KeyedLock::Guard cargo_guard;  // held until the sandbox row is in (see cargo_binding_lock)
  if (req.cargo_id) {
    cargo_guard = co_await cargo_binding_lock().lock(*req.cargo_id);
    auto cargo = co_await store_.find_cargo(*req.cargo_id);
    if (!cargo) co_return std::move(cargo).error();
    if (!*cargo || (*cargo)->owner != owner || (*cargo)->deleted_at) {
      co_return not_found("cargo", *req.cargo_id);
    }
    if ((*cargo)->managed) {
      auto users = co_await store_.cargo_users((*cargo)->id);
      if (!users) co_return std::move(users).error();
      if (!users->empty()) {
        json::object d{{"cargo_id", (*cargo)->id},
                       {"managed_by_sandbox_id", (*cargo)->managed_by_sandbox_id.value_or("")}};
        co_return conflict("Cargo is managed by another sandbox: " + (*cargo)->id, std::move(d));
      }
    }
    sb.cargo_id = (*cargo)->id;
  } else {
    // A warm slot brings the storage of the managed cargo and a runtime already started
    // on it (docs/warm-pool.md); without one the storage is prepared here.
    if (warm_ != nullptr) slot = warm_->claim(profile->id);
    Cargo c;
    c.owner = owner;
    c.managed = true;
    c.managed_by_sandbox_id = sb.id;
    c.created_at = now;
    c.last_accessed_at = now;
    if (slot) {
      c.id = slot->cargo.id;
      c.host_uid = slot->cargo.host_uid;
      c.size_limit_mb = slot->cargo.size_limit_mb;
      c.storage_path = slot->cargo.storage_path;
    } else {
      c.id = new_id("ws-");
      c.size_limit_mb = config_.cargo_default_size_limit_mb;
      auto uid = co_await store_.allocate_uid(config_.driver.process.uid_base);
      if (!uid) co_return std::move(uid).error();
      c.host_uid = *uid;
      auto path = co_await driver_.create_cargo_storage(c.id, c.host_uid, c.size_limit_mb);
      if (!path) co_return std::move(path).error().with_context("creating cargo " + c.id);
      c.storage_path = *path;
    }
    sb.cargo_id = c.id;
    managed = std::move(c);
  }
  // A warm slot's runtime is bound to the sandbox while its row goes in: both are on the
  // way to the answer, and a failed insert discards the runtime either way.
  Status s;
  Status bound;
  if (slot) {
    using namespace asio::experimental::awaitable_operators;
    auto insert = store_.create_sandbox(sb, managed);
    auto binding = warm_->bind(*slot, sb.id);
    auto both = co_await (std::move(insert) && std::move(binding));
    s = std::move(std::get<0>(both));
    bound = std::move(std::get<1>(both));
  } else {
    s = co_await store_.create_sandbox(sb, managed);
  }
  if (!s) {
    // Nothing half-created may stay behind: the storage goes with the failed insert.
    if (slot) {
      co_await warm_->discard(std::move(*slot), true);
    } else if (managed) {
      auto d = co_await driver_.delete_cargo_storage(managed->storage_path);
      if (!d) spdlog::error("removing storage of {}: {}", managed->id, d.error().context);
    }
    co_return std::move(s).error().with_context("creating sandbox " + sb.id);
  }
  if (slot) {
    // The storage is the cargo's now; the runtime joins the sandbox, invisible until the
    // first call. A runtime that cannot be bound is dropped: that call starts cold.
    if (bound) {
      co_await sessions_.park(sb, *profile, std::move(slot->runtime));
    } else {
      spdlog::warn("sandbox {}: warm runtime not bound ({}); it will start cold", sb.id,
                   bound.error().context);
      co_await warm_->discard(std::move(*slot), false);
    }
  }
  spdlog::info("owner {}: created {} (profile {}, cargo {})", owner, sb.id, sb.profile,
               sb.cargo_id);
  co_return state_of(sb);
}

asio::awaitable<Result<CallTarget>> SandboxService::lookup(std::string owner, std::string id) {
  auto sb = co_await store_.find_sandbox(id);
  if (!sb) co_return std::move(sb).error();
  if (!*sb || (*sb)->owner != owner || (*sb)->deleted_at) co_return not_found("sandbox", id);
  CallTarget t;
  t.sandbox = std::move(**sb);
  t.profile = config_.find_profile(t.sandbox.profile);
  if (t.profile == nullptr) {
    // The profile was removed from the configuration after the sandbox was created.
    Error e(ErrorCode::kInternal, "The sandbox's profile no longer exists: " + t.sandbox.profile);
    e.context = e.message;
    co_return e;
  }
  co_return t;
}

asio::awaitable<Result<SandboxState>> SandboxService::get(std::string owner, std::string id) {
  auto t = co_await lookup(std::move(owner), std::move(id));
  if (!t) co_return std::move(t).error();
  co_return state_of(t->sandbox);
}

asio::awaitable<Result<SandboxPage>> SandboxService::list(std::string owner, std::int64_t limit,
                                                          std::optional<std::string> cursor,
                                                          std::optional<std::string> status) {
  std::optional<ListCursor> after;
  if (cursor) {
    after = decode_cursor("sbx", *cursor);
    if (!after) co_return validation_error("Invalid cursor");
  }
  static const std::vector<std::string> kStatuses{"expired", "ready", "starting", "failed", "idle"};
  if (status && std::find(kStatuses.begin(), kStatuses.end(), *status) == kStatuses.end()) {
    status.reset();  // an unrecognised value means no filter (§6.6)
  }
  SandboxPage page;
  // Status is computed, so filtering happens here; fetch batches until the page is full.
  for (;;) {
    auto batch = co_await store_.list_sandboxes(owner, after, limit + 1);
    if (!batch) co_return std::move(batch).error();
    bool more = static_cast<std::int64_t>(batch->size()) > limit;
    if (more) batch->pop_back();
    for (auto& sb : *batch) {
      after = ListCursor{sb.created_at, sb.id};
      auto st = state_of(sb);
      if (status && st.status != *status) continue;
      page.items.push_back(std::move(st));
      if (static_cast<std::int64_t>(page.items.size()) == limit) {
        bool rest = more || &sb != &batch->back();
        if (rest) page.next_cursor = encode_cursor("sbx", *after);
        co_return page;
      }
    }
    if (!more) co_return page;
  }
}

asio::awaitable<Status> SandboxService::destroy(const Sandbox& sandbox) {
  if (auto s = co_await sessions_.stop(sandbox.id); !s) co_return s;
  auto cargo = co_await store_.delete_sandbox(sandbox.id, clock_.now());
  if (!cargo) co_return std::move(cargo).error();
  if (*cargo) {
    auto d = co_await driver_.delete_cargo_storage((*cargo)->storage_path);
    if (!d) spdlog::error("removing storage of {}: {}", (*cargo)->id, d.error().context);
  }
  spdlog::info("owner {}: deleted {}", sandbox.owner, sandbox.id);
  co_return Status{};
}

asio::awaitable<Status> SandboxService::remove(std::string owner, std::string id) {
  auto sb = co_await store_.find_sandbox(id);
  if (!sb) co_return std::move(sb).error();
  if (!*sb || (*sb)->owner != owner) co_return not_found("sandbox", id);
  if ((*sb)->deleted_at) co_return Status{};  // deleting again answers 204 (§6.9)
  co_return co_await destroy(**sb);
}

asio::awaitable<Status> SandboxService::stop(std::string owner, std::string id) {
  auto t = co_await lookup(std::move(owner), std::move(id));
  if (!t) co_return std::move(t).error();
  co_return co_await sessions_.stop(t->sandbox.id);
}

asio::awaitable<Result<SandboxState>> SandboxService::extend_ttl(std::string owner, std::string id,
                                                                 std::int64_t extend_by) {
  if (extend_by <= 0) co_return validation_error("extend_by must be a positive number of seconds");
  auto t = co_await lookup(std::move(owner), std::move(id));
  if (!t) co_return std::move(t).error();
  auto& sb = t->sandbox;
  if (!sb.expires_at) {
    Error e(ErrorCode::kSandboxTtlInfinite, "Sandbox has no TTL to extend: " + sb.id);
    e.details["sandbox_id"] = sb.id;
    co_return e;
  }
  const TimePoint now = clock_.now();
  if (*sb.expires_at < now) {
    Error e(ErrorCode::kSandboxExpired, "Sandbox has expired: " + sb.id);
    e.details["sandbox_id"] = sb.id;
    e.details["expires_at"] = format_timestamp(*sb.expires_at);
    co_return e;
  }
  sb.expires_at = add_seconds_capped(std::max(*sb.expires_at, now), extend_by);
  auto s = co_await store_.set_sandbox_expiry(sb.id, sb.expires_at);
  if (!s) co_return std::move(s).error();
  co_return state_of(sb);
}

asio::awaitable<Status> SandboxService::keepalive(std::string owner, std::string id) {
  auto t = co_await lookup(std::move(owner), std::move(id));
  if (!t) co_return std::move(t).error();
  co_await sessions_.keepalive(t->sandbox.id, *t->profile);
  co_return Status{};
}

Status SandboxService::check_capability(const CallTarget& t, std::string_view capability) const {
  if (!t.profile->has_capability(capability)) {
    return capability_not_supported(t.profile->id, capability, t.profile->capabilities);
  }
  return {};
}

Status SandboxService::check_not_expired(const CallTarget& t) const {
  if (t.sandbox.expires_at && clock_.now() > *t.sandbox.expires_at) {
    Error e(ErrorCode::kSandboxExpired, "Sandbox has expired: " + t.sandbox.id);
    e.details["sandbox_id"] = t.sandbox.id;
    e.details["expires_at"] = format_timestamp(*t.sandbox.expires_at);
    return e;
  }
  return {};
}

asio::awaitable<Result<std::unique_ptr<SessionLease>>> SandboxService::ensure_session(
    const CallTarget& t) {
  // No cargo lookup here: a running session does not need it (acquire reads it to start).
  std::optional<Cargo> cargo;
  co_return co_await sessions_.acquire(t.sandbox, *t.profile, std::move(cargo),
                                       std::chrono::steady_clock::now() + kStartWait,
                                       config_.max_sessions_per_owner);
}

}  // namespace shipyard::bay
