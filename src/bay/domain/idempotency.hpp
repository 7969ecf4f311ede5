// Idempotency keys (bay-api-v1.md §7) on create sandbox, extend_ttl and create cargo.
//
// The key is reserved in memory before the work runs, on the single I/O thread, so
// concurrent requests with one key never both execute: later ones wait for the first
// and then replay its stored answer (or conflict on a different body). Only successful
// answers are persisted (byte for byte); a failure leaves the key unused.
// A multi-replica deployment would need the reservation in the database instead.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "bay/config/config.hpp"
#include "bay/domain/clock.hpp"
#include "bay/store/store.hpp"
#include "common/async_event.hpp"

namespace shipyard::bay {

struct StoredResponse {
  unsigned status = 200;
  std::string body;
};

class IdempotencyService {
 public:
  using Work = std::function<boost::asio::awaitable<Result<StoredResponse>>()>;

  IdempotencyService(boost::asio::any_io_executor io, Store& store, const BayConfig& config,
                     const Clock& clock);

  // Runs `work` unless an earlier request with the same owner and key already did.
  // `key` is the raw header value (nullopt: header absent); `canonical_body` is the
  // request body after defaults, serialised with a fixed field order.
  boost::asio::awaitable<Result<StoredResponse>> run(const std::string& owner,
                                                     std::optional<std::string> key,
                                                     const std::string& method,
                                                     const std::string& path,
                                                     const std::string& canonical_body, Work work);

 private:
  struct Flight {
    explicit Flight(boost::asio::any_io_executor ex) : done(ex) {}
    AsyncEvent done;
  };

  boost::asio::any_io_executor io_;
  Store& store_;
  const BayConfig& config_;
  const Clock& clock_;
  std::map<std::string, std::shared_ptr<Flight>> inflight_;
};

bool valid_idempotency_key(std::string_view key);

}  // namespace shipyard::bay
