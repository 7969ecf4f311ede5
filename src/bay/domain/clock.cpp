#include "bay/domain/clock.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>

namespace shipyard::bay {

TimePoint SystemClock::now() const {
  return std::chrono::time_point_cast<Micros>(std::chrono::system_clock::now());
}

std::string format_timestamp(TimePoint t) {
  std::int64_t us = t.time_since_epoch().count();
  std::int64_t secs = us >= 0 ? us / 1000000 : (us - 999999) / 1000000;
  std::int64_t frac = us - secs * 1000000;
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[128];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld+00:00", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(frac));
  return buf;
}

std::optional<TimePoint> parse_timestamp(std::string_view s) {
  auto num = [&](std::size_t pos, std::size_t len, int& out) {
    if (pos + len > s.size()) return false;
    auto r = std::from_chars(s.data() + pos, s.data() + pos + len, out);
    return r.ec == std::errc() && r.ptr == s.data() + pos + len;
  };
  int y, mo, d, h, mi, se;
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') {
    return std::nullopt;
  }
  if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) ||
      !num(17, 2, se)) {
    return std::nullopt;
  }
  std::size_t p = 19;
  std::int64_t frac = 0;
  if (p < s.size() && s[p] == '.') {
    std::size_t start = ++p;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') ++p;
    std::size_t digits = p - start;
    if (digits != 3 && digits != 6) return std::nullopt;
    int v = 0;
    if (!num(start, digits, v)) return std::nullopt;
    frac = digits == 3 ? v * 1000LL : v;
  }
  std::string_view tz = s.substr(p);
  if (tz != "Z" && tz != "+00:00") return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  std::time_t secs = timegm(&tm);
  return TimePoint(Micros(static_cast<std::int64_t>(secs) * 1000000 + frac));
}

TimePoint add_seconds_capped(TimePoint t, std::int64_t seconds) {
  if (t >= kLatestTime) return t;
  const auto room = std::chrono::duration_cast<std::chrono::seconds>(kLatestTime - t).count();
  if (seconds >= room) return kLatestTime;
  return t + std::chrono::seconds(std::max<std::int64_t>(seconds, 0));
}

}  // namespace shipyard::bay
