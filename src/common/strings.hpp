// Small text utilities shared by Ship and Bay.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shipyard {

// Replaces every invalid UTF-8 sequence by U+FFFD (maximal-subpart rule, as Python's
// decode(errors="replace") does), so the result is always valid UTF-8 for JSON.
std::string sanitize_utf8(std::string_view in);

// True when `in` is valid UTF-8.
bool is_valid_utf8(std::string_view in);

// Trims ASCII whitespace (space, \t, \n, \v, \f, \r) from both ends.
std::string_view trim(std::string_view s);

std::vector<std::string_view> split(std::string_view s, char sep);

bool iequals(std::string_view a, std::string_view b);

// Single-quotes `s` for a POSIX shell ('\'' for embedded quotes).
std::string shell_quote(std::string_view s);

// Percent-encodes everything but RFC 3986 unreserved characters (for query values).
std::string percent_encode(std::string_view in);

// URL-safe base64 without padding (RFC 4648 §5); decode returns nullopt on bad input.
std::string base64url_encode(std::string_view in);
std::optional<std::string> base64url_decode(std::string_view in);

}  // namespace shipyard
