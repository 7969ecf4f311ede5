#include "common/http/server.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>

#include "common/strings.hpp"
#include "common/unique_fd.hpp"

namespace shipyard::http {
namespace {

using namespace boost::asio::experimental::awaitable_operators;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// After answering a request whose body was not read, up to this much of the rest is
// read and discarded so the connection can be reused; beyond it the connection closes.
constexpr std::uint64_t kDrainLimit = 1 << 20;
// Largest single socket read while streaming a request body.
constexpr std::size_t kMaxReadChunk = 1 << 20;
// Pipe capacity for splice_body (the default 64 KiB means 16x the syscalls).
constexpr int kSplicePipeSize = 1 << 20;
// A connection buffer grown beyond this by a large body is shrunk back between requests.
constexpr std::size_t kIdleBufferCapacity = 16 * 1024;
// A closing connection keeps reading (and discarding) for a while so that a client
// still sending a body receives our answer instead of a reset ("lingering close").
constexpr std::uint64_t kLingerBytes = 1ull << 30;
constexpr std::chrono::seconds kLingerTime{10};
constexpr std::chrono::seconds kLingerIdle{2};

Error bad_request(std::string msg) { return Error(ErrorCode::kInvalidArgument, std::move(msg)); }

}  // namespace

Response Response::json(bhttp::status status, const boost::json::value& body) {
  Response r;
  r.status = status;
  r.body = boost::json::serialize(body);
  return r;
}

Response Response::no_content() {
  Response r;
  r.status = bhttp::status::no_content;
  r.content_type.clear();
  return r;
}

// ---------------------------------------------------------------- Exchange

Exchange::Exchange(Stream& stream, beast::flat_buffer& buffer,
                   bhttp::request_parser<bhttp::buffer_body>& parser, const ServerLimits& limits,
                   const ErrorResponder& on_error)
    : stream_(stream), buffer_(buffer), parser_(parser), limits_(limits), on_error_(on_error) {
  std::string_view target = parser_.get().target();
  auto q = target.find('?');
  path_ = std::string(target.substr(0, q));
  if (q != std::string_view::npos) query_ = std::string(target.substr(q + 1));
  keep_alive_ = parser_.get().keep_alive();
}

std::optional<std::string> Exchange::query(std::string_view name) const {
  for (auto part : split(query_, '&')) {
    if (part.empty()) continue;
    auto eq = part.find('=');
    std::string key_raw(part.substr(0, eq));
    std::string val_raw(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1));
    for (auto& c : key_raw) c = c == '+' ? ' ' : c;
    for (auto& c : val_raw) c = c == '+' ? ' ' : c;
    std::string key, val;
    if (!percent_decode(key_raw, key) || key != name) continue;
    if (!percent_decode(val_raw, val)) continue;
    return val;
  }
  return std::nullopt;
}

std::string_view Exchange::header(bhttp::field f) const { return req()[f]; }
std::string_view Exchange::header(std::string_view name) const { return req()[name]; }

std::optional<std::uint64_t> Exchange::content_length() const {
  auto cl = parser_.content_length();
  if (cl) return *cl;
  return std::nullopt;
}

asio::any_io_executor Exchange::executor() const { return stream_.get_executor(); }

int Exchange::native_socket() const {
  return const_cast<Stream&>(stream_).socket().native_handle();
}

asio::awaitable<Status> Exchange::send_continue_if_expected() {
  if (continue_sent_ || responded_) co_return Status{};
  continue_sent_ = true;
  if (!iequals(req()[bhttp::field::expect], "100-continue")) co_return Status{};
  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  stream_.expires_after(limits_.io_timeout);
  auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(kContinue), kTuple);
  if (ec) {
    keep_alive_ = false;
    co_return Error(ErrorCode::kInvalidArgument, "connection lost");
  }
  co_return Status{};
}

asio::awaitable<Result<std::size_t>> Exchange::read_some(asio::mutable_buffer buf) {
  if (parser_.is_done() || buf.size() == 0) co_return std::size_t{0};
  if (auto s = co_await send_continue_if_expected(); !s) co_return std::move(s).error();
  // Beast sizes each socket read by the spare capacity of the connection buffer (at
  // least 512 bytes); without room, a large upload would take one syscall per 512 bytes.
  if (std::size_t want = std::min<std::size_t>(buf.size(), kMaxReadChunk);
      buffer_.capacity() - buffer_.size() < want) {
    buffer_.reserve(buffer_.size() + want);
  }
  for (;;) {
    auto& body = parser_.get().body();
    body.data = buf.data();
    body.size = buf.size();
    stream_.expires_after(limits_.io_timeout);
    auto [ec, n] = co_await bhttp::async_read_some(stream_, buffer_, parser_, kTuple);
    std::size_t got = buf.size() - parser_.get().body().size;
    parser_.get().body().data = nullptr;
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) {
      keep_alive_ = false;
      Error e = ec == beast::error::timeout ? Error(ErrorCode::kTimeout, "Request body timed out")
                                            : bad_request("Malformed or truncated request body");
      e.context = ec.message();
      co_return e;
    }
    if (got > 0 || parser_.is_done()) co_return got;
  }
}

asio::awaitable<Result<std::string>> Exchange::read_body(std::size_t limit) {
  auto too_large = [&] {
    keep_alive_ = false;
    return Error(ErrorCode::kPayloadTooLarge,
                 "Request body too large (limit " + std::to_string(limit) + " bytes)");
  };
  std::string out;
  if (auto cl = content_length()) {
    if (*cl > limit) co_return too_large();
    out.reserve(static_cast<std::size_t>(*cl));
  }
  char chunk[16384];
  for (;;) {
    auto r = co_await read_some(asio::buffer(chunk));
    if (!r) co_return std::move(r).error();
    if (*r == 0) break;
    if (out.size() + *r > limit) co_return too_large();
    out.append(chunk, *r);
  }
  co_return out;
}

void Exchange::apply_headers(bhttp::response_header<>& h, const Response& r) {
  if (!r.content_type.empty()) h.set(bhttp::field::content_type, r.content_type);
  for (const auto& [k, v] : extra_headers_) h.set(k, v);
  for (const auto& [k, v] : r.headers) h.set(k, v);
}

asio::awaitable<void> Exchange::respond(Response r) {
  if (responded_) co_return;
  responded_ = true;
  bhttp::response<bhttp::string_body> res{r.status, req().version()};
  apply_headers(res.base(), r);
  res.body() = std::move(r.body);
  res.keep_alive(keep_alive_);
  res.prepare_payload();
  stream_.expires_after(limits_.io_timeout);
  auto [ec, n] = co_await bhttp::async_write(stream_, res, kTuple);
  if (ec) keep_alive_ = false;
}

asio::awaitable<void> Exchange::respond_file(Response head, int fd, std::uint64_t size) {
  auto st = co_await begin_response(std::move(head), size);
  if (!st) co_return;
  auto& sock = stream_.socket();
  boost::system::error_code ec;
  sock.native_non_blocking(true, ec);
  off_t offset = 0;
  while (static_cast<std::uint64_t>(offset) < size && !ec) {
    std::size_t want = static_cast<std::size_t>(
        std::min<std::uint64_t>(size - static_cast<std::uint64_t>(offset), 1u << 30));
    ssize_t n = ::sendfile(sock.native_handle(), fd, &offset, want);
    if (n > 0) continue;
    if (n == 0) break;  // the file shrank underneath us
    if (errno == EINTR) continue;
    if (errno != EAGAIN) break;
    asio::steady_timer timer(stream_.get_executor(), limits_.io_timeout);
    auto which = co_await (sock.async_wait(asio::socket_base::wait_write, kTuple) ||
                           timer.async_wait(kTuple));
    if (which.index() == 1) break;
    ec = std::get<0>(std::get<0>(which));
  }
  streamed_remaining_ = size - static_cast<std::uint64_t>(offset);
  if (streamed_remaining_ != 0) keep_alive_ = false;
}

asio::awaitable<std::uint64_t> Exchange::splice_body(SpliceSource& src, std::uint64_t count) {
  count = std::min(count, streamed_remaining_);
  std::uint64_t sent = 0;
  std::string head = src.take_buffered(count);
  if (!head.empty()) {
    if (auto s = co_await write_body(asio::buffer(head)); !s) co_return sent;
    sent += head.size();
  }
  int fds[2];
  if (sent < count && ::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    keep_alive_ = false;
    co_return sent;
  }
  UniqueFd from_pipe(sent < count ? fds[0] : -1);
  UniqueFd to_pipe(sent < count ? fds[1] : -1);
  if (to_pipe) ::fcntl(to_pipe.get(), F_SETPIPE_SZ, kSplicePipeSize);  // best effort
  auto& sock = stream_.socket();
  boost::system::error_code nb;
  sock.native_non_blocking(true, nb);
  const int in = src.splice_fd();
  const int out = sock.native_handle();
  std::uint64_t in_pipe = 0;  // bytes taken from the source, not yet sent
  bool failed = static_cast<bool>(nb);
  while (sent < count && !failed) {
    // Fill the pipe. EAGAIN means "no data" only while the pipe is empty (else: full).
    if (sent + in_pipe < count) {
      auto want = static_cast<std::size_t>(
          std::min<std::uint64_t>(count - sent - in_pipe, kSplicePipeSize));
      ssize_t n =
          ::splice(in, nullptr, to_pipe.get(), nullptr, want, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
      if (n > 0) {
        in_pipe += static_cast<std::uint64_t>(n);
      } else if (n == 0) {
        failed = in_pipe == 0;  // the source ended early: send what the pipe holds
        if (failed) break;
      } else if (errno == EAGAIN && in_pipe == 0) {
        if (!co_await src.wait_readable()) failed = true;
        continue;
      } else if (errno != EAGAIN && errno != EINTR) {
        failed = true;
        break;
      }
    }
    // Drain it to the client.
    while (in_pipe > 0) {
      ssize_t m = ::splice(from_pipe.get(), nullptr, out, nullptr,
                           static_cast<std::size_t>(in_pipe), SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
      if (m > 0) {
        in_pipe -= static_cast<std::uint64_t>(m);
        sent += static_cast<std::uint64_t>(m);
        streamed_remaining_ -= static_cast<std::uint64_t>(m);
        continue;
      }
      if (m < 0 && errno == EINTR) continue;
      if (m < 0 && errno == EAGAIN) {
        asio::steady_timer timer(stream_.get_executor(), limits_.io_timeout);
        auto which = co_await (sock.async_wait(asio::socket_base::wait_write, kTuple) ||
                               timer.async_wait(kTuple));
        if (which.index() == 1 || std::get<0>(std::get<0>(which))) failed = true;
        if (failed) break;
        // Send what is in the pipe before reading more: the pipe is the only buffer.
        continue;
      }
      failed = true;
      break;
    }
  }
  if (sent != count) keep_alive_ = false;
  co_return sent;
}

asio::awaitable<Status> Exchange::begin_response(Response head, std::uint64_t content_length) {
  if (responded_) co_return Error(ErrorCode::kInternal, "response already started");
  responded_ = true;
  bhttp::response<bhttp::empty_body> res{head.status, req().version()};
  apply_headers(res.base(), head);
  res.content_length(content_length);
  res.keep_alive(keep_alive_);
  bhttp::response_serializer<bhttp::empty_body> sr{res};
  stream_.expires_after(limits_.io_timeout);
  auto [ec, n] = co_await bhttp::async_write_header(stream_, sr, kTuple);
  if (ec) {
    keep_alive_ = false;
    co_return Error(ErrorCode::kInternal, "connection lost");
  }
  streamed_remaining_ = content_length;
  co_return Status{};
}

asio::awaitable<Status> Exchange::write_body(asio::const_buffer data) {
  if (data.size() > streamed_remaining_) {
    keep_alive_ = false;
    co_return Error(ErrorCode::kInternal, "response body longer than announced");
  }
  stream_.expires_after(limits_.io_timeout);
  auto [ec, n] = co_await asio::async_write(stream_, data, kTuple);
  streamed_remaining_ -= n;
  if (ec) {
    keep_alive_ = false;
    co_return Error(ErrorCode::kInternal, "connection lost");
  }
  co_return Status{};
}

// ---------------------------------------------------------------- Server

struct Server::State : std::enable_shared_from_this<Server::State> {
  asio::io_context& io;
  Router<Handler> router;
  ErrorResponder on_error;
  ServerLimits limits;
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> tcp;
  std::vector<std::unique_ptr<asio::local::stream_protocol::acceptor>> unix_acceptors;
  std::vector<std::string> unix_paths;
  std::atomic<std::size_t> connections{0};

  State(asio::io_context& i, Router<Handler> r, ErrorResponder e, ServerLimits l)
      : io(i), router(std::move(r)), on_error(std::move(e)), limits(l) {}

  template <typename Acceptor>
  asio::awaitable<void> accept_loop(Acceptor& acceptor, bool is_tcp);
  // `self` keeps the state alive for as long as the connection lives.
  asio::awaitable<void> serve(std::shared_ptr<State> self, Stream stream);
  asio::awaitable<void> dispatch(Exchange& ex);
};

namespace {

// Limits Beast does not enforce itself: the target length and the number of fields.
std::optional<std::pair<Error, bhttp::status>> check_head(
    const bhttp::request<bhttp::buffer_body>& req, const ServerLimits& limits) {
  if (req.target().size() > limits.max_target) {
    return std::make_pair(Error(ErrorCode::kPayloadTooLarge, "Request URL too long"),
                          bhttp::status::uri_too_long);
  }
  std::size_t fields = 0;
  for (auto it = req.begin(); it != req.end(); ++it) {
    if (++fields > limits.max_header_fields) {
      return std::make_pair(Error(ErrorCode::kPayloadTooLarge, "Too many request header fields"),
                            bhttp::status::request_header_fields_too_large);
    }
  }
  return std::nullopt;
}

asio::awaitable<void> linger_close(Stream& stream) {
  boost::system::error_code ec;
  stream.socket().shutdown(asio::socket_base::shutdown_send, ec);
  char scratch[16384];
  std::uint64_t discarded = 0;
  auto deadline = std::chrono::steady_clock::now() + kLingerTime;
  while (discarded < kLingerBytes && std::chrono::steady_clock::now() < deadline) {
    stream.expires_at(std::min(deadline, std::chrono::steady_clock::now() + kLingerIdle));
    auto [rec, n] = co_await stream.async_read_some(asio::buffer(scratch), kTuple);
    if (rec) break;
    discarded += n;
  }
  stream.socket().close(ec);
}

}  // namespace

asio::awaitable<void> Server::State::dispatch(Exchange& ex) {
  auto m = router.match(ex.method(), ex.path());
  if (m.outcome == Router<Handler>::Outcome::kNoRoute) {
    co_await ex.respond_error(Error(ErrorCode::kNotFound, "Not Found"));
    co_return;
  }
  if (m.outcome == Router<Handler>::Outcome::kWrongMethod) {
    co_await ex.respond_error(Error(ErrorCode::kMethodNotAllowed, "Method Not Allowed"));
    co_return;
  }
  ex.set_params(std::move(m.params));
  std::string failure;
  try {
    co_await (*m.handler)(ex);
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  if (!failure.empty()) {
    spdlog::error("unhandled exception in {} {}: {}", std::string(bhttp::to_string(ex.method())),
                  ex.path(), failure);
    if (ex.responded()) {
      ex.close_after();
    } else {
      co_await ex.respond_error(Error(ErrorCode::kInternal, "Internal server error"));
    }
  }
  if (!ex.responded()) {
    spdlog::error("handler for {} did not respond", ex.path());
    co_await ex.respond_error(Error(ErrorCode::kInternal, "Internal server error"));
  }
}

asio::awaitable<void> Server::State::serve(std::shared_ptr<State> /*self*/, Stream stream) {
  struct Count {
    std::atomic<std::size_t>& n;
    ~Count() { --n; }
  } count{connections};
  beast::flat_buffer buffer;
  bool linger = false;
  for (;;) {
    bhttp::request_parser<bhttp::buffer_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
    parser.body_limit(boost::none);  // handlers bound what they read
    stream.expires_after(limits.idle_timeout);
    auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
    if (ec) {
      if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
          ec == asio::error::eof || ec == asio::error::connection_reset ||
          ec == asio::error::operation_aborted || ec == bhttp::error::partial_message) {
        break;
      }
      // A protocol violation: answer it (best effort) and close.
      Exchange ex(stream, buffer, parser, limits, on_error);
      ex.close_after();
      if (ec == bhttp::error::header_limit) {
        // Beast parses (and consumes) the request line before the fields: when the limit
        // hit before a target was parsed, the request line alone did not fit.
        bool long_target = parser.get().target().empty();
        Error e(ErrorCode::kPayloadTooLarge,
                long_target ? "Request URL too long" : "Request header too large");
        e.context = ec.message();
        co_await ex.respond_error(e, long_target ? bhttp::status::uri_too_long
                                                 : bhttp::status::request_header_fields_too_large);
      } else {
        Error e = bad_request("Malformed HTTP request");
        e.context = ec.message();
        co_await ex.respond_error(e);
      }
      linger = true;
      break;
    }
    Exchange ex(stream, buffer, parser, limits, on_error);
    if (auto bad = check_head(parser.get(), limits)) {
      ex.close_after();
      co_await ex.respond_error(bad->first, bad->second);
      linger = !parser.is_done();
      break;
    }
    co_await dispatch(ex);
    if (buffer.capacity() > kIdleBufferCapacity && buffer.size() <= kIdleBufferCapacity) {
      buffer.shrink_to_fit();
    }
    if (!ex.keep_alive()) {
      linger = !parser.is_done();
      break;
    }
    // Discard a small unread body so the connection can serve the next request.
    std::uint64_t drained = 0;
    char scratch[16384];
    while (!parser.is_done() && drained <= kDrainLimit) {
      auto r = co_await ex.read_some(asio::buffer(scratch));
      if (!r) break;
      drained += *r;
    }
    if (!parser.is_done()) {
      linger = true;
      break;
    }
  }
  if (linger) {
    co_await linger_close(stream);
  } else {
    boost::system::error_code ec;
    stream.socket().shutdown(asio::socket_base::shutdown_both, ec);
    stream.socket().close(ec);
  }
}

template <typename Acceptor>
asio::awaitable<void> Server::State::accept_loop(Acceptor& acceptor, bool is_tcp) {
  auto self = shared_from_this();
  for (;;) {
    auto strand = asio::make_strand(io);
    auto [ec, socket] = co_await acceptor.async_accept(strand, kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space) {
        // Out of descriptors: back off instead of spinning on the ready listener.
        spdlog::warn("accept: {}; pausing", ec.message());
        asio::steady_timer t(io, std::chrono::milliseconds(100));
        co_await t.async_wait(kTuple);
      }
      continue;
    }
    if (is_tcp) {
      boost::system::error_code ignored;
      socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    }
    if (connections.load() >= limits.max_connections) {
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    ++connections;
    asio::co_spawn(strand,
                   serve(self, Stream(asio::generic::stream_protocol::socket(std::move(socket)))),
                   asio::detached);
  }
}

Server::Server(asio::io_context& io, Router<Handler> router, ErrorResponder on_error,
               ServerLimits limits)
    : state_(std::make_shared<State>(io, std::move(router), std::move(on_error), limits)) {}

Server::~Server() { stop(); }

Status Server::listen_tcp(const std::string& host, std::uint16_t port) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return Error(ErrorCode::kInvalidArgument, "invalid listen address: " + host);
  auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(state_->io);
  asio::ip::tcp::endpoint ep(addr, port);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    Error e(ErrorCode::kInternal,
            "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
    e.context = e.message;
    return e;
  }
  state_->tcp.push_back(std::move(acceptor));
  return {};
}

Status Server::listen_unix(const std::string& path, unsigned mode) {
  boost::system::error_code ec;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
  auto acceptor = std::make_unique<asio::local::stream_protocol::acceptor>(state_->io);
  asio::local::stream_protocol::endpoint ep(path);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    Error e(ErrorCode::kInternal, "cannot listen on unix socket " + path + ": " + ec.message());
    e.context = e.message;
    return e;
  }
  ::chmod(path.c_str(), mode);
  state_->unix_acceptors.push_back(std::move(acceptor));
  state_->unix_paths.push_back(path);
  return {};
}

std::vector<std::uint16_t> Server::tcp_ports() const {
  std::vector<std::uint16_t> out;
  for (const auto& a : state_->tcp) {
    boost::system::error_code ec;
    out.push_back(a->local_endpoint(ec).port());
  }
  return out;
}

void Server::start() {
  for (auto& a : state_->tcp) {
    asio::co_spawn(state_->io, state_->accept_loop(*a, true), asio::detached);
  }
  for (auto& a : state_->unix_acceptors) {
    asio::co_spawn(state_->io, state_->accept_loop(*a, false), asio::detached);
  }
}

void Server::stop() {
  boost::system::error_code ec;
  for (auto& a : state_->tcp) a->close(ec);
  for (auto& a : state_->unix_acceptors) a->close(ec);
  for (const auto& p : state_->unix_paths) ::unlink(p.c_str());
  state_->unix_paths.clear();
}

std::size_t Server::active_connections() const { return state_->connections.load(); }

}  // namespace shipyard::http
