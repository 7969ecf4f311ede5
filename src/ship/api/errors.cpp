#include "ship/api/errors.hpp"

#include <spdlog/spdlog.h>

#include "common/json.hpp"

namespace shipyard::ship {

using http::bhttp::status;

status ship_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kInvalidPath:
    case ErrorCode::kCapabilityNotSupported: return status::bad_request;
    case ErrorCode::kSchema: return status::unprocessable_entity;
    case ErrorCode::kNotFound:
    case ErrorCode::kFileNotFound: return status::not_found;
    case ErrorCode::kPathEscape:
    case ErrorCode::kForbidden: return status::forbidden;
    case ErrorCode::kUnauthorized: return status::unauthorized;
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

http::Response ship_error_response(const Error& e) {
  status s = ship_status(e.code);
  if (static_cast<unsigned>(s) >= 500) {
    spdlog::error("{} ({})", e.message, e.context.empty() ? "no context" : e.context);
  } else if (!e.context.empty()) {
    spdlog::debug("{}: {}", e.message, e.context);
  }
  json::object body;
  if (e.code == ErrorCode::kSchema && e.details.contains("errors")) {
    body["detail"] = e.details.at("errors");
  } else {
    body["detail"] = e.message;
  }
  return http::Response::json(s, body);
}

}  // namespace shipyard::ship
