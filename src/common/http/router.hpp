// Maps (method, path) to a handler. Patterns are '/'-separated literals and `{name}`
// parameters (one segment); a final `{name*}` takes the rest of the path. Parameters
// are percent-decoded. Matching is exact and case-sensitive.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <ostream>  // Boost 1.81 core/string_view.hpp uses std::ostream without including it
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shipyard::http {

struct PathParams {
  std::vector<std::pair<std::string, std::string>> values;
  // The decoded value of `name`; empty if absent.
  std::string_view get(std::string_view name) const;
};

template <typename Handler>
class Router {
 public:
  enum class Outcome { kMatched, kNoRoute, kWrongMethod };
  struct Match {
    Outcome outcome = Outcome::kNoRoute;
    const Handler* handler = nullptr;
    PathParams params;
  };

  void add(boost::beast::http::verb method, std::string_view pattern, Handler handler) {
    routes_.push_back(Route{method, split_pattern(pattern), std::move(handler)});
  }

  // `path` is the raw (still percent-encoded) path of the request target.
  Match match(boost::beast::http::verb method, std::string_view path) const {
    Match result;
    std::vector<std::string_view> segments = split_path(path);
    for (const auto& route : routes_) {
      PathParams params;
      if (!match_route(route.segments, segments, path, params)) continue;
      if (route.method != method) {
        result.outcome = Outcome::kWrongMethod;
        continue;
      }
      result.outcome = Outcome::kMatched;
      result.handler = &route.handler;
      result.params = std::move(params);
      return result;
    }
    return result;
  }

 private:
  struct Route {
    boost::beast::http::verb method;
    std::vector<std::string> segments;
    Handler handler;
  };

  static std::vector<std::string> split_pattern(std::string_view pattern);
  static std::vector<std::string_view> split_path(std::string_view path);
  static bool match_route(const std::vector<std::string>& pattern,
                          const std::vector<std::string_view>& segments, std::string_view path,
                          PathParams& params);

  std::vector<Route> routes_;
};

// Percent-decodes `in`; returns false on a malformed escape.
bool percent_decode(std::string_view in, std::string& out);

namespace detail {
std::vector<std::string> split_pattern(std::string_view pattern);
std::vector<std::string_view> split_path(std::string_view path);
bool match_route(const std::vector<std::string>& pattern,
                 const std::vector<std::string_view>& segments, std::string_view path,
                 PathParams& params);
}  // namespace detail

template <typename H>
std::vector<std::string> Router<H>::split_pattern(std::string_view pattern) {
  return detail::split_pattern(pattern);
}
template <typename H>
std::vector<std::string_view> Router<H>::split_path(std::string_view path) {
  return detail::split_path(path);
}
template <typename H>
bool Router<H>::match_route(const std::vector<std::string>& pattern,
                            const std::vector<std::string_view>& segments, std::string_view path,
                            PathParams& params) {
  return detail::match_route(pattern, segments, path, params);
}

}  // namespace shipyard::http
