#include "ship/kernel/protocol.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace shipyard::ship::kernel {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::array<unsigned char, 4> header_of(const std::string& frame) {
  return {static_cast<unsigned char>(frame[0]), static_cast<unsigned char>(frame[1]),
          static_cast<unsigned char>(frame[2]), static_cast<unsigned char>(frame[3])};
}

std::array<unsigned char, 4> header_for(std::uint32_t n) {
  return {static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
          static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
}

std::string raw_frame(const std::string& payload) {
  auto h = header_for(static_cast<std::uint32_t>(payload.size()));
  return std::string(h.begin(), h.end()) + payload;
}

json::object parse_object(std::string_view text) { return json::parse(text).as_object(); }

// A frame decodes back to the exact object it was encoded from (UTF-8 and escapes included).
TEST(ProtocolTest, EncodeDecodeRoundTrip) {
  json::object msg{{"type", "execute"},
                   {"id", 17},
                   {"code", "print('h\xC3\xA9 \"q\" \\\\')\n\tx = [1, 2]"},
                   {"silent", false},
                   {"output_limit", 1048576}};
  std::string frame = encode_frame(msg);
  auto n = decode_length(header_of(frame));
  ASSERT_TRUE(n) << n.error().message;
  ASSERT_EQ(*n, frame.size() - 4);
  auto back = decode_payload(std::string_view(frame).substr(4));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, msg);
}

// The length header is 4 bytes, big-endian, and counts the payload only.
TEST(ProtocolTest, LengthHeaderIsBigEndian) {
  // {"type":"x","p":"<s>"} serializes to 19 + s bytes: 300 bytes of payload = 0x0000012C.
  json::object msg{{"type", "x"}, {"p", std::string(281, 'a')}};
  std::string frame = encode_frame(msg);
  ASSERT_EQ(frame.size(), 4u + 300u);
  EXPECT_EQ(static_cast<unsigned char>(frame[0]), 0x00);
  EXPECT_EQ(static_cast<unsigned char>(frame[1]), 0x00);
  EXPECT_EQ(static_cast<unsigned char>(frame[2]), 0x01);
  EXPECT_EQ(static_cast<unsigned char>(frame[3]), 0x2C);
  auto n = decode_length({0x01, 0x02, 0x03, 0x04});
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0x01020304u);
  EXPECT_EQ(*decode_length({0, 0, 0, 0}), 0u);
}

// Announced lengths up to kMaxFrame (64 MiB) are accepted, anything larger is a protocol error.
TEST(ProtocolTest, FramesOverMaxRejected) {
  EXPECT_EQ(kMaxFrame, 64u * 1024 * 1024);
  auto at_limit = decode_length(header_for(kMaxFrame));
  ASSERT_TRUE(at_limit);
  EXPECT_EQ(*at_limit, kMaxFrame);
  for (std::uint32_t n : {kMaxFrame + 1, 0x7FFFFFFFu, 0xFFFFFFFFu}) {
    auto r = decode_length(header_for(n));
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error().code, ErrorCode::kInternal);
    EXPECT_THAT(r.error().message, StartsWith("Kernel protocol error"));
  }
}

// Payloads that are not a JSON object with a string "type" are rejected.
TEST(ProtocolTest, MalformedPayloadsRejected) {
  const std::vector<std::string> bad = {
      "",
      "not json",
      "{\"type\":\"x\"",            // truncated
      "{\"type\":\"x\"} trailing",  // garbage after the object
      "[1,2]",                      // not an object
      "42",
      "\"type\"",
      "null",
      "{}",            // no type
      "{\"id\":1}",    // no type
      "{\"type\":1}",  // type is not a string
      "{\"type\":null}",
      "{\"type\":[\"x\"]}",
      "{\"type\":\"x\",\"s\":\"\xFF\xFE\"}",  // invalid UTF-8
  };
  for (const auto& payload : bad) {
    auto r = decode_payload(payload);
    EXPECT_FALSE(r) << "accepted: " << payload;
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kInternal);
      EXPECT_THAT(r.error().message, StartsWith("Kernel protocol error"));
    }
  }
  auto ok = decode_payload("{\"type\":\"ready\",\"pid\":4}");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->at("type").as_string(), "ready");
}

// Nesting deeper than the documented limit (32) is rejected; moderately nested data is fine.
TEST(ProtocolTest, NestingDepthLimited) {
  auto nested = [](int depth) {
    return "{\"type\":\"x\",\"d\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
  };
  EXPECT_TRUE(decode_payload(nested(20)));
  EXPECT_FALSE(decode_payload(nested(40)));
  EXPECT_FALSE(decode_payload(nested(5000)));  // no stack exhaustion either
}

// Bytes fed one at a time yield each message exactly once, as soon as it is complete.
TEST(ProtocolTest, FrameDecoderByteByByte) {
  std::vector<json::object> msgs = {
      json::object{{"type", "ready"}, {"pid", 42}},
      json::object{{"type", "result"}, {"id", 1}, {"text", std::string(70000, 'x')}},
      json::object{{"type", "pong"}, {"id", 2}},
  };
  std::string stream;
  std::vector<std::size_t> ends;
  for (const auto& m : msgs) {
    stream += encode_frame(m);
    ends.push_back(stream.size());
  }
  FrameDecoder dec;
  std::vector<json::object> got;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    dec.push(std::string_view(&stream[i], 1));
    auto r = dec.pop();
    ASSERT_TRUE(r) << r.error().message;
    bool frame_ends_here = std::find(ends.begin(), ends.end(), i + 1) != ends.end();
    ASSERT_EQ(r->has_value(), frame_ends_here) << "at byte " << i;
    if (r->has_value()) got.push_back(std::move(**r));
  }
  EXPECT_EQ(got, msgs);
  auto empty = dec.pop();
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->has_value());
}

// Several frames pushed in one chunk pop one after another.
TEST(ProtocolTest, FrameDecoderSeveralFramesInOneChunk) {
  FrameDecoder dec;
  json::object a{{"type", "a"}};
  json::object b{{"type", "b"}, {"v", 2}};
  dec.push(encode_frame(a) + encode_frame(b) + encode_frame(a).substr(0, 3));
  EXPECT_EQ(**dec.pop(), a);
  EXPECT_EQ(**dec.pop(), b);
  EXPECT_FALSE(dec.pop()->has_value());
  dec.push(encode_frame(a).substr(3));
  EXPECT_EQ(**dec.pop(), a);
}

// The decoder rejects an oversized header at once, and malformed or untyped payloads.
TEST(ProtocolTest, FrameDecoderRejectsBadFrames) {
  {
    FrameDecoder dec;
    auto h = header_for(kMaxFrame + 1);
    dec.push(std::string(h.begin(), h.end()));
    auto r = dec.pop();
    ASSERT_FALSE(r);
    EXPECT_THAT(r.error().message, HasSubstr("Kernel protocol error"));
  }
  {
    FrameDecoder dec;
    dec.push(raw_frame("hello"));
    EXPECT_FALSE(dec.pop());
  }
  {
    FrameDecoder dec;
    dec.push(raw_frame("{\"id\":3}"));
    EXPECT_FALSE(dec.pop());
  }
}

// A complete, well-typed result is taken over field by field.
TEST(ProtocolTest, ParseResultAcceptsFullResult) {
  auto r = parse_result(parse_object(R"({"type":"result","id":3,"success":false,
      "execution_count":7,"text":"out","images":[{"image/png":"iVBO","extra":1}],
      "display":[{"text/html":"<b>x</b>","text/plain":"X"}],
      "error":"Traceback\nKeyboardInterrupt","interrupted":true,"truncated":false})"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->success);
  EXPECT_EQ(r->execution_count, 7);
  EXPECT_EQ(r->text, "out");
  ASSERT_EQ(r->images.size(), 1u);
  // Only the documented key survives: images are exactly {"image/png": base64}.
  EXPECT_EQ(r->images[0], json::value(json::object{{"image/png", "iVBO"}}));
  ASSERT_EQ(r->display.size(), 1u);
  EXPECT_EQ(r->error, "Traceback\nKeyboardInterrupt");
  EXPECT_TRUE(r->interrupted);
}

// Optional fields may be absent or null; only "success" is required.
TEST(ProtocolTest, ParseResultMinimal) {
  auto r = parse_result(parse_object(
      R"({"type":"result","id":1,"success":true,"execution_count":null,"images":null,
          "display":null,"error":null})"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->success);
  EXPECT_FALSE(r->execution_count.has_value());
  EXPECT_EQ(r->text, "");
  EXPECT_TRUE(r->images.empty());
  EXPECT_TRUE(r->display.empty());
  EXPECT_FALSE(r->error.has_value());
  EXPECT_FALSE(r->interrupted);
}

// Any wrongly typed field is a protocol error; images must be {"image/png": string}.
TEST(ProtocolTest, ParseResultRejectsWrongTypes) {
  const std::vector<std::string> bad = {
      R"({"type":"result"})",
      R"({"type":"result","success":"true"})",
      R"({"type":"result","success":1})",
      R"({"type":"result","success":null})",
      R"({"type":"result","success":true,"execution_count":"1"})",
      R"({"type":"result","success":true,"execution_count":1.5})",
      R"({"type":"result","success":true,"execution_count":true})",
      R"({"type":"result","success":true,"text":5})",
      R"({"type":"result","success":true,"text":null})",
      R"({"type":"result","success":true,"text":["a"]})",
      R"({"type":"result","success":true,"images":{}})",
      R"({"type":"result","success":true,"images":"iVBO"})",
      R"({"type":"result","success":true,"images":["iVBO"]})",
      R"({"type":"result","success":true,"images":[{}]})",
      R"({"type":"result","success":true,"images":[{"image/jpeg":"x"}]})",
      R"({"type":"result","success":true,"images":[{"image/png":1}]})",
      R"({"type":"result","success":true,"images":[{"image/png":null}]})",
      R"({"type":"result","success":true,"images":[{"image/png":["x"]}]})",
      R"({"type":"result","success":true,"images":[{"image/png":"ok"},{"image/png":2}]})",
      R"({"type":"result","success":true,"display":{}})",
      R"({"type":"result","success":true,"display":["x"]})",
      R"({"type":"result","success":true,"error":false})",
      R"({"type":"result","success":true,"error":{"m":"x"}})",
      R"({"type":"result","success":true,"interrupted":"yes"})",
      R"({"type":"result","success":true,"interrupted":1})",
  };
  for (const auto& text : bad) {
    auto r = parse_result(parse_object(text));
    EXPECT_FALSE(r) << "accepted: " << text;
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kInternal);
      EXPECT_THAT(r.error().message, StartsWith("Kernel protocol error"));
    }
  }
}

}  // namespace
}  // namespace shipyard::ship::kernel
