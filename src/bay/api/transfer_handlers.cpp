// Streaming file transfer through Bay (bay-api-v1.md §8.5 upload/download): the bytes
// flow from client to Ship (and back) in bounded chunks; nothing holds the whole file.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

#include "bay/api/routes.hpp"
#include "bay/api/upload_spool.hpp"
#include "bay/domain/rules.hpp"
#include "common/http/multipart.hpp"
#include "common/random.hpp"
#include "common/strings.hpp"
#include "common/unique_fd.hpp"

namespace shipyard::bay {
namespace {
namespace asio = boost::asio;
using http::bhttp::verb;
using Awaitable = asio::awaitable<Result<std::optional<Reply>>>;
using EventKind = http::MultipartParser::EventKind;

constexpr std::size_t kChunk = 256 * 1024;
constexpr std::size_t kMaxFieldBytes = 8192;
constexpr std::size_t kErrorBodyLimit = 64 * 1024;
// A `file` part sent before the `path` field is spooled on Bay's disk until the target
// is known. Clients send `path` first (the SDK does), so the spool only has to cope with
// the odd client; bounding it keeps concurrent uploads from filling Bay's disk.
constexpr std::uint64_t kMaxSpoolBytes = 256ull << 20;
// Multipart framing and the small fields around the file.
constexpr std::uint64_t kBodyOverhead = 1ull << 20;

Error upload_too_large(std::uint64_t limit) {
  Error e(ErrorCode::kPayloadTooLarge,
          "Upload too large (limit " + std::to_string(limit) + " bytes)");
  e.details["limit"] = limit;
  return e;
}

std::string part_prefix(const std::string& boundary, const std::string& path) {
  return "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file_path\"\r\n\r\n" + path +
         "\r\n--" + boundary +
         "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload\"\r\n"
         "Content-Type: application/octet-stream\r\n\r\n";
}

Awaitable upload(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto t = co_await app.sandboxes.lookup(owner, std::string(ex.params().get("id")));
  if (!t) co_return std::move(t).error();
  auto boundary = http::multipart_boundary(ex.header(http::bhttp::field::content_type));
  if (!boundary) co_return schema_error("body", "file", boundary.error().message, "multipart_type");
  // No file can be larger than its cargo: without a configured limit, the cargo's size is
  // the limit, so a client cannot stream endlessly through Bay (or into its spool).
  std::uint64_t limit = app.config.max_upload_bytes;
  if (auto cargo = co_await app.store.find_cargo(t->sandbox.cargo_id); cargo && *cargo) {
    auto cargo_bytes = static_cast<std::uint64_t>((*cargo)->size_limit_mb) << 20;
    if (limit == 0 || cargo_bytes < limit) limit = cargo_bytes;
  }
  if (auto cl = ex.content_length(); cl && limit > 0 && *cl > limit + kBodyOverhead) {
    ex.close_after();
    co_return upload_too_large(limit);
  }
  std::uint64_t body_bytes = 0;

  http::MultipartParser parser(*boundary);
  std::vector<char> buf(kChunk);
  enum class Part { kNone, kFile, kPath, kOther } part = Part::kNone;
  std::optional<std::string> raw_path;
  std::string field;
  bool have_file = false;
  std::uint64_t size = 0;
  UploadSpool spool;
  std::unique_ptr<SessionLease> lease;
  std::unique_ptr<ShipBodyWriter> writer;
  const std::string ship_boundary = "----shipyard-" + random_hex(24);
  std::string path;  // normalised

  // Opens the stream to Ship once the path is known and the gate passed.
  auto start_stream = [&]() -> asio::awaitable<Status> {
    if (auto s = check_path_field("body", "path", *raw_path); !s) co_return s;
    if (auto s = app.sandboxes.check_capability(*t, kCapabilityFilesystem); !s) co_return s;
    auto norm = normalize_workspace_path(*raw_path, "path");
    if (!norm) co_return std::move(norm).error();
    path = *norm;
    if (auto s = app.sandboxes.check_not_expired(*t); !s) co_return s;
    auto l = co_await app.sandboxes.ensure_session(*t);
    if (!l) co_return std::move(l).error();
    lease = std::move(*l);
    auto w = co_await lease->ship().post_stream(
        "/fs/upload", "multipart/form-data; boundary=" + ship_boundary,
        std::chrono::steady_clock::now() + std::chrono::seconds(30));
    if (!w) co_return std::move(w).error();
    writer = std::move(*w);
    std::string prefix = part_prefix(ship_boundary, path);
    co_return co_await writer->write(asio::buffer(prefix));
  };

  for (bool done = false; !done;) {
    auto ev = parser.next();
    if (!ev) co_return std::move(ev).error();
    switch (*ev) {
      case EventKind::kNeedMore: {
        auto n = co_await ex.read_some(asio::buffer(buf));
        if (!n) co_return std::move(n).error();
        body_bytes += *n;
        if (limit > 0 && body_bytes > limit + kBodyOverhead) {
          ex.close_after();
          co_return upload_too_large(limit);
        }
        if (*n == 0) {
          parser.finish();
        } else {
          parser.feed(std::string_view(buf.data(), *n));
        }
        break;
      }
      case EventKind::kPartBegin: {
        const auto& name = parser.headers().name;
        if (name == "file" && !have_file) {
          have_file = true;
          part = Part::kFile;
          if (raw_path) {
            if (auto s = co_await start_stream(); !s) co_return std::move(s).error();
          } else if (auto s = spool.open(app.config.data_dir + "/tmp"); !s) {
            co_return std::move(s).error();
          }
        } else if (name == "path" && !raw_path) {
          part = Part::kPath;
          field.clear();
        } else {
          part = Part::kOther;
        }
        break;
      }
      case EventKind::kData: {
        std::string_view d = parser.data();
        if (part == Part::kPath) {
          if (field.size() + d.size() > kMaxFieldBytes) {
            co_return schema_error("body", "path", "path is too long", "string_too_long");
          }
          field.append(d);
        } else if (part == Part::kFile) {
          size += d.size();
          if (limit > 0 && size > limit) {
            ex.close_after();
            co_return upload_too_large(limit);
          }
          if (!writer && size > kMaxSpoolBytes) {
            ex.close_after();
            co_return Error(ErrorCode::kPayloadTooLarge,
                            "Upload too large to buffer: send the `path` field before the "
                            "`file` part (limit " +
                                std::to_string(kMaxSpoolBytes) + " bytes otherwise)");
          }
          if (writer) {
            if (auto s = co_await writer->write(asio::buffer(d.data(), d.size())); !s) {
              co_return std::move(s).error();
            }
          } else if (auto s = spool.write(d); !s) {
            co_return std::move(s).error();
          }
        }
        break;
      }
      case EventKind::kPartEnd:
        if (part == Part::kPath) raw_path = field;
        part = Part::kNone;
        break;
      case EventKind::kDone: done = true; break;
    }
  }
  if (!have_file) co_return schema_error("body", "file", "Field required", "missing");
  if (!raw_path) co_return schema_error("body", "path", "Field required", "missing");
  if (!writer) {
    // The file came before the path: validate now, then send the spooled bytes.
    if (auto s = co_await start_stream(); !s) co_return std::move(s).error();
    if (::lseek(spool.fd(), 0, SEEK_SET) < 0) co_return system_error("rewinding spool", errno);
    for (;;) {
      ssize_t n = ::read(spool.fd(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) co_return system_error("reading upload spool", errno);
      if (n == 0) break;
      if (auto s = co_await writer->write(asio::buffer(buf.data(), static_cast<std::size_t>(n)));
          !s) {
        co_return std::move(s).error();
      }
    }
  }
  std::string suffix = "\r\n--" + ship_boundary + "--\r\n";
  if (auto s = co_await writer->write(asio::buffer(suffix)); !s) co_return std::move(s).error();
  auto res = co_await writer->finish(kErrorBodyLimit);
  if (!res) co_return std::move(res).error();
  if (res->status != 200) {
    boost::system::error_code ec;
    json::value v = json::parse(res->body, ec);
    json::object body = !ec && v.is_object() ? v.as_object() : json::object{};
    co_return map_ship_error(res->status, body, "path", path, true);
  }
  co_return Reply::ok(json::object{{"status", "ok"}, {"path", path}, {"size", size}});
}

// `attachment; filename="<name>"` with the name made safe for a quoted header value.
std::string disposition(std::string_view path) {
  auto slash = path.rfind('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  std::string plain;
  bool ascii = true;
  for (char c : base) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F || u >= 0x80) {
      ascii = false;
      plain += '_';
    } else if (c == '"' || c == '\\') {
      plain += '\\';
      plain += c;
    } else {
      plain += c;
    }
  }
  std::string out = "attachment; filename=\"" + plain + "\"";
  if (!ascii) out += "; filename*=UTF-8''" + percent_encode(base);
  return out;
}

Awaitable download(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto t = co_await app.sandboxes.lookup(owner, std::string(ex.params().get("id")));
  if (!t) co_return std::move(t).error();
  auto raw = ex.query("path");
  if (!raw) co_return schema_error("query", "path", "Field required", "missing");
  if (auto s = check_path_field("query", "path", *raw); !s) co_return std::move(s).error();
  if (auto s = app.sandboxes.check_capability(*t, kCapabilityFilesystem); !s) {
    co_return std::move(s).error();
  }
  auto path = normalize_workspace_path(*raw, "path");
  if (!path) co_return std::move(path).error();
  if (auto s = app.sandboxes.check_not_expired(*t); !s) co_return std::move(s).error();
  auto lease = co_await app.sandboxes.ensure_session(*t);
  if (!lease) co_return std::move(lease).error();
  auto reader = co_await (*lease)->ship().get_stream(
      "/fs/download?file_path=" + percent_encode(*path),
      std::chrono::steady_clock::now() + std::chrono::seconds(30));
  if (!reader) {
    if (reader.error().code == ErrorCode::kUpstream) (*lease)->mark_broken();
    co_return std::move(reader).error();
  }
  auto& r = **reader;
  if (r.status() != 200) {
    auto body = co_await r.read_rest(kErrorBodyLimit);
    if (!body) co_return std::move(body).error();
    boost::system::error_code ec;
    json::value v = json::parse(*body, ec);
    json::object obj = !ec && v.is_object() ? v.as_object() : json::object{};
    co_return map_ship_error(r.status(), obj, "path", *path, true);
  }
  auto length = r.content_length();
  if (!length) {
    Error e(ErrorCode::kUpstream, "The sandbox runtime sent a download without a length");
    e.details["status"] = 200;
    co_return e;
  }
  http::Response head;
  head.content_type = "application/octet-stream";
  head.headers.emplace_back("Content-Disposition", disposition(*path));
  if (auto s = co_await ex.begin_response(std::move(head), *length); !s) co_return std::nullopt;
  // Ship's socket → pipe → client socket (splice): the bytes never pass through Bay's
  // memory. A runtime that ends early leaves the client a short body and a closed
  // connection.
  std::uint64_t sent = co_await ex.splice_body(r, *length);
  if (sent != *length) ex.close_after();
  co_return std::nullopt;
}

}  // namespace

void add_transfer_routes(BayRouter& r, BayApp& app) {
  r.add(verb::post, "/v1/sandboxes/{id}/filesystem/upload", v1_route(app, upload));
  r.add(verb::get, "/v1/sandboxes/{id}/filesystem/download", v1_route(app, download));
}

}  // namespace shipyard::bay
