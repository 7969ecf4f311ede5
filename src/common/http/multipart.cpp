#include "common/http/multipart.hpp"

#include <string.h>

#include "common/strings.hpp"

namespace shipyard::http {
namespace {

Error malformed(std::string what) {
  return Error(ErrorCode::kInvalidArgument, "Malformed multipart body: " + std::move(what));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Parses `; key=value; key="quoted"` parameters. Returns the value of `key` if present.
std::optional<std::string> header_param(std::string_view header_value, std::string_view key) {
  std::size_t i = header_value.find(';');
  while (i != std::string_view::npos && i < header_value.size()) {
    ++i;
    while (i < header_value.size() && (header_value[i] == ' ' || header_value[i] == '\t')) ++i;
    std::size_t eq = header_value.find('=', i);
    if (eq == std::string_view::npos) return std::nullopt;
    std::string name = lower(trim(header_value.substr(i, eq - i)));
    std::size_t v = eq + 1;
    std::string value;
    if (v < header_value.size() && header_value[v] == '"') {
      ++v;
      while (v < header_value.size() && header_value[v] != '"') {
        if (header_value[v] == '\\' && v + 1 < header_value.size()) ++v;
        value += header_value[v++];
      }
      if (v < header_value.size()) ++v;  // closing quote
      i = header_value.find(';', v);
    } else {
      std::size_t end = header_value.find(';', v);
      value = std::string(trim(header_value.substr(
          v, end == std::string_view::npos ? std::string_view::npos : end - v)));
      i = end;
    }
    if (name == key) return value;
  }
  return std::nullopt;
}

// memmem is a two-way search: no worst case on adversarial bodies, and much faster than
// first-byte scanning on binary data, where '\r' occurs every ~256 bytes.
std::size_t find_at(std::string_view hay, std::string_view needle, std::size_t from) {
  if (from > hay.size()) return std::string_view::npos;
  const void* p = ::memmem(hay.data() + from, hay.size() - from, needle.data(), needle.size());
  return p == nullptr ? std::string_view::npos
                      : static_cast<std::size_t>(static_cast<const char*>(p) - hay.data());
}

}  // namespace

Result<std::string> multipart_boundary(std::string_view content_type) {
  auto semi = content_type.find(';');
  std::string type = lower(trim(content_type.substr(0, semi)));
  if (type != "multipart/form-data") {
    return Error(ErrorCode::kSchema, "Content-Type must be multipart/form-data");
  }
  auto b = header_param(content_type, "boundary");
  if (!b || b->empty() || b->size() > 200) {
    return Error(ErrorCode::kSchema, "multipart/form-data without a valid boundary");
  }
  return *b;
}

MultipartParser::MultipartParser(std::string boundary, Limits limits)
    : delimiter_("\r\n--" + boundary), limits_(limits) {
  // The first delimiter may start the body without a preceding CRLF; seeding the
  // buffer with one lets a single search pattern find every delimiter.
  buf_ = "\r\n";
}

void MultipartParser::compact() {
  if (pos_ > 0 && (pos_ >= 65536 || pos_ * 2 >= buf_.size())) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

void MultipartParser::feed(std::string_view chunk) {
  data_ = {};
  compact();
  if (state_ == State::kDone) return;
  buf_.append(chunk);
}

Status MultipartParser::parse_headers(std::string_view block) {
  headers_ = PartHeaders{};
  bool have_disposition = false;
  for (auto line : split(block, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return malformed("bad part header line");
    std::string name = lower(trim(line.substr(0, colon)));
    std::string_view value = trim(line.substr(colon + 1));
    if (name == "content-disposition") {
      auto semi = value.find(';');
      if (lower(trim(value.substr(0, semi))) != "form-data") {
        return malformed("part is not form-data");
      }
      auto n = header_param(value, "name");
      if (!n) return malformed("part without a name");
      headers_.name = std::move(*n);
      headers_.filename = header_param(value, "filename");
      have_disposition = true;
    } else if (name == "content-type") {
      headers_.content_type = std::string(value);
    }
  }
  if (!have_disposition) return malformed("part without Content-Disposition");
  return {};
}

Result<MultipartParser::EventKind> MultipartParser::next() {
  data_ = {};
  std::string_view view(buf_);
  for (;;) {
    switch (state_) {
      case State::kDone: return EventKind::kDone;

      case State::kPreamble: {
        auto at = find_at(view, delimiter_, pos_);
        if (at == std::string_view::npos) {
          // Skip all but a tail that may hold the start of the delimiter.
          if (view.size() - pos_ > delimiter_.size()) {
            preamble_skipped_ += view.size() - delimiter_.size() - pos_;
            pos_ = view.size() - delimiter_.size();
          }
          if (preamble_skipped_ > limits_.max_preamble_bytes) return malformed("no boundary found");
          if (finished_) return malformed("no boundary found");
          return EventKind::kNeedMore;
        }
        pos_ = at + delimiter_.size();
        state_ = State::kAfterDelimiter;
        break;
      }

      case State::kAfterDelimiter: {
        if (view.size() - pos_ < 2) {
          if (finished_) return malformed("truncated after boundary");
          return EventKind::kNeedMore;
        }
        if (view.substr(pos_, 2) == "--") {
          state_ = State::kDone;
          pos_ = view.size();
          return EventKind::kDone;
        }
        // Optional transport padding, then CRLF.
        std::size_t p = pos_;
        while (p < view.size() && (view[p] == ' ' || view[p] == '\t')) ++p;
        if (view.size() - p < 2) {
          if (p - pos_ > 256) return malformed("bad boundary line");
          if (finished_) return malformed("truncated after boundary");
          return EventKind::kNeedMore;
        }
        if (view.substr(p, 2) != "\r\n") return malformed("bad boundary line");
        pos_ = p + 2;
        state_ = State::kHeaders;
        break;
      }

      case State::kHeaders: {
        // A part with no headers starts directly with the blank line.
        std::size_t end;
        std::size_t block_end;
        if (view.substr(pos_, 2) == "\r\n") {
          block_end = pos_;
          end = pos_ + 2;
        } else {
          auto at = view.find("\r\n\r\n", pos_);
          if (at == std::string_view::npos) {
            if (view.size() - pos_ > limits_.max_header_bytes) {
              return malformed("part headers too large");
            }
            if (finished_) return malformed("truncated part headers");
            return EventKind::kNeedMore;
          }
          block_end = at;
          end = at + 4;
        }
        if (block_end - pos_ > limits_.max_header_bytes) return malformed("part headers too large");
        if (++parts_ > limits_.max_parts) return malformed("too many parts");
        if (auto s = parse_headers(view.substr(pos_, block_end - pos_)); !s) {
          return std::move(s).error();
        }
        pos_ = end;
        state_ = State::kBody;
        return EventKind::kPartBegin;
      }

      case State::kBody: {
        auto at = find_at(view, delimiter_, pos_);
        if (at == std::string_view::npos) {
          // Everything except a tail that could be the start of a delimiter is data.
          std::size_t safe_end =
              view.size() > delimiter_.size() - 1 ? view.size() - (delimiter_.size() - 1) : 0;
          if (safe_end > pos_) {
            data_ = view.substr(pos_, safe_end - pos_);
            pos_ = safe_end;
            return EventKind::kData;
          }
          if (finished_) return malformed("truncated part body");
          return EventKind::kNeedMore;
        }
        if (at > pos_) {
          data_ = view.substr(pos_, at - pos_);
          pos_ = at;
          return EventKind::kData;
        }
        pos_ = at + delimiter_.size();
        state_ = State::kAfterDelimiter;
        return EventKind::kPartEnd;
      }
    }
  }
}

}  // namespace shipyard::http
