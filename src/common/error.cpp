#include "common/error.hpp"

#include <cstring>
#include <string>

namespace shipyard {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kSchema: return "schema";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kFileNotFound: return "file_not_found";
    case ErrorCode::kInvalidPath: return "invalid_path";
    case ErrorCode::kPathEscape: return "path_escape";
    case ErrorCode::kUnauthorized: return "unauthorized";
    case ErrorCode::kForbidden: return "forbidden";
    case ErrorCode::kMethodNotAllowed: return "method_not_allowed";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kLocked: return "locked";
    case ErrorCode::kPayloadTooLarge: return "payload_too_large";
    case ErrorCode::kQuotaExceeded: return "quota_exceeded";
    case ErrorCode::kCapabilityNotSupported: return "capability_not_supported";
    case ErrorCode::kSandboxExpired: return "sandbox_expired";
    case ErrorCode::kSandboxTtlInfinite: return "sandbox_ttl_infinite";
    case ErrorCode::kUpstream: return "upstream";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

Error&& Error::with_context(std::string_view what) && {
  if (context.empty()) {
    context = std::string(what);
  } else {
    context = std::string(what) + ": " + context;
  }
  return std::move(*this);
}

Error system_error(std::string_view what, int err) {
  Error e(ErrorCode::kInternal, std::string(what) + " failed");
  e.context = std::string(what) + ": " + std::strerror(err);
  return e;
}

}  // namespace shipyard
