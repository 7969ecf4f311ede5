#include "bay/api/errors.hpp"

#include <spdlog/spdlog.h>

#include "bay/api/legacy_errors.hpp"
#include "common/json.hpp"
#include "common/random.hpp"
#include "common/strings.hpp"

namespace shipyard::bay {

using http::bhttp::status;

status v1_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kInvalidPath:
    case ErrorCode::kPathEscape:
    case ErrorCode::kCapabilityNotSupported: return status::bad_request;
    case ErrorCode::kSchema: return status::unprocessable_entity;
    case ErrorCode::kNotFound:
    case ErrorCode::kFileNotFound: return status::not_found;
    case ErrorCode::kUnauthorized: return status::unauthorized;
    case ErrorCode::kForbidden: return status::forbidden;
    case ErrorCode::kMethodNotAllowed: return status::method_not_allowed;
    case ErrorCode::kConflict:
    case ErrorCode::kSandboxExpired:
    case ErrorCode::kSandboxTtlInfinite: return status::conflict;
    case ErrorCode::kLocked: return status::locked;
    case ErrorCode::kPayloadTooLarge: return status::payload_too_large;
    case ErrorCode::kQuotaExceeded: return status::too_many_requests;
    case ErrorCode::kUpstream: return status::bad_gateway;
    case ErrorCode::kUnavailable: return status::service_unavailable;
    case ErrorCode::kTimeout: return status::gateway_timeout;
    case ErrorCode::kInternal: return status::internal_server_error;
  }
  return status::internal_server_error;
}

std::string_view v1_code(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "validation_error";
    case ErrorCode::kSchema: return "validation_error";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kFileNotFound: return "file_not_found";
    case ErrorCode::kInvalidPath:
    case ErrorCode::kPathEscape: return "invalid_path";
    case ErrorCode::kUnauthorized: return "unauthorized";
    case ErrorCode::kForbidden: return "forbidden";
    case ErrorCode::kMethodNotAllowed: return "method_not_allowed";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kLocked: return "gc_in_progress";
    case ErrorCode::kPayloadTooLarge: return "payload_too_large";
    case ErrorCode::kQuotaExceeded: return "quota_exceeded";
    case ErrorCode::kCapabilityNotSupported: return "capability_not_supported";
    case ErrorCode::kSandboxExpired: return "sandbox_expired";
    case ErrorCode::kSandboxTtlInfinite: return "sandbox_ttl_infinite";
    case ErrorCode::kUpstream: return "ship_error";
    case ErrorCode::kUnavailable: return "session_not_ready";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kInternal: return "internal_error";
  }
  return "internal_error";
}

namespace {

// Messages and details echo client input (ids, paths) that may be percent-decoded bytes;
// the envelope must stay valid UTF-8 JSON whatever was sent.
void sanitize(json::value& v, int depth = 0) {
  if (v.is_string()) {
    if (!is_valid_utf8(v.as_string())) v = json::string(sanitize_utf8(v.as_string()));
  } else if (v.is_array() && depth < 8) {
    for (auto& x : v.as_array()) sanitize(x, depth + 1);
  } else if (v.is_object() && depth < 8) {
    for (auto& kv : v.as_object()) sanitize(kv.value(), depth + 1);
  }
}

}  // namespace

void assign_request_id(http::Exchange& ex) {
  if (!ex.request_id.empty()) return;
  std::string_view given = ex.header("X-Request-Id");
  // Echoed into a header: keep it short and printable so it cannot inject anything.
  bool ok = !given.empty() && given.size() <= 128;
  for (char c : given) {
    if (c < 0x21 || c > 0x7E) ok = false;
  }
  ex.request_id = ok ? std::string(given) : random_uuid4();
  ex.add_response_header("X-Request-Id", ex.request_id);
}

http::Response v1_error_response(const Error& e, const http::Exchange& ex) {
  status s = v1_status(e.code);
  std::string request_id = ex.request_id;
  if (request_id.empty()) {
    // Errors raised by the server itself (unknown route, malformed HTTP) before a
    // handler assigned an id.
    std::string_view given = ex.header("X-Request-Id");
    request_id = !given.empty() && given.size() <= 128 ? std::string(given) : random_uuid4();
    for (char& c : request_id) {
      if (c < 0x21 || c > 0x7E) c = '_';
    }
  }
  if (static_cast<unsigned>(s) >= 500) {
    spdlog::error("[{}] {} {}: {} ({})", request_id,
                  std::string(http::bhttp::to_string(ex.method())), ex.path(), e.message,
                  e.context.empty() ? "no context" : e.context);
  }
  json::object err{{"code", v1_code(e.code)}, {"message", sanitize_utf8(e.message)}};
  if (!e.details.empty()) {
    json::value details = e.details;
    sanitize(details);
    err["details"] = std::move(details);
  }
  err["request_id"] = request_id;
  json::object body{{"error", std::move(err)}};
  if (e.code == ErrorCode::kSchema) {
    body["detail"] = err.contains("details") && err["details"].as_object().contains("errors")
                         ? err["details"].as_object().at("errors")
                         : json::value(json::array{});
  }
  http::Response r = http::Response::json(s, body);
  if (ex.request_id.empty()) r.headers.emplace_back("X-Request-Id", request_id);
  if (e.code == ErrorCode::kUnauthorized) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

http::Response error_response(const Error& e, const http::Exchange& ex, bool legacy_api) {
  if (legacy_api && is_legacy_path(ex.path())) return legacy_error_response(e, ex);
  return v1_error_response(e, ex);
}

}  // namespace shipyard::bay
