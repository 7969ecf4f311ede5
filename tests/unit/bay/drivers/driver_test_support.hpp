// Helpers for the process driver tests: driving coroutines on an io_context owned by
// the test thread, and a tiny blocking HTTP/1.1 client over unix sockets (Ship's
// transport) with a deadline on every call.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

#include "common/json.hpp"
#include "common/unique_fd.hpp"

namespace shipyard::bay::testing {

namespace detail {
template <typename T>
boost::asio::awaitable<void> store_result(boost::asio::awaitable<T> a, std::optional<T>* out) {
  out->emplace(co_await std::move(a));
}
}  // namespace detail

// Runs `a` on `io` (driven by the calling thread) until it completes.
template <typename T>
T run(boost::asio::io_context& io, boost::asio::awaitable<T> a,
      std::chrono::seconds limit = std::chrono::seconds(60)) {
  std::optional<T> out;
  boost::asio::co_spawn(io, detail::store_result(std::move(a), &out), boost::asio::detached);
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!out && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_one_for(std::chrono::milliseconds(20));
  }
  if (!out) throw std::runtime_error("coroutine did not complete in time");
  return std::move(*out);
}

struct HttpReply {
  int status = 0;  // 0: no answer (connect failed, timeout)
  std::string body;
};

// One request on a fresh connection ("Connection: close"), read until EOF.
inline HttpReply unix_http(const std::string& socket_path, const std::string& method,
                           const std::string& target, const std::string& body = {},
                           std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  HttpReply reply;
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (!fd || socket_path.size() >= sizeof addr.sun_path) return reply;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return reply;
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: ship\r\nConnection: close\r\n";
  if (!body.empty()) {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  for (std::size_t done = 0; done < req.size();) {
    ssize_t n = ::send(fd.get(), req.data() + done, req.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return reply;
    done += static_cast<std::size_t>(n);
  }
  std::string raw;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return reply;
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return reply;
    char buf[8192];
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) return reply;
    if (n == 0) break;
    raw.append(buf, static_cast<std::size_t>(n));
  }
  auto head_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || head_end == std::string::npos) return reply;
  reply.status = std::atoi(raw.c_str() + 9);
  std::string head = raw.substr(0, head_end);
  std::string rest = raw.substr(head_end + 4);
  bool chunked = head.find("chunked") != std::string::npos;
  if (!chunked) {
    reply.body = rest;
    return reply;
  }
  // Chunked transfer coding: <hex size>\r\n<data>\r\n ... 0\r\n\r\n
  for (std::size_t pos = 0;;) {
    auto eol = rest.find("\r\n", pos);
    if (eol == std::string::npos) break;
    std::size_t size = std::strtoul(rest.c_str() + pos, nullptr, 16);
    if (size == 0) break;
    reply.body += rest.substr(eol + 2, size);
    pos = eol + 2 + size + 2;
  }
  return reply;
}

struct ShellResult {
  bool success = false;
  int return_code = -999;
  std::string stdout_text;
  std::string stderr_text;
  std::string raw;
};

// POST /shell/exec through Ship's unix socket.
inline ShellResult ship_shell(const std::string& socket_path, const std::string& command,
                              int timeout_s = 30) {
  json::object req;
  req["command"] = command;
  req["timeout"] = timeout_s;
  auto r = unix_http(socket_path, "POST", "/shell/exec", json::serialize(req),
                     std::chrono::seconds(timeout_s + 15));
  ShellResult out;
  out.raw = std::to_string(r.status) + " " + r.body;
  if (r.status != 200) return out;
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  if (ec || !v.is_object()) return out;
  const auto& o = v.as_object();
  if (const auto* s = o.if_contains("success"); s && s->is_bool()) out.success = s->as_bool();
  if (const auto* c = o.if_contains("return_code"); c && c->is_int64()) {
    out.return_code = static_cast<int>(c->as_int64());
  }
  if (const auto* s = o.if_contains("stdout"); s && s->is_string()) {
    out.stdout_text = std::string(s->as_string());
  }
  if (const auto* s = o.if_contains("stderr"); s && s->is_string()) {
    out.stderr_text = std::string(s->as_string());
  }
  return out;
}

// Polls GET /health until it answers 200 or the deadline passes.
inline bool wait_healthy(const std::string& socket_path,
                         std::chrono::milliseconds limit = std::chrono::seconds(15)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (unix_http(socket_path, "GET", "/health", {}, std::chrono::seconds(2)).status == 200) {
      return true;
    }
    ::usleep(20 * 1000);  // polling a condition with a deadline, not synchronising on time
  }
  return false;
}

}  // namespace shipyard::bay::testing
