#include "ship/shell/runner.hpp"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <utility>

#include "common/process/spawn.hpp"
#include "ship/shell/output.hpp"
#include "ship/shell/process_tree.hpp"

namespace shipyard::ship::shell {
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

// The two output streams of one command, shared by their reader coroutines (which may
// outlive the run() that started them) and run().
struct Capture {
  struct Stream {
    std::string data;
    std::size_t omitted = 0;
    bool eof = false;
    bool abandoned = false;  // the answer was taken: keep draining, discard
    bool counted = false;    // counted in the Runner's lingering drains
    std::optional<asio::posix::stream_descriptor> fd;
  };

  Capture(asio::any_io_executor ex, std::size_t cap_bytes, std::shared_ptr<std::size_t> linger)
      : wake(std::move(ex)), cap(cap_bytes), lingering(std::move(linger)) {}

  asio::steady_timer wake;  // cancelled by a reader at EOF to wake run()
  std::array<Stream, 2> streams;
  std::size_t cap;
  std::shared_ptr<std::size_t> lingering;
};

asio::awaitable<void> read_stream(std::shared_ptr<Capture> capture, std::size_t index) {
  auto& s = capture->streams[index];
  std::array<char, 65536> buf;
  for (;;) {
    auto [ec, n] =
        co_await s.fd->async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    if (n > 0 && !s.abandoned) {
      append_capped(s.data, capture->cap, std::string_view(buf.data(), n), s.omitted);
    }
    if (ec) break;  // EOF, or closed by run()
  }
  s.eof = true;
  s.fd.reset();
  if (s.counted) --*capture->lingering;
  capture->wake.cancel();
}

ExecResult not_started(std::string message) {
  ExecResult r;
  r.success = false;
  r.return_code = -1;
  r.error = std::move(message);
  return r;
}

}  // namespace

Runner::Runner(asio::any_io_executor ex, EnvironmentBase base, Limits limits)
    : ex_(std::move(ex)),
      base_(std::move(base)),
      limits_(limits),
      lingering_(std::make_shared<std::size_t>(0)) {}

asio::awaitable<ExecResult> Runner::run(ExecRequest req) {
  auto spec = make_spawn_spec(req, base_, limits_);
  if (!spec) co_return not_started(spec.error().message);
  auto out = process::make_pipe(process::ParentEnd::kRead);
  if (!out) co_return not_started("cannot start process: " + out.error().message);
  auto err = process::make_pipe(process::ParentEnd::kRead);
  if (!err) co_return not_started("cannot start process: " + err.error().message);
  spec->fds = {{1, out->write.get()}, {2, err->write.get()}};
  auto child = process::spawn(ex_, *spec);
  // Only the child may hold the write ends, or EOF would never come.
  out->write.reset();
  err->write.reset();
  if (!child) co_return not_started(child.error().message);

  ExecResult result;
  result.pid = child->pid();
  auto capture = std::make_shared<Capture>(ex_, limits_.output_cap, lingering_);
  capture->streams[0].fd.emplace(ex_, out->read.release());
  capture->streams[1].fd.emplace(ex_, err->read.release());
  asio::co_spawn(ex_, read_stream(capture, 0), asio::detached);
  asio::co_spawn(ex_, read_stream(capture, 1), asio::detached);

  // A cancelled wait must still lead to the clean-up below, so cancellation is turned
  // into a value instead of an exception at the next co_await.
  co_await asio::this_coro::throw_if_cancelled(false);
  enum class End { kExited, kTimedOut, kCancelled };
  End end = End::kExited;
  std::optional<process::ExitStatus> status;
  try {
    if (req.timeout) {
      asio::steady_timer timer(ex_);
      timer.expires_after(*req.timeout);
      auto first = co_await (child->wait() || timer.async_wait(asio::use_awaitable));
      if (first.index() == 0) {
        status = std::get<0>(first);
      } else {
        end = End::kTimedOut;
      }
    } else {
      status = co_await child->wait();
    }
  } catch (const boost::system::system_error&) {
    end = End::kCancelled;
  }
  // Everything from here on is bounded in time and must run to the end.
  co_await asio::this_coro::reset_cancellation_state(
      [](asio::cancellation_type) { return asio::cancellation_type::none; });

  if (end != End::kExited) {
    co_await kill_tree(*child, limits_.term_grace);
    child->try_wait();  // kill_tree saw it dead; if not, ~ChildProcess reaps it later
  }

  const auto drain_deadline = std::chrono::steady_clock::now() + limits_.drain_after_exit;
  while (!(capture->streams[0].eof && capture->streams[1].eof) &&
         std::chrono::steady_clock::now() < drain_deadline) {
    capture->wake.expires_at(drain_deadline);
    co_await capture->wake.async_wait(asio::as_tuple(asio::use_awaitable));
  }

  std::string* texts[2] = {&result.stdout_text, &result.stderr_text};
  for (std::size_t i = 0; i < 2; ++i) {
    auto& s = capture->streams[i];
    *texts[i] = finish_output(s.data, s.omitted);
    std::string().swap(s.data);
    if (s.eof) continue;
    // Background children of the command still hold this pipe. Keep draining it so
    // they neither block nor die of SIGPIPE; beyond the budget, close it instead.
    s.abandoned = true;
    if (*lingering_ < limits_.max_lingering_drains) {
      ++*lingering_;
      s.counted = true;
    } else {
      boost::system::error_code ignored;
      s.fd->close(ignored);
    }
  }

  if (end == End::kExited) {
    result.return_code = status->code();
    result.success = *result.return_code == 0;
  } else {
    result.return_code = -1;
    result.success = false;
    result.error = std::string(end == End::kTimedOut ? kTimedOutMessage : kCancelledMessage);
  }
  co_return result;
}

}  // namespace shipyard::ship::shell
