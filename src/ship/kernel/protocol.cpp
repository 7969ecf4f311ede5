#include "ship/kernel/protocol.hpp"

namespace shipyard::ship::kernel {
namespace {
Error protocol_error(std::string what) {
  Error e(ErrorCode::kInternal, "Kernel protocol error: " + what);
  e.context = e.message;
  return e;
}
}  // namespace

std::string encode_frame(const json::object& message) {
  std::string payload = json::serialize(message);
  auto n = static_cast<std::uint32_t>(payload.size());
  std::string out;
  out.reserve(4 + payload.size());
  out += static_cast<char>((n >> 24) & 0xFF);
  out += static_cast<char>((n >> 16) & 0xFF);
  out += static_cast<char>((n >> 8) & 0xFF);
  out += static_cast<char>(n & 0xFF);
  out += payload;
  return out;
}

Result<std::uint32_t> decode_length(const std::array<unsigned char, 4>& h) {
  std::uint32_t n = (std::uint32_t{h[0]} << 24) | (std::uint32_t{h[1]} << 16) |
                    (std::uint32_t{h[2]} << 8) | std::uint32_t{h[3]};
  if (n > kMaxFrame) return protocol_error("frame of " + std::to_string(n) + " bytes");
  return n;
}

Result<json::object> decode_payload(std::string_view payload) {
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 32;
  json::value v = json::parse(payload, ec, {}, opts);
  if (ec || !v.is_object()) return protocol_error("malformed message");
  auto& o = v.as_object();
  auto t = o.find("type");
  if (t == o.end() || !t->value().is_string()) return protocol_error("message without type");
  return std::move(o);
}

Result<std::optional<json::object>> FrameDecoder::pop() {
  if (buf_.size() < 4) return std::optional<json::object>{};
  std::array<unsigned char, 4> h{};
  for (int i = 0; i < 4; ++i) h[i] = static_cast<unsigned char>(buf_[i]);
  auto n = decode_length(h);
  if (!n) return std::move(n).error();
  if (buf_.size() < 4 + *n) return std::optional<json::object>{};
  auto msg = decode_payload(std::string_view(buf_).substr(4, *n));
  buf_.erase(0, 4 + *n);
  if (!msg) return std::move(msg).error();
  return std::optional<json::object>(std::move(*msg));
}

Result<ExecOutcome> parse_result(const json::object& msg) {
  ExecOutcome out;
  auto get = [&](std::string_view k) -> const json::value* {
    auto it = msg.find(k);
    return it == msg.end() ? nullptr : &it->value();
  };
  const json::value* success = get("success");
  if (success == nullptr || !success->is_bool()) return protocol_error("result without success");
  out.success = success->as_bool();
  if (const auto* c = get("execution_count"); c != nullptr && !c->is_null()) {
    if (!c->is_int64()) return protocol_error("bad execution_count");
    out.execution_count = c->as_int64();
  }
  if (const auto* t = get("text"); t != nullptr) {
    if (!t->is_string()) return protocol_error("bad text");
    out.text = std::string(t->as_string());
  }
  if (const auto* imgs = get("images"); imgs != nullptr && !imgs->is_null()) {
    if (!imgs->is_array()) return protocol_error("bad images");
    for (const auto& img : imgs->as_array()) {
      if (!img.is_object()) return protocol_error("bad image");
      auto png = img.as_object().find("image/png");
      if (png == img.as_object().end() || !png->value().is_string()) {
        return protocol_error("image without image/png");
      }
      out.images.push_back(json::object{{"image/png", png->value()}});
    }
  }
  if (const auto* d = get("display"); d != nullptr && !d->is_null()) {
    if (!d->is_array()) return protocol_error("bad display");
    for (const auto& b : d->as_array()) {
      if (!b.is_object()) return protocol_error("bad display bundle");
      out.display.push_back(b);
    }
  }
  if (const auto* e = get("error"); e != nullptr && !e->is_null()) {
    if (!e->is_string()) return protocol_error("bad error");
    out.error = std::string(e->as_string());
  }
  // Strict like every other field: a non-boolean "interrupted" is not silently "false".
  if (const auto* i = get("interrupted"); i != nullptr && !i->is_null()) {
    if (!i->is_bool()) return protocol_error("bad interrupted");
    out.interrupted = i->as_bool();
  }
  return out;
}

}  // namespace shipyard::ship::kernel
