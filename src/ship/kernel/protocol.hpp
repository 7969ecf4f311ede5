// The framed protocol between Ship and its Python kernel driver
// (docs/kernel-protocol.md): each frame is a 4-byte big-endian length followed by
// that many bytes of UTF-8 JSON (an object). Pure functions, unit-tested.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "common/json.hpp"

namespace shipyard::ship::kernel {

inline constexpr std::uint32_t kMaxFrame = 64u << 20;

// Encodes one frame (header + payload).
std::string encode_frame(const json::object& message);

// Decodes the 4-byte header; kInternal error if the announced length exceeds kMaxFrame.
Result<std::uint32_t> decode_length(const std::array<unsigned char, 4>& header);

// Parses a frame payload into an object with a string "type" field.
Result<json::object> decode_payload(std::string_view payload);

// An incremental decoder (used by tests and tools): push bytes, pop whole messages.
class FrameDecoder {
 public:
  void push(std::string_view bytes) { buf_.append(bytes); }
  // The next complete message, nullopt if more bytes are needed, or an error.
  Result<std::optional<json::object>> pop();

 private:
  std::string buf_;
};

// What one cell produced (ship-api.md §8.1).
struct ExecOutcome {
  bool success = false;
  std::optional<std::int64_t> execution_count;
  std::string text;
  json::array images;   // [{"image/png": base64}]
  json::array display;  // other rich mime bundles
  std::optional<std::string> error;
  bool interrupted = false;
};

// Validates a "result" message strictly (the kernel runs user code and is not trusted).
Result<ExecOutcome> parse_result(const json::object& msg);

}  // namespace shipyard::ship::kernel
