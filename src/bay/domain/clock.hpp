// Wall-clock time for Bay (injectable so tests control TTL and idle expiry) and the
// canonical timestamp format of bay-api-v1.md §2.3.
#pragma once

#include <atomic>
#include <optional>
#include <string>

#include "bay/domain/model.hpp"

namespace shipyard::bay {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override;
};

// A clock tests move by hand. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start) : us_(start.time_since_epoch().count()) {}
  TimePoint now() const override { return TimePoint(Micros(us_.load())); }
  void advance(Micros d) { us_ += d.count(); }

 private:
  std::atomic<std::int64_t> us_;
};

// "YYYY-MM-DDTHH:MM:SS.ffffff+00:00"
std::string format_timestamp(TimePoint t);

// The latest instant Bay stores or renders: 9999-12-31T23:59:59Z.
inline constexpr TimePoint kLatestTime{std::chrono::seconds(253'402'300'799)};
// t + seconds (negative counts as 0), saturating at kLatestTime instead of overflowing, so
// a huge TTL means "practically never" rather than an expiry in the past.
TimePoint add_seconds_capped(TimePoint t, std::int64_t seconds);
// Parses the canonical format (also with 'Z', 0/3/6 fractional digits); nullopt if invalid.
std::optional<TimePoint> parse_timestamp(std::string_view s);

}  // namespace shipyard::bay
