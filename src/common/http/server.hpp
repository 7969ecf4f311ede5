// A small HTTP/1.1 server on Asio/Beast coroutines, shared by Ship and Bay.
//
// Threading: the Server and every connection run on the executors of the io_context
// passed in; each connection is one coroutine on its own strand, so a handler never
// runs concurrently with another step of the same exchange. With one thread running
// the io_context (Ship) nothing needs locking; with several (Bay) handlers must only
// touch thread-safe shared state.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "common/http/router.hpp"

namespace shipyard::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

using Stream = beast::basic_stream<asio::generic::stream_protocol>;

struct Response {
  bhttp::status status = bhttp::status::ok;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;

  static Response json(bhttp::status status, const boost::json::value& body);
  static Response no_content();
};

struct ServerLimits {
  // The whole request head (request line and header fields). Beyond it: 431, or 414 when
  // the request line alone does not fit.
  std::size_t header_limit = 16 * 1024;
  // The request target (path and query): 414 beyond it.
  std::size_t max_target = 12 * 1024;
  // Header fields per request: 431 beyond it.
  std::size_t max_header_fields = 100;
  // How long a kept-alive connection may sit idle between requests.
  std::chrono::seconds idle_timeout{120};
  // How long one read or write may make no progress.
  std::chrono::seconds io_timeout{60};
  // Connections beyond this are accepted and closed at once.
  std::size_t max_connections = 4096;
};

class Exchange;

// The rest of a body that sits in a socket (a proxied download): Exchange::splice_body
// moves it to the client with splice(2) through a pipe, never through user space.
class SpliceSource {
 public:
  virtual ~SpliceSource() = default;
  // Body bytes already read from the socket (with the header), at most `max`; consumed.
  virtual std::string take_buffered(std::uint64_t max) = 0;
  // The socket, non-blocking.
  virtual int splice_fd() = 0;
  // Waits until the socket is readable; false when the source's idle limit passed.
  virtual asio::awaitable<bool> wait_readable() = 0;
};
using Handler = std::function<asio::awaitable<void>(Exchange&)>;
// Turns an Error into the service's wire envelope (Ship: {"detail"}, Bay: {"error"}).
using ErrorResponder = std::function<Response(const Error&, const Exchange&)>;

// One request and its response on a connection. Handlers read the body at most once,
// either whole (read_body) or streamed (read_some), and respond exactly once.
class Exchange {
 public:
  Exchange(Stream& stream, beast::flat_buffer& buffer,
           bhttp::request_parser<bhttp::buffer_body>& parser, const ServerLimits& limits,
           const ErrorResponder& on_error);

  bhttp::verb method() const { return req().method(); }
  std::string_view target() const { return req().target(); }
  std::string_view path() const { return path_; }
  std::string_view query_string() const { return query_; }
  // The percent-decoded value of the first query parameter `name` (`+` is a space).
  std::optional<std::string> query(std::string_view name) const;
  std::string_view header(bhttp::field f) const;
  std::string_view header(std::string_view name) const;
  const PathParams& params() const { return params_; }
  void set_params(PathParams p) { params_ = std::move(p); }
  std::optional<std::uint64_t> content_length() const;
  const bhttp::request_header<>& request_header() const { return req(); }

  // Reads the whole body; kPayloadTooLarge beyond `limit` bytes.
  asio::awaitable<Result<std::string>> read_body(std::size_t limit);
  // Reads the next piece of the body into `buf`; 0 once the body is complete.
  asio::awaitable<Result<std::size_t>> read_some(asio::mutable_buffer buf);
  bool body_complete() const { return parser_.is_done(); }

  // Sends a complete response.
  asio::awaitable<void> respond(Response r);
  asio::awaitable<void> respond_error(const Error& e) { co_await respond(on_error_(e, *this)); }
  // The service's envelope for `e`, sent with `status` (414/431 have no ErrorCode of
  // their own; the envelope carries kPayloadTooLarge's code).
  asio::awaitable<void> respond_error(const Error& e, bhttp::status status) {
    Response r = on_error_(e, *this);
    r.status = status;
    co_await respond(std::move(r));
  }
  // Sends `head` with Content-Length `size`, then `size` bytes of `fd` from its start,
  // with sendfile(2). A file that shrinks meanwhile ends the connection.
  asio::awaitable<void> respond_file(Response head, int fd, std::uint64_t size);
  // Streams a response whose length is known in advance: begin, then write chunks.
  asio::awaitable<Status> begin_response(Response head, std::uint64_t content_length);
  asio::awaitable<Status> write_body(asio::const_buffer data);
  // After begin_response: moves `count` body bytes from `src` to the client (zero-copy:
  // socket → pipe → socket). Returns the bytes sent; fewer (the source ended early, a
  // side failed or stalled past the I/O timeout) closes the connection after the exchange.
  asio::awaitable<std::uint64_t> splice_body(SpliceSource& src, std::uint64_t count);

  bool responded() const { return responded_; }
  bool keep_alive() const { return keep_alive_; }
  // Headers added to every response of this exchange (e.g. X-Request-Id).
  void add_response_header(std::string name, std::string value) {
    extra_headers_.emplace_back(std::move(name), std::move(value));
  }
  // Makes the connection close after this exchange.
  void close_after() { keep_alive_ = false; }

  asio::any_io_executor executor() const;
  int native_socket() const;

  // Per-exchange correlation id chosen by the service (Bay echoes X-Request-Id).
  std::string request_id;

 private:
  const bhttp::request<bhttp::buffer_body>& req() const { return parser_.get(); }
  asio::awaitable<Status> send_continue_if_expected();
  void apply_headers(bhttp::response_header<>& h, const Response& r);

  Stream& stream_;
  beast::flat_buffer& buffer_;
  bhttp::request_parser<bhttp::buffer_body>& parser_;
  const ServerLimits& limits_;
  const ErrorResponder& on_error_;
  std::string path_;
  std::string query_;
  PathParams params_;
  std::vector<std::pair<std::string, std::string>> extra_headers_;
  bool keep_alive_ = true;
  bool responded_ = false;
  bool continue_sent_ = false;
  std::uint64_t streamed_remaining_ = 0;
};

class Server {
 public:
  Server(asio::io_context& io, Router<Handler> router, ErrorResponder on_error,
         ServerLimits limits = {});
  ~Server();

  // Binds and listens; the accept loops start with start(). Port 0 picks a free port.
  Status listen_tcp(const std::string& host, std::uint16_t port);
  // Binds a unix socket at `path` (a stale socket file there is replaced).
  Status listen_unix(const std::string& path, unsigned mode = 0660);
  // The actual ports of the TCP listeners, in listen order.
  std::vector<std::uint16_t> tcp_ports() const;

  void start();
  // Stops accepting. Connections in progress finish their current exchange.
  void stop();

  std::size_t active_connections() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace shipyard::http
