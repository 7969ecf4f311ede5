// /fs/* (ship-api.md §6): thin translation between JSON and the confined fs module.
#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <vector>

#include "common/http/multipart.hpp"
#include "common/strings.hpp"
#include "ship/api/routes.hpp"
#include "ship/fs/ops.hpp"

namespace shipyard::ship {
namespace {

namespace asio = boost::asio;
using http::bhttp::verb;
using Awaitable = asio::awaitable<Result<json::object>>;

Awaitable create_file(http::Exchange& ex, ShipContext& ctx) {
  auto scope = ctx.scope(ex);
  if (!scope) co_return std::move(scope).error();
  auto body = co_await read_json_body(ex, ctx);
  if (!body) co_return std::move(body).error();
  FieldReader r(*body);
  std::string path = r.required_string("path");
  std::string content = r.string_or("content", "");
  auto mode = r.int_or("mode", 0644, 0, 07777);
  if (!r.ok()) co_return r.error();
  auto job = [ws = scope->ws, path, content = std::move(content), mode] {
    return fs::create_file(*ws, path, content, static_cast<unsigned>(mode));
  };
  auto res = co_await offload(ctx, std::move(job));
  if (!res) co_return std::move(res).error();
  co_return json::object{
      {"success", true}, {"message", "File created: " + res->path}, {"path", res->path}};
}

Awaitable read_file(http::Exchange& ex, ShipContext& ctx) {
  auto scope = ctx.scope(ex);
  if (!scope) co_return std::move(scope).error();
  auto body = co_await read_json_body(ex, ctx);
  if (!body) co_return std::move(body).error();
  FieldReader r(*body);
  std::string path = r.required_string("path");
  std::string encoding = r.string_or("encoding", "utf-8");
  auto offset = r.optional_int("offset");
  auto limit = r.optional_int("limit");
  if (!r.ok()) co_return r.error();
  auto job = [ws = scope->ws, path, offset, limit, encoding] {
    return fs::read_file(*ws, path, offset, limit, encoding);
  };
  auto res = co_await offload(ctx, std::move(job));
  if (!res) co_return std::move(res).error();
  co_return json::object{
      {"content", std::move(res->content)}, {"path", res->path}, {"size", res->size}};
}

Awaitable write_file(http::Exchange& ex, ShipContext& ctx) {
  auto scope = ctx.scope(ex);
  if (!scope) co_return std::move(scope).error();
  auto body = co_await read_json_body(ex, ctx);
  if (!body) co_return std::move(body).error();
  FieldReader r(*body);
  std::string path = r.required_string("path");
  std::string content = r.required_string("content");
  std::string mode = r.string_or("mode", "w");
  std::string encoding = r.string_or("encoding", "utf-8");
  if (mode != "w" && mode != "a") {
    r.violation("mode", "Input should be 'w' or 'a'", "literal_error");
  }
  if (!r.ok()) co_return r.error();
  bool append = mode == "a";
  auto job = [ws = scope->ws, path, content = std::move(content), append, encoding] {
    return fs::write_file(*ws, path, content, append, encoding);
  };
  auto res = co_await offload(ctx, std::move(job));
  if (!res) co_return std::move(res).error();
  co_return json::object{{"success", true},
                         {"message", "File written: " + res->path},
                         {"path", res->path},
                         {"size", res->size}};
}

Awaitable edit_file(http::Exchange& ex, ShipContext& ctx) {
  auto scope = ctx.scope(ex);
  if (!scope) co_return std::move(scope).error();
  auto body = co_await read_json_body(ex, ctx);
  if (!body) co_return std::move(body).error();
  FieldReader r(*body);
  std::string path = r.required_string("path");
  std::string old_s = r.required_string("old_string");
  std::string new_s = r.required_string("new_string");
  bool replace_all = r.bool_or("replace_all", false);
  std::string encoding = r.string_or("encoding", "utf-8");
  if (!r.ok()) co_return r.error();
  auto job = [ws = scope->ws, path, old_s = std::move(old_s), new_s = std::move(new_s), replace_all,
              encoding] { return fs::edit_file(*ws, path, old_s, new_s, replace_all, encoding); };
  auto res = co_await offload(ctx, std::move(job));
  if (!res) co_return std::move(res).error();
  co_return json::object{{"success", true},
                         {"message", "File edited: " + res->path},
                         {"path", res->path},
                         {"replacements", res->replacements},
                         {"size", res->size}};
}

Awaitable delete_file(http::Exchange& ex, ShipContext& ctx) {
  auto scope = ctx.scope(ex);
  if (!scope) co_return std::move(scope).error();
  auto body = co_await read_json_body(ex, ctx);
  if (!body) co_return std::move(body).error();
  FieldReader r(*body);
  std::string path = r.required_string("path");
  if (!r.ok()) co_return r.error();
  auto job = [ws = scope->ws, path] { return fs::delete_path(*ws, path); };
  auto res = co_await offload(ctx, std::move(job));
  if (!res) co_return std::move(res).error();
  std::string what = res->was_directory ? "Directory deleted: " : "File deleted: ";
  co_return json::object{{"success", true}, {"message", what + res->path}};
}

Awaitable list_dir(http::Exchange& ex, ShipContext& ctx) {
  auto scope = ctx.scope(ex);
  if (!scope) co_return std::move(scope).error();
  auto body = co_await read_json_body(ex, ctx);
  if (!body) co_return std::move(body).error();
  FieldReader r(*body);
  std::string path = r.string_or("path", ".");
  bool show_hidden = r.bool_or("show_hidden", false);
  if (!r.ok()) co_return r.error();
  auto job = [ws = scope->ws, path, show_hidden] { return fs::list_dir(*ws, path, show_hidden); };
  auto res = co_await offload(ctx, std::move(job));
  if (!res) co_return std::move(res).error();
  json::array files;
  files.reserve(res->files.size());
  for (const auto& f : res->files) {
    json::object e{{"name", f.name},
                   {"path", f.path},
                   {"is_file", f.is_file},
                   {"is_dir", f.is_dir},
                   {"modified_time", f.modified_time}};
    if (f.size) {
      e["size"] = *f.size;
    } else {
      e["size"] = nullptr;
    }
    files.push_back(std::move(e));
  }
  co_return json::object{{"files", std::move(files)}, {"current_path", res->current_path}};
}

// ---------------------------------------------------------------- upload

constexpr std::size_t kUploadChunk = 1024 * 1024;
// File data is gathered into batches of this size; one batch is written on the blocking
// pool while the next piece of the body is read from the socket.
constexpr std::size_t kWriteBatch = 1024 * 1024;
constexpr std::size_t kMaxFieldBytes = 8192;

// A spool for a `file` part that arrives before `file_path`: an unnamed temporary file in
// Ship's private state directory, copied into place once the target is known.
Result<UniqueFd> open_spool(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!fd) return system_error("creating upload spool in " + dir, errno);
  return fd;
}

Status write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOSPC || errno == EDQUOT) {
        return Error(ErrorCode::kInternal, "No space left on device");
      }
      return system_error("write", errno);
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return {};
}

Status copy_spool(int spool, fs::UploadSink& sink) {
  if (::lseek(spool, 0, SEEK_SET) < 0) return system_error("lseek", errno);
  std::vector<char> buf(kUploadChunk);
  for (;;) {
    ssize_t n = ::read(spool, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return system_error("reading upload spool", errno);
    }
    if (n == 0) return {};
    if (auto s = sink.write(buf.data(), static_cast<std::size_t>(n)); !s) return s;
  }
}

// Where the bytes of the `file` part go: the upload sink once the target is known, the
// spool before that.
struct FileTarget {
  std::optional<fs::UploadSink>* sink;
  int spool;
  Status write(const char* p, std::size_t n) const {
    return *sink ? (*sink)->write(p, n) : write_all(spool, p, n);
  }
};

// Coroutine functions (not lambdas) so they can be awaited together; the results are
// optional because awaiting in parallel needs default-constructible results.
asio::awaitable<std::optional<Status>> write_batch(ShipContext& ctx, FileTarget target,
                                                   const std::vector<char>* batch) {
  auto job = [target, batch] { return target.write(batch->data(), batch->size()); };
  co_return co_await offload(ctx, std::move(job));
}

asio::awaitable<std::optional<Result<std::size_t>>> read_piece(http::Exchange& ex,
                                                               asio::mutable_buffer buf) {
  co_return co_await ex.read_some(buf);
}

Awaitable upload(http::Exchange& ex, ShipContext& ctx) {
  auto scope = ctx.scope(ex);
  if (!scope) co_return std::move(scope).error();
  auto boundary = http::multipart_boundary(ex.header(http::bhttp::field::content_type));
  if (!boundary) {
    co_return schema_error("body", "file", boundary.error().message, "multipart_type");
  }
  http::MultipartParser parser(*boundary);
  std::vector<char> buf(kUploadChunk);
  std::optional<std::string> file_path;
  std::optional<fs::UploadSink> sink;
  UniqueFd spool;
  enum class Current { kNone, kFile, kPath, kOther } current = Current::kNone;
  bool have_file = false;
  std::string field;
  std::vector<char> gathering;  // file data not yet handed to a write
  std::vector<char> ready;      // a full batch, written while the next read runs
  gathering.reserve(kWriteBatch);
  auto target = [&] { return FileTarget{&sink, spool.get()}; };
  // Writes `ready` now (when a second batch fills before the next read).
  auto drain_ready = [&]() -> asio::awaitable<Status> {
    if (ready.empty()) co_return Status{};
    auto op = write_batch(ctx, target(), &ready);
    auto st = co_await std::move(op);
    ready.clear();
    co_return std::move(*st);
  };
  for (bool done = false; !done;) {
    auto ev = parser.next();
    if (!ev) co_return std::move(ev).error();
    switch (*ev) {
      case http::MultipartParser::EventKind::kNeedMore: {
        Result<std::size_t> n = std::size_t{0};
        if (!ready.empty()) {
          using namespace boost::asio::experimental::awaitable_operators;
          auto both = write_batch(ctx, target(), &ready) && read_piece(ex, asio::buffer(buf));
          auto [written, got] = co_await std::move(both);
          ready.clear();
          if (!*written) co_return std::move(*written).error();
          n = std::move(*got);
        } else {
          n = co_await ex.read_some(asio::buffer(buf));
        }
        if (!n) co_return std::move(n).error();
        if (*n == 0) {
          parser.finish();
        } else {
          parser.feed(std::string_view(buf.data(), *n));
        }
        break;
      }
      case http::MultipartParser::EventKind::kPartBegin: {
        const auto& name = parser.headers().name;
        if (name == "file" && !have_file) {
          have_file = true;
          current = Current::kFile;
          if (file_path) {
            auto job = [ws = scope->ws, p = *file_path] { return fs::UploadSink::create(*ws, p); };
            auto s = co_await offload(ctx, std::move(job));
            if (!s) co_return std::move(s).error();
            sink.emplace(std::move(*s));
          } else {
            auto s = open_spool(ctx.config().state_dir);
            if (!s) co_return std::move(s).error();
            spool = std::move(*s);
          }
        } else if (name == "file_path" && !file_path) {
          current = Current::kPath;
          field.clear();
        } else {
          current = Current::kOther;
        }
        break;
      }
      case http::MultipartParser::EventKind::kData: {
        std::string_view d = parser.data();
        if (current == Current::kFile) {
          gathering.insert(gathering.end(), d.begin(), d.end());
          if (gathering.size() >= kWriteBatch) {
            if (auto st = co_await drain_ready(); !st) co_return std::move(st).error();
            ready.swap(gathering);
            gathering.clear();
          }
        } else if (current == Current::kPath) {
          if (field.size() + d.size() > kMaxFieldBytes) {
            co_return schema_error("body", "file_path", "file_path is too long", "string_too_long");
          }
          field.append(d);
        }
        break;
      }
      case http::MultipartParser::EventKind::kPartEnd:
        if (current == Current::kFile) {
          if (auto st = co_await drain_ready(); !st) co_return std::move(st).error();
          ready.swap(gathering);
          gathering.clear();
          if (auto st = co_await drain_ready(); !st) co_return std::move(st).error();
        }
        if (current == Current::kPath) file_path = field;
        current = Current::kNone;
        break;
      case http::MultipartParser::EventKind::kDone: done = true; break;
    }
  }
  if (!have_file) co_return schema_error("body", "file", "Field required", "missing");
  if (!file_path) co_return schema_error("body", "file_path", "Field required", "missing");
  auto job = [&]() -> Result<fs::FileInfo> {
    if (!sink) {
      auto s = fs::UploadSink::create(*scope->ws, *file_path);
      if (!s) return std::move(s).error();
      sink.emplace(std::move(*s));
      if (auto c = copy_spool(spool.get(), *sink); !c) return std::move(c).error();
    }
    return sink->commit();
  };
  auto res = co_await offload(ctx, std::move(job));
  if (!res) co_return std::move(res).error();
  co_return json::object{{"success", true},
                         {"message", "File uploaded successfully"},
                         {"file_path", res->path},
                         {"size", res->size}};
}

// ---------------------------------------------------------------- download

// `attachment; filename="<name>"`, with the name made safe for a quoted header value;
// a name that is not plain ASCII is also given in RFC 5987 form.
std::string content_disposition(std::string_view name) {
  std::string plain;
  std::string encoded;
  bool ascii = true;
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : name) {
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
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      encoded += c;
    } else {
      encoded += '%';
      encoded += kHex[u >> 4];
      encoded += kHex[u & 0xF];
    }
  }
  std::string out = "attachment; filename=\"" + plain + "\"";
  if (!ascii) out += "; filename*=UTF-8''" + encoded;
  return out;
}

asio::awaitable<void> download(http::Exchange& ex, ShipContext& ctx) {
  auto scope = ctx.scope(ex);
  if (!scope) {
    co_await ex.respond_error(scope.error());
    co_return;
  }
  auto path = ex.query("file_path");
  if (!path) {
    co_await ex.respond_error(schema_error("query", "file_path", "Field required", "missing"));
    co_return;
  }
  auto job = [ws = scope->ws, p = *path] { return fs::open_for_download(*ws, p); };
  auto file = co_await offload(ctx, std::move(job));
  if (!file) {
    co_await ex.respond_error(file.error());
    co_return;
  }
  http::Response head;
  head.content_type = "application/octet-stream";
  head.headers.emplace_back("Content-Disposition", content_disposition(file->basename));
  co_await ex.respond_file(std::move(head), file->fd.get(), file->size);
}

}  // namespace

void add_fs_routes(ShipRouter& r, ShipContext& ctx) {
  r.add(verb::post, "/fs/create_file", json_route(ctx, create_file));
  r.add(verb::post, "/fs/read_file", json_route(ctx, read_file));
  r.add(verb::post, "/fs/write_file", json_route(ctx, write_file));
  r.add(verb::post, "/fs/edit_file", json_route(ctx, edit_file));
  r.add(verb::post, "/fs/delete_file", json_route(ctx, delete_file));
  r.add(verb::post, "/fs/list_dir", json_route(ctx, list_dir));
  r.add(verb::post, "/fs/upload", json_route(ctx, upload));
  r.add(verb::post, "/upload", json_route(ctx, upload));
  auto dl = [&ctx](http::Exchange& ex) { return download(ex, ctx); };
  r.add(verb::get, "/fs/download", dl);
  r.add(verb::get, "/download", dl);
}

}  // namespace shipyard::ship
