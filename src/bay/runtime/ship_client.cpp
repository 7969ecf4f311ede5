#include "bay/runtime/ship_client.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <cstring>

#include "common/unique_fd.hpp"

namespace shipyard::bay {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// Pooled connections older than this are not reused: Ship closes idle keep-alive
// connections after its own idle timeout, and a request must never race that close.
constexpr auto kMaxIdle = std::chrono::seconds(30);
constexpr std::size_t kMaxPooled = 8;
constexpr std::uint32_t kHeaderLimit = 16 * 1024;
constexpr auto kBodyIdle = std::chrono::seconds(60);

Error upstream(std::string msg, std::string context) {
  Error e(ErrorCode::kUpstream, std::move(msg));
  e.context = std::move(context);
  return e;
}

Error from_ec(std::string_view what, const boost::system::error_code& ec) {
  if (ec == beast::error::timeout) {
    Error e(ErrorCode::kTimeout, "The sandbox runtime did not answer in time");
    e.context = std::string(what) + ": timeout";
    return e;
  }
  if (ec == bhttp::error::body_limit) {
    return upstream("The sandbox runtime sent an oversized response", std::string(what));
  }
  return ship_unreachable(what, ec);
}

bool retryable(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == bhttp::error::end_of_stream ||
         ec == asio::error::connection_aborted;
}

// The socket file lives in a directory the sandbox can write (Ship creates it there),
// so its path cannot be trusted: the sandbox could put a symlink to any host socket in
// its place, or a hard link to another sandbox's socket. The file is therefore opened
// without following symlinks, must be a socket owned by the owner of its directory (the
// sandbox uid, which the sandbox cannot change), and is connected through its fd.
struct PinnedSocket {
  UniqueFd fd;
  uid_t owner;
};

Result<PinnedSocket> pin_unix_socket(const std::string& path) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  UniqueFd dfd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dfd) {
    return upstream("The sandbox runtime could not be reached",
                    "opening " + dir + ": " + std::strerror(errno));
  }
  struct stat dst {};
  if (::fstat(dfd.get(), &dst) != 0) {
    return upstream("The sandbox runtime could not be reached", "stat " + dir);
  }
  UniqueFd fd(::openat(dfd.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    return upstream("The sandbox runtime could not be reached",
                    "opening " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_uid != dst.st_uid) {
    return upstream("The sandbox runtime could not be reached",
                    path + " is not a socket owned by its sandbox");
  }
  return PinnedSocket{std::move(fd), dst.st_uid};
}

}  // namespace

Error ship_unreachable(std::string_view what, const boost::system::error_code& ec) {
  return upstream("The sandbox runtime could not be reached",
                  std::string(what) + ": " + ec.message());
}

class ShipConnection {
 public:
  explicit ShipConnection(asio::any_io_executor ex) : stream(ex) {}
  http::Stream stream;
  beast::flat_buffer buffer;
  std::chrono::steady_clock::time_point last_used = std::chrono::steady_clock::now();
  bool reused = false;
};

ShipClient::ShipClient(asio::any_io_executor ex, std::string endpoint)
    : ex_(std::move(ex)), endpoint_(std::move(endpoint)) {}

ShipClient::~ShipClient() = default;

void ShipClient::reset() { idle_.clear(); }

asio::awaitable<Result<std::unique_ptr<ShipConnection>>> ShipClient::acquire(SteadyTime deadline,
                                                                             bool fresh) {
  auto now = std::chrono::steady_clock::now();
  while (!fresh && !idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    if (now - c->last_used < kMaxIdle && c->stream.socket().is_open()) {
      c->reused = true;
      co_return c;
    }
  }
  auto c = std::make_unique<ShipConnection>(ex_);
  asio::generic::stream_protocol::endpoint ep;
  UniqueFd socket_file;  // must stay open until connected: the endpoint names it
  std::optional<uid_t> expected_uid;
  if (endpoint_.rfind("unix:", 0) == 0) {
    auto pinned = pin_unix_socket(endpoint_.substr(5));
    if (!pinned) co_return std::move(pinned).error();
    socket_file = std::move(pinned->fd);
    expected_uid = pinned->owner;
    ep = asio::local::stream_protocol::endpoint("/proc/self/fd/" +
                                                std::to_string(socket_file.get()));
  } else if (endpoint_.rfind("tcp:", 0) == 0) {
    std::string hp = endpoint_.substr(4);
    auto colon = hp.rfind(':');
    unsigned port = 0;
    if (colon == std::string::npos ||
        std::from_chars(hp.data() + colon + 1, hp.data() + hp.size(), port).ec != std::errc()) {
      co_return upstream("The sandbox runtime could not be reached", "bad endpoint " + endpoint_);
    }
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(hp.substr(0, colon), ec);
    if (ec)
      co_return upstream("The sandbox runtime could not be reached", "bad endpoint " + endpoint_);
    ep = asio::ip::tcp::endpoint(addr, static_cast<unsigned short>(port));
  } else {
    co_return upstream("The sandbox runtime could not be reached", "bad endpoint " + endpoint_);
  }
  c->stream.expires_at(deadline);
  auto [ec] = co_await c->stream.async_connect(ep, kTuple);
  if (ec) co_return from_ec("connecting to " + endpoint_, ec);
  if (expected_uid) {
    // The process behind the socket must run as the sandbox's own uid.
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(c->stream.socket().native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) !=
            0 ||
        cred.uid != *expected_uid) {
      co_return upstream("The sandbox runtime could not be reached",
                         "peer of " + endpoint_ + " is not the sandbox user");
    }
  }
  co_return c;
}

void ShipClient::release(std::unique_ptr<ShipConnection> c) {
  if (idle_.size() >= kMaxPooled) return;
  c->last_used = std::chrono::steady_clock::now();
  idle_.push_back(std::move(c));
}

asio::awaitable<Result<ShipResponse>> ShipClient::request(bhttp::verb method, std::string target,
                                                          std::string body, SteadyTime deadline,
                                                          std::size_t max_body,
                                                          std::string session_header) {
  for (int attempt = 0;; ++attempt) {
    auto conn = co_await acquire(deadline, attempt > 0);
    if (!conn) co_return std::move(conn).error();
    auto& c = **conn;
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, "ship");
    if (!session_header.empty()) req.set("X-SESSION-ID", session_header);
    if (!body.empty() || method == bhttp::verb::post) {
      req.set(bhttp::field::content_type, "application/json");
      req.body() = body;
    }
    req.keep_alive(true);
    req.prepare_payload();
    c.stream.expires_at(deadline);
    auto [wec, wn] = co_await bhttp::async_write(c.stream, req, kTuple);
    if (wec) {
      if (c.reused && attempt == 0 && retryable(wec)) continue;
      co_return from_ec(std::string(bhttp::to_string(method)) + " " + target, wec);
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(max_body);
    auto [rec, rn] = co_await bhttp::async_read(c.stream, c.buffer, parser, kTuple);
    if (rec) {
      // A reused connection that Ship closed before reading anything: the request was
      // never processed, so one retry on a fresh connection is safe.
      if (c.reused && attempt == 0 && rn == 0 && retryable(rec)) continue;
      co_return from_ec(std::string(bhttp::to_string(method)) + " " + target, rec);
    }
    auto& res = parser.get();
    ShipResponse out;
    out.status = res.result_int();
    out.content_type = std::string(res[bhttp::field::content_type]);
    out.body = std::move(res.body());
    if (res.keep_alive()) release(std::move(*conn));
    co_return out;
  }
}

asio::awaitable<Result<ShipClient::JsonReply>> ShipClient::request_json(
    bhttp::verb method, std::string target, std::optional<json::object> body, SteadyTime deadline,
    std::size_t max_body) {
  std::string payload = body ? json::serialize(*body) : std::string();
  auto res = co_await request(method, std::move(target), std::move(payload), deadline, max_body);
  if (!res) co_return std::move(res).error();
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 64;
  json::value v = json::parse(res->body, ec, {}, opts);
  if (ec || !v.is_object()) {
    Error e(ErrorCode::kUpstream, "The sandbox runtime sent a malformed response");
    e.details["status"] = res->status;
    e.context = "non-JSON body with status " + std::to_string(res->status);
    co_return e;
  }
  co_return JsonReply{res->status, std::move(v.as_object())};
}

// ---------------------------------------------------------------- streaming

namespace {

class Reader final : public ShipBodyReader {
 public:
  explicit Reader(std::unique_ptr<ShipConnection> c, SteadyTime deadline)
      : conn_(std::move(c)), deadline_(deadline) {
    parser_.header_limit(kHeaderLimit);
    parser_.body_limit(boost::none);
  }
  asio::awaitable<Status> read_header() {
    conn_->stream.expires_at(deadline_);
    auto [ec, n] = co_await bhttp::async_read_header(conn_->stream, conn_->buffer, parser_, kTuple);
    if (ec) co_return from_ec("reading download header", ec);
    co_return Status{};
  }
  unsigned status() const override { return parser_.get().result_int(); }
  std::optional<std::uint64_t> content_length() const override {
    auto cl = parser_.content_length();
    if (cl) return *cl;
    return std::nullopt;
  }
  std::string_view header(bhttp::field f) const override { return parser_.get()[f]; }
  asio::awaitable<Result<std::size_t>> read_some(asio::mutable_buffer buf) override {
    if (parser_.is_done() || buf.size() == 0) co_return std::size_t{0};
    if (std::size_t want = std::min<std::size_t>(buf.size(), 1 << 20);
        conn_->buffer.capacity() - conn_->buffer.size() < want) {
      conn_->buffer.reserve(conn_->buffer.size() + want);
    }
    for (;;) {
      parser_.get().body().data = buf.data();
      parser_.get().body().size = buf.size();
      // The deadline bounds the wait for the answer; a long body then only needs to keep
      // making progress.
      conn_->stream.expires_after(kBodyIdle);
      auto [ec, n] = co_await bhttp::async_read_some(conn_->stream, conn_->buffer, parser_, kTuple);
      std::size_t got = buf.size() - parser_.get().body().size;
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) co_return from_ec("reading download body", ec);
      if (got > 0 || parser_.is_done()) co_return got;
    }
  }
  std::string take_buffered(std::uint64_t max) override {
    // The header read may have read past the header: those are the body's first bytes.
    // The connection is never reused after this (its parser is bypassed).
    auto data = conn_->buffer.data();
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), max));
    std::string out(static_cast<const char*>(data.data()), n);
    conn_->buffer.consume(n);
    return out;
  }
  int splice_fd() override {
    conn_->stream.expires_never();  // its timer only guards reads through the stream
    boost::system::error_code ec;
    conn_->stream.socket().native_non_blocking(true, ec);
    return conn_->stream.socket().native_handle();
  }
  asio::awaitable<bool> wait_readable() override {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer idle(conn_->stream.get_executor(), kBodyIdle);
    auto which =
        co_await (conn_->stream.socket().async_wait(asio::socket_base::wait_read, kTuple) ||
                  idle.async_wait(kTuple));
    co_return which.index() == 0 && !std::get<0>(std::get<0>(which));
  }
  asio::awaitable<Result<std::string>> read_rest(std::size_t limit) override {
    std::string out;
    char chunk[8192];
    for (;;) {
      auto n = co_await read_some(asio::buffer(chunk));
      if (!n) co_return std::move(n).error();
      if (*n == 0) co_return out;
      if (out.size() + *n > limit) {
        co_return upstream("The sandbox runtime sent an oversized response", "error body");
      }
      out.append(chunk, *n);
    }
  }

 private:
  std::unique_ptr<ShipConnection> conn_;
  SteadyTime deadline_;
  bhttp::response_parser<bhttp::buffer_body> parser_;
};

class Writer final : public ShipBodyWriter {
 public:
  Writer(std::unique_ptr<ShipConnection> c, SteadyTime deadline)
      : conn_(std::move(c)), deadline_(deadline) {}
  asio::awaitable<Status> write(asio::const_buffer data) override {
    if (data.size() == 0) co_return Status{};
    conn_->stream.expires_after(kBodyIdle);
    auto [ec, n] = co_await asio::async_write(conn_->stream, bhttp::make_chunk(data), kTuple);
    if (ec) co_return from_ec("sending upload body", ec);
    co_return Status{};
  }
  asio::awaitable<Result<ShipResponse>> finish(std::size_t max_body) override {
    // Ship commits the upload (rename) after the last byte: bounded like a filesystem call.
    conn_->stream.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await asio::async_write(conn_->stream, bhttp::make_chunk_last(), kTuple);
    if (ec) co_return from_ec("finishing upload body", ec);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(max_body);
    auto [rec, rn] = co_await bhttp::async_read(conn_->stream, conn_->buffer, parser, kTuple);
    if (rec) co_return from_ec("reading upload response", rec);
    ShipResponse out;
    out.status = parser.get().result_int();
    out.content_type = std::string(parser.get()[bhttp::field::content_type]);
    out.body = std::move(parser.get().body());
    co_return out;
  }

 private:
  std::unique_ptr<ShipConnection> conn_;
  SteadyTime deadline_;
};

}  // namespace

asio::awaitable<Result<std::unique_ptr<ShipBodyReader>>> ShipClient::get_stream(
    std::string target, SteadyTime deadline, std::string session_header) {
  auto conn = co_await acquire(deadline, /*fresh=*/true);
  if (!conn) co_return std::move(conn).error();
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
  req.set(bhttp::field::host, "ship");
  if (!session_header.empty()) req.set("X-SESSION-ID", session_header);
  req.keep_alive(false);
  (*conn)->stream.expires_at(deadline);
  auto [ec, n] = co_await bhttp::async_write((*conn)->stream, req, kTuple);
  if (ec) co_return from_ec("GET " + target, ec);
  auto reader = std::make_unique<Reader>(std::move(*conn), deadline);
  if (auto s = co_await reader->read_header(); !s) co_return std::move(s).error();
  co_return std::unique_ptr<ShipBodyReader>(std::move(reader));
}

asio::awaitable<Result<std::unique_ptr<ShipBodyWriter>>> ShipClient::post_stream(
    std::string target, std::string content_type, SteadyTime deadline, std::string session_header) {
  auto conn = co_await acquire(deadline, /*fresh=*/true);
  if (!conn) co_return std::move(conn).error();
  bhttp::request<bhttp::empty_body> req{bhttp::verb::post, target, 11};
  req.set(bhttp::field::host, "ship");
  if (!session_header.empty()) req.set("X-SESSION-ID", session_header);
  req.set(bhttp::field::content_type, content_type);
  req.chunked(true);
  req.keep_alive(false);
  bhttp::request_serializer<bhttp::empty_body> sr{req};
  (*conn)->stream.expires_at(deadline);
  auto [ec, n] = co_await bhttp::async_write_header((*conn)->stream, sr, kTuple);
  if (ec) co_return from_ec("POST " + target, ec);
  co_return std::unique_ptr<ShipBodyWriter>(std::make_unique<Writer>(std::move(*conn), deadline));
}

}  // namespace shipyard::bay
