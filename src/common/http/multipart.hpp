// A streaming multipart/form-data parser (RFC 7578 / RFC 2046). Pull-style: feed input
// as it arrives, then call next() until it asks for more. Part data is handed out as
// views into the parser's buffer, so memory stays bounded by the chunk size plus one
// boundary, whatever the size of the upload. Pure: no I/O, no allocation per byte.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace shipyard::http {

// The boundary parameter of a multipart/form-data Content-Type header value.
Result<std::string> multipart_boundary(std::string_view content_type);

struct PartHeaders {
  std::string name;                     // Content-Disposition name
  std::optional<std::string> filename;  // Content-Disposition filename, when present
  std::string content_type;             // empty when absent
};

class MultipartParser {
 public:
  struct Limits {
    std::size_t max_header_bytes = 16 * 1024;  // per part
    std::size_t max_parts = 64;
    std::size_t max_preamble_bytes = 64 * 1024;
  };

  enum class EventKind {
    kNeedMore,   // feed() more input (or finish() at the end of the body)
    kPartBegin,  // headers() describes the new part
    kData,       // data() holds the next bytes of the current part
    kPartEnd,
    kDone,  // the closing delimiter was seen; further input is ignored
  };

  explicit MultipartParser(std::string boundary) : MultipartParser(std::move(boundary), Limits{}) {}
  MultipartParser(std::string boundary, Limits limits);

  // Appends input. Views returned by data() before this call become invalid.
  void feed(std::string_view chunk);
  // Marks the end of the input; next() then reports a truncated body as an error.
  void finish() { finished_ = true; }

  // The next event, or a kInvalidArgument error for malformed input.
  Result<EventKind> next();

  const PartHeaders& headers() const { return headers_; }
  std::string_view data() const { return data_; }

 private:
  enum class State { kPreamble, kAfterDelimiter, kHeaders, kBody, kDone };

  Status parse_headers(std::string_view block);
  void compact();

  std::string delimiter_;  // "\r\n--" + boundary
  Limits limits_;
  std::string buf_;
  std::size_t pos_ = 0;  // consumed prefix of buf_
  State state_ = State::kPreamble;
  bool finished_ = false;
  std::size_t parts_ = 0;
  std::size_t preamble_skipped_ = 0;
  PartHeaders headers_;
  std::string_view data_;
};

}  // namespace shipyard::http
