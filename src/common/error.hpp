// The project's one error vocabulary. Leaves return an Error; the middle adds context;
// the edge (ship/api, bay/api) maps it once to its wire envelope.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace shipyard {

enum class ErrorCode {
  kInvalidArgument,         // semantically invalid request (400)
  kSchema,                  // request does not match its schema (422)
  kNotFound,                // resource (sandbox, kernel, ...) does not exist (404)
  kFileNotFound,            // a workspace path does not exist (404)
  kInvalidPath,             // a workspace path is rejected before touching anything (400)
  kPathEscape,              // a path resolves outside its confinement root (403 in Ship)
  kUnauthorized,            // 401
  kForbidden,               // 403
  kMethodNotAllowed,        // 405
  kConflict,                // 409
  kLocked,                  // 423
  kPayloadTooLarge,         // 413
  kQuotaExceeded,           // 429
  kCapabilityNotSupported,  // 400
  kSandboxExpired,          // 409
  kSandboxTtlInfinite,      // 409
  kUpstream,                // a runtime answered badly or could not be reached (502)
  kUnavailable,             // not ready, retry later (503)
  kTimeout,                 // no answer within the budget (504)
  kInternal,                // unexpected fault (500)
};

std::string_view to_string(ErrorCode code);

// An expected failure. `message` is safe to show to clients; `context` is for logs only
// (it may carry host paths and errno details that clients must not see).
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  boost::json::object details;
  std::string context;

  Error() = default;
  Error(ErrorCode c, std::string msg) : code(c), message(std::move(msg)) {}
  Error(ErrorCode c, std::string msg, boost::json::object d)
      : code(c), message(std::move(msg)), details(std::move(d)) {}

  // Prefixes the log context ("starting session sbx-1: mounting /workspace: EACCES").
  Error&& with_context(std::string_view what) &&;
};

// Builds an internal error whose log context carries strerror(err).
Error system_error(std::string_view what, int err);

// Result<T> holds either a value or an Error (std::expected is C++23).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace shipyard
