#include "bay/api/legacy_errors.hpp"

#include <spdlog/spdlog.h>

#include "bay/api/errors.hpp"
#include "common/json.hpp"
#include "common/random.hpp"

namespace shipyard::bay {

using http::bhttp::status;

status legacy_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kInvalidPath:
    case ErrorCode::kCapabilityNotSupported: return status::bad_request;
    case ErrorCode::kSchema: return status::unprocessable_entity;
    case ErrorCode::kNotFound:
    case ErrorCode::kFileNotFound: return status::not_found;
    case ErrorCode::kUnauthorized: return status::unauthorized;
    case ErrorCode::kForbidden:
    case ErrorCode::kPathEscape: return status::forbidden;
    case ErrorCode::kMethodNotAllowed: return status::method_not_allowed;
    case ErrorCode::kConflict:
    case ErrorCode::kSandboxExpired:
    case ErrorCode::kSandboxTtlInfinite: return status::conflict;
    case ErrorCode::kLocked: return status::locked;
    case ErrorCode::kPayloadTooLarge: return status::payload_too_large;
    case ErrorCode::kQuotaExceeded: return status::too_many_requests;
    // The legacy API has no 502/504: a runtime it cannot use is a failure to serve (500),
    // and a client that waited too long (for a slot, or sending its body) gets 408.
    case ErrorCode::kUpstream: return status::internal_server_error;
    case ErrorCode::kUnavailable: return status::service_unavailable;
    case ErrorCode::kTimeout: return status::request_timeout;
    case ErrorCode::kInternal: return status::internal_server_error;
  }
  return status::internal_server_error;
}

http::Response legacy_error_response(const Error& e, const http::Exchange& ex) {
  status s = legacy_status(e.code);
  if (static_cast<unsigned>(s) >= 500) {
    spdlog::error("[{}] {} {}: {} ({})", ex.request_id,
                  std::string(http::bhttp::to_string(ex.method())), ex.path(), e.message,
                  e.context.empty() ? "no context" : e.context);
  }
  json::value detail = json::string(e.message);
  if (e.code == ErrorCode::kSchema) {
    detail = e.details.contains("errors") ? e.details.at("errors") : json::array{};
  }
  http::Response r = http::Response::json(s, json::object{{"detail", std::move(detail)}});
  if (ex.request_id.empty()) r.headers.emplace_back("X-Request-Id", random_uuid4());
  if (e.code == ErrorCode::kUnauthorized) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

bool is_legacy_path(std::string_view path) {
  return path == "/" || path == "/stat" || path == "/ships" || path == "/ship" ||
         path.rfind("/ship/", 0) == 0 || path.rfind("/ships/", 0) == 0;
}

}  // namespace shipyard::bay
