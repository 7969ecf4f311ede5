// Bay's HTTP/1.1 client for one session's Ship (ship-api.md §10). Ship is untrusted:
// every response is size-bounded, every call has a deadline, and JSON answers are
// parsed strictly by the callers.
//
// Threading: a ShipClient belongs to the executor it was created with (Bay's I/O
// thread) and must only be used there. Connections are pooled (keep-alive).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/http/server.hpp"
#include "common/json.hpp"

namespace shipyard::bay {

using SteadyTime = std::chrono::steady_clock::time_point;

struct ShipResponse {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

class ShipConnection;

// A response whose body is read piece by piece (downloads), or handed to the server's
// splice path as a whole (http::SpliceSource: then read_some must not be used any more).
class ShipBodyReader : public http::SpliceSource {
 public:
  virtual ~ShipBodyReader() = default;
  virtual unsigned status() const = 0;
  virtual std::optional<std::uint64_t> content_length() const = 0;
  virtual std::string_view header(boost::beast::http::field f) const = 0;
  // Next piece of the body into `buf`; 0 at the end.
  virtual boost::asio::awaitable<Result<std::size_t>> read_some(
      boost::asio::mutable_buffer buf) = 0;
  // Reads the rest of the body (bounded), e.g. an error document.
  virtual boost::asio::awaitable<Result<std::string>> read_rest(std::size_t limit) = 0;
};

// A request whose body is sent piece by piece with chunked encoding (uploads).
class ShipBodyWriter {
 public:
  virtual ~ShipBodyWriter() = default;
  virtual boost::asio::awaitable<Status> write(boost::asio::const_buffer data) = 0;
  // Ends the body and reads the (bounded) response.
  virtual boost::asio::awaitable<Result<ShipResponse>> finish(std::size_t max_body) = 0;
};

class ShipClient {
 public:
  // `endpoint`: "unix:<path>" or "tcp:<host>:<port>".
  ShipClient(boost::asio::any_io_executor ex, std::string endpoint);
  ~ShipClient();

  const std::string& endpoint() const { return endpoint_; }

  // One request with a whole body. Errors: kUpstream (unreachable, reset, malformed or
  // oversized response), kTimeout (no answer before `deadline`).
  boost::asio::awaitable<Result<ShipResponse>> request(boost::beast::http::verb method,
                                                       std::string target, std::string body,
                                                       SteadyTime deadline,
                                                       std::size_t max_body = 16u << 20,
                                                       std::string session_header = {});

  // As request(), then parses the body as a JSON object (kUpstream if it is not one).
  // Non-2xx statuses are returned as values in `status` with the parsed body.
  struct JsonReply {
    unsigned status = 0;
    json::object body;
  };
  boost::asio::awaitable<Result<JsonReply>> request_json(boost::beast::http::verb method,
                                                         std::string target,
                                                         std::optional<json::object> body,
                                                         SteadyTime deadline,
                                                         std::size_t max_body = 16u << 20);

  // Streaming transfers. `session_header` (legacy API) is sent as X-SESSION-ID when set.
  boost::asio::awaitable<Result<std::unique_ptr<ShipBodyReader>>> get_stream(
      std::string target, SteadyTime deadline, std::string session_header = {});
  boost::asio::awaitable<Result<std::unique_ptr<ShipBodyWriter>>> post_stream(
      std::string target, std::string content_type, SteadyTime deadline,
      std::string session_header = {});

  // Drops every pooled connection (the runtime is gone or replaced).
  void reset();

 private:
  friend class ShipConnection;
  boost::asio::awaitable<Result<std::unique_ptr<ShipConnection>>> acquire(SteadyTime deadline,
                                                                          bool fresh);
  void release(std::unique_ptr<ShipConnection> c);

  boost::asio::any_io_executor ex_;
  std::string endpoint_;
  std::vector<std::unique_ptr<ShipConnection>> idle_;
};

// Maps an Error of a Ship call to the v1 vocabulary of ship-api.md §10.4.
Error ship_unreachable(std::string_view what, const boost::system::error_code& ec);

}  // namespace shipyard::bay
