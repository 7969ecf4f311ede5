#include "bay/domain/idempotency.hpp"

#include <spdlog/spdlog.h>

#include "bay/domain/auth.hpp"
#include "bay/domain/rules.hpp"
#include "common/json.hpp"

namespace shipyard::bay {
namespace asio = boost::asio;

bool valid_idempotency_key(std::string_view key) {
  if (key.empty() || key.size() > 128) return false;
  for (char c : key) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

IdempotencyService::IdempotencyService(asio::any_io_executor io, Store& store,
                                       const BayConfig& config, const Clock& clock)
    : io_(std::move(io)), store_(store), config_(config), clock_(clock) {}

asio::awaitable<Result<StoredResponse>> IdempotencyService::run(
    const std::string& owner, std::optional<std::string> key, const std::string& method,
    const std::string& path, const std::string& canonical_body, Work work) {
  if (!config_.idempotency_enabled || !key) co_return co_await work();
  if (!valid_idempotency_key(*key)) {
    json::object d{{"key", *key}};
    co_return conflict("Invalid Idempotency-Key: must match ^[A-Za-z0-9_-]{1,128}$", std::move(d));
  }
  const std::string fingerprint = to_hex(sha256(method + ":" + path + ":" + canonical_body));
  const std::string slot = owner + '\n' + *key;
  for (;;) {
    if (auto it = inflight_.find(slot); it != inflight_.end()) {
      // Another request with this key is running: wait for it, then look again.
      auto flight = it->second;
      co_await flight->done.wait_until(std::chrono::steady_clock::now() + std::chrono::minutes(10));
      continue;
    }
    auto rec = co_await store_.find_idempotency(owner, *key);
    if (!rec) co_return std::move(rec).error();
    if (inflight_.contains(slot)) continue;  // someone reserved it while we read
    if (*rec && (*rec)->expires_at > clock_.now()) {
      if ((*rec)->fingerprint == fingerprint) {
        co_return StoredResponse{static_cast<unsigned>((*rec)->status), (*rec)->body};
      }
      json::object d{
          {"key", *key},
          {"hint", "This Idempotency-Key was used with a different request; use a new key"}};
      co_return conflict("Idempotency-Key reused with a different request", std::move(d));
    }
    break;
  }
  // Reserved: no suspension point since the last check of inflight_.
  auto flight = std::make_shared<Flight>(io_);
  inflight_[slot] = flight;
  struct Release {
    IdempotencyService& s;
    const std::string& slot;
    std::shared_ptr<Flight> f;
    ~Release() {
      s.inflight_.erase(slot);
      f->done.set();
    }
  } release{*this, slot, flight};
  auto res = co_await work();
  if (res && res->status >= 200 && res->status < 300) {
    IdempotencyRecord r;
    r.owner = owner;
    r.key = *key;
    r.fingerprint = fingerprint;
    r.status = static_cast<int>(res->status);
    r.body = res->body;
    r.created_at = clock_.now();
    r.expires_at = r.created_at + std::chrono::hours(config_.idempotency_ttl_hours);
    auto s = co_await store_.save_idempotency(std::move(r));
    // The work is done; failing to remember it only costs a re-execution on retry.
    if (!s) spdlog::error("saving idempotency key: {}", s.error().context);
  }
  co_return res;
}

}  // namespace shipyard::bay
