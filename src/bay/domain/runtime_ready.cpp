#include "bay/domain/runtime_ready.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <regex>

#include "common/async_event.hpp"

namespace shipyard::bay {
namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

namespace {

const std::regex& semver() {
  static const std::regex re(R"(^\d+\.\d+\.\d+(-[a-zA-Z0-9.]+)?$)");
  return re;
}

}  // namespace

Error session_not_ready(const std::string& sandbox_id, std::string message) {
  Error e(ErrorCode::kUnavailable, std::move(message));
  e.details["sandbox_id"] = sandbox_id;
  e.details["retry_after_ms"] = 1000;
  return e;
}

asio::awaitable<Result<RuntimeMeta>> wait_runtime_ready(ShipClient& client, Driver& driver,
                                                        RuntimeHandle handle,
                                                        ReadinessBudget budget,
                                                        std::string sandbox_id,
                                                        std::function<bool()> cancelled) {
  const auto deadline = SteadyClock::now() + budget.ready_timeout;
  // A driver that hears from Ship when it serves saves the polling below its gaps.
  co_await driver.wait_started(handle, deadline);
  // Ship answers within milliseconds of its start: poll fast at first, then back off to
  // the 100-250 ms of §10.1.
  auto delay = std::chrono::milliseconds(2);
  for (;;) {
    if (cancelled()) co_return RuntimeMeta{};
    if (!driver.alive(handle)) {
      co_return Error(ErrorCode::kUpstream, "The sandbox runtime exited during start-up");
    }
    auto probe_deadline = std::min(deadline, SteadyClock::now() + budget.probe_budget);
    auto res = co_await client.request(boost::beast::http::verb::get, "/health", {}, probe_deadline,
                                       64 * 1024);
    if (res && res->status == 200) break;
    if (SteadyClock::now() >= deadline) {
      co_return session_not_ready(sandbox_id, "The sandbox runtime did not become ready in time");
    }
    co_await async_sleep(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(100));
  }
  if (cancelled()) co_return RuntimeMeta{};
  auto meta = co_await client.request_json(boost::beast::http::verb::get, "/meta", std::nullopt,
                                           SteadyClock::now() + budget.meta_budget, 1 << 20);
  if (cancelled()) co_return RuntimeMeta{};
  if (!meta || meta->status != 200) {
    if (!meta) co_return std::move(meta).error();
    co_return Error(ErrorCode::kUpstream, "The sandbox runtime failed its start-up check");
  }
  const auto* runtime = meta->body.if_contains("runtime");
  const auto* version =
      runtime && runtime->is_object() ? runtime->as_object().if_contains("version") : nullptr;
  if (version == nullptr || !version->is_string() ||
      !std::regex_match(std::string(version->as_string()), semver())) {
    co_return Error(ErrorCode::kUpstream, "The sandbox runtime reported no valid version");
  }
  RuntimeMeta out;
  out.version = std::string(version->as_string());
  if (const auto* caps = meta->body.if_contains("capabilities"); caps && caps->is_object()) {
    for (const auto& kv : caps->as_object()) out.capabilities.emplace_back(kv.key());
  }
  co_return out;
}

}  // namespace shipyard::bay
