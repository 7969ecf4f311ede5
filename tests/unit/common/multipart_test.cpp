#include "common/http/multipart.hpp"

#include <gtest/gtest.h>

#include <random>

namespace shipyard::http {
namespace {

struct Part {
  PartHeaders headers;
  std::string data;
};

// Runs the parser over `body` delivered in chunks of `chunk` bytes.
Result<std::vector<Part>> parse(const std::string& boundary, const std::string& body,
                                std::size_t chunk) {
  MultipartParser p(boundary);
  std::vector<Part> parts;
  std::size_t fed = 0;
  for (;;) {
    auto ev = p.next();
    if (!ev) return std::move(ev).error();
    switch (*ev) {
      case MultipartParser::EventKind::kNeedMore:
        if (fed >= body.size()) {
          p.finish();
        } else {
          std::size_t n = std::min(chunk, body.size() - fed);
          p.feed(std::string_view(body).substr(fed, n));
          fed += n;
        }
        break;
      case MultipartParser::EventKind::kPartBegin: parts.push_back(Part{p.headers(), {}}); break;
      case MultipartParser::EventKind::kData: parts.back().data.append(p.data()); break;
      case MultipartParser::EventKind::kPartEnd: break;
      case MultipartParser::EventKind::kDone: return parts;
    }
  }
}

std::string binary_payload(std::size_t n, const std::string& boundary) {
  std::mt19937 rng(42);
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += static_cast<char>(rng() & 0xFF);
  // Near-misses of the delimiter inside the data must stay data.
  s += "\r\n--" + boundary.substr(0, boundary.size() - 1) + "X\r\n-\r\n--";
  return s;
}

std::string form(const std::string& boundary, const std::string& payload) {
  return "--" + boundary +
         "\r\nContent-Disposition: form-data; name=\"file_path\"\r\n\r\ndir/a b.bin\r\n--" +
         boundary +
         "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\\\"y.bin\"\r\n"
         "Content-Type: application/octet-stream\r\n\r\n" +
         payload + "\r\n--" + boundary + "--\r\nepilogue";
}

// Every way of splitting the body into chunks yields the same parts, byte-exact.
TEST(Multipart, AnyChunking) {
  const std::string boundary = "----b0undary7MA4YWxkTrZu0gW";
  const std::string payload = binary_payload(3000, boundary);
  const std::string body = form(boundary, payload);
  for (std::size_t chunk : {1, 2, 3, 7, 31, 64, 100, 1000, 100000}) {
    auto r = parse(boundary, body, chunk);
    ASSERT_TRUE(r.ok()) << chunk << ": " << r.error().message;
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0].headers.name, "file_path");
    EXPECT_EQ((*r)[0].data, "dir/a b.bin");
    EXPECT_EQ((*r)[1].headers.name, "file");
    EXPECT_EQ((*r)[1].headers.filename.value_or(""), "x\"y.bin");
    EXPECT_EQ((*r)[1].headers.content_type, "application/octet-stream");
    EXPECT_EQ((*r)[1].data, payload) << chunk;
  }
}

// An empty file part and a part whose data is a single CRLF survive intact.
TEST(Multipart, EdgePayloads) {
  const std::string b = "xyz";
  for (std::string payload :
       {std::string(), std::string("\r\n"), std::string("--"), std::string("\r\n--xy")}) {
    auto r = parse(b, form(b, payload), 1);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ((*r)[1].data, payload);
  }
}

// Truncated or malformed bodies are errors, never hangs or crashes.
TEST(Multipart, Malformed) {
  const std::string b = "xyz";
  std::string full = form(b, "hello");
  for (std::size_t cut : {0ul, 5ul, 20ul, 60ul, full.find("hello") + 2}) {
    auto r = parse(b, full.substr(0, cut), 4);
    EXPECT_FALSE(r.ok()) << cut;
  }
  EXPECT_FALSE(parse(b, "--xyz\r\nNo-Colon-Here\r\n\r\ndata\r\n--xyz--", 8).ok());
  EXPECT_FALSE(parse(b, "--xyz\r\nContent-Type: text/plain\r\n\r\ndata\r\n--xyz--", 8).ok());
  EXPECT_FALSE(parse(b, "--xyzGARBAGE\r\n", 8).ok());
  std::string huge_header = "--xyz\r\nX: " + std::string(20000, 'a') + "\r\n\r\n";
  EXPECT_FALSE(parse(b, huge_header, 4096).ok());
}

// A flood of tiny parts is bounded.
TEST(Multipart, BoundsPartCount) {
  const std::string b = "q";
  std::string body;
  for (int i = 0; i < 100; ++i)
    body += "--q\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n";
  body += "--q--";
  EXPECT_FALSE(parse(b, body, 1000).ok());
}

// The boundary is taken from the Content-Type parameters (quoted or not).
TEST(Multipart, Boundary) {
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=abc").value(), "abc");
  EXPECT_EQ(multipart_boundary("Multipart/Form-Data; charset=x; boundary=\"a b\"").value(), "a b");
  EXPECT_FALSE(multipart_boundary("application/json").ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data").ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=").ok());
}

}  // namespace
}  // namespace shipyard::http
