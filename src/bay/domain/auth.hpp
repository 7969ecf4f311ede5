// API-key authentication of the v1 API (bay-api-v1.md §3). Keys are kept only as SHA-256
// hashes and compared in constant time.
#pragma once

#include <array>
#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bay/config/config.hpp"
#include "bay/store/store.hpp"
#include "common/error.hpp"

namespace shipyard::bay {

using KeyHash = std::array<unsigned char, 32>;
KeyHash sha256(std::string_view data);
std::string to_hex(const KeyHash& h);

class Authenticator {
 public:
  struct Key {
    KeyHash hash;
    std::string owner;
  };
  Authenticator(std::vector<Key> keys, bool allow_anonymous)
      : keys_(std::move(keys)), anonymous_(allow_anonymous) {}

  // Builds the authenticator from the configuration (§3.2). With no key configured and
  // anonymous mode off, generates `sk-bay-<random>` on first start, stores its hash and
  // writes the key once to <data_dir>/credentials.json (mode 0600); later starts reuse
  // the stored hash. `notice` receives what to tell the operator.
  static boost::asio::awaitable<Result<Authenticator>> create(const BayConfig& config, Store& store,
                                                              std::string* notice);

  // The owner for a request, or kUnauthorized ("Authentication required" / "Invalid API
  // key").
  Result<std::string> authenticate(std::string_view authorization, std::string_view x_owner) const;

  bool anonymous() const { return anonymous_; }

 private:
  std::optional<std::string> match(std::string_view token) const;

  std::vector<Key> keys_;
  bool anonymous_;
};

// Extracts the token of "Bearer <token>" (scheme case-insensitive); nullopt otherwise.
std::optional<std::string_view> bearer_token(std::string_view authorization);

// Constant-time equality of two strings (length may leak, content does not).
bool constant_time_equals(std::string_view a, std::string_view b);

}  // namespace shipyard::bay
