#include "ship/kernel/kernel.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <string.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>

namespace shipyard::ship::kernel {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kInterruptRepeat{250};

// `python3 -c kLauncher <driver dir> <driver module> --control-in 3 --control-out 4` runs
// the driver as __main__, like `python3 <driver>.py` would, but through the import
// system (runpy), which uses the bytecode compiled at build time. -c puts "" (the working
// directory) first on sys.path; it goes, and the driver's directory takes its place (the
// driver removes it from sys.path, as a script's own directory).
constexpr const char* kLauncher =
    "import runpy, sys\n"
    "if sys.path[:1] == ['']: del sys.path[0]\n"
    "sys.path.insert(0, sys.argv.pop(1))\n"
    "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)\n";

// Completes "the Python kernel ...".
std::string describe_exit(const process::ExitStatus& s) {
  if (s.signal == SIGKILL) return "was killed by SIGKILL (for example by the out-of-memory killer)";
  if (s.signal != 0)
    return std::string("was killed by signal ") + std::to_string(s.signal) + " (" +
           ::strsignal(s.signal) + ")";
  return "exited with status " + std::to_string(s.exit_code);
}

ExecOutcome failed(std::string error) {
  ExecOutcome o;
  o.success = false;
  o.error = std::move(error);
  return o;
}

std::string timeout_message(std::chrono::seconds t) {
  return "Code execution timed out after " + std::to_string(t.count()) + " seconds";
}
}  // namespace

Kernel::Kernel(asio::any_io_executor ex, KernelOptions opts, std::string id, std::string cwd,
               std::vector<std::string> env)
    : ex_(ex),
      opts_(std::move(opts)),
      id_(std::move(id)),
      cwd_(std::move(cwd)),
      env_(std::move(env)),
      ready_or_dead_(ex) {}

Kernel::~Kernel() {
  if (child_ && !child_->exited()) child_->signal_group(SIGKILL);
}

std::string Kernel::death_message() const {
  return "Kernel died: " + death_reason_ +
         ". The interpreter state was lost; the next call starts a fresh interpreter.";
}

Status Kernel::start() {
  spawned_at_ = Clock::now();
  auto to_kernel = process::make_pipe(process::ParentEnd::kWrite);
  if (!to_kernel) return std::move(to_kernel).error();
  auto from_kernel = process::make_pipe(process::ParentEnd::kRead);
  if (!from_kernel) return std::move(from_kernel).error();
  process::SpawnSpec spec;
  spec.executable = opts_.python;
  // The driver is run through the import system rather than as a script: that uses the
  // bytecode compiled at build time (<app>/kernel/__pycache__), a script is compiled on
  // every start (about 10 ms of a cold start).
  const std::filesystem::path driver(opts_.driver);
  spec.argv = {opts_.python,
               "-c",
               kLauncher,
               driver.parent_path().string(),
               driver.stem().string(),
               "--control-in",
               "3",
               "--control-out",
               "4"};
  spec.env = env_;
  spec.cwd = cwd_;
  spec.new_process_group = true;
  // User code dies before Ship when memory runs out (bay-api-v1.md §14.6).
  spec.oom_score_adj = 500;
  spec.fds = {{3, to_kernel->read.get()}, {4, from_kernel->write.get()}, {1, 2}, {2, 2}};
  auto child = process::spawn(ex_, spec);
  if (!child) {
    mark_dead(child.error().message);
    return std::move(child).error().with_context("starting kernel " + id_);
  }
  child_.emplace(std::move(*child));
  to_kernel_.emplace(ex_, to_kernel->write.release());
  from_kernel_.emplace(ex_, from_kernel->read.release());
  asio::co_spawn(ex_, read_loop(shared_from_this()), asio::detached);
  return {};
}

asio::awaitable<void> Kernel::read_loop(std::shared_ptr<Kernel> /*keep_alive*/) {
  std::string reason;
  for (;;) {
    std::array<unsigned char, 4> header{};
    auto [ec, n] = co_await asio::async_read(*from_kernel_, asio::buffer(header), kTuple);
    if (ec) break;
    auto len = decode_length(header);
    if (!len) {
      reason = len.error().message;
      break;
    }
    std::string payload(*len, '\0');
    auto [ec2, n2] = co_await asio::async_read(*from_kernel_, asio::buffer(payload), kTuple);
    if (ec2) break;
    auto msg = decode_payload(payload);
    if (!msg) {
      reason = msg.error().message;
      break;
    }
    std::string_view type = msg->at("type").as_string();
    if (type == "ready") {
      if (state_ == KernelState::kStarting) {
        state_ = KernelState::kReady;
        ever_ready_ = true;
        ready_or_dead_.set();
      }
    } else if (type == "result") {
      auto id = msg->if_contains("id");
      if (inflight_ && id != nullptr && id->is_int64() &&
          static_cast<std::uint64_t>(id->as_int64()) == inflight_->id) {
        inflight_->result = std::move(*msg);
        inflight_->done.set();
      } else {
        // A result nobody waits for means the stream is out of step: the kernel can
        // no longer be trusted to pair answers with requests.
        reason = "Kernel protocol error: unexpected result";
        break;
      }
    }
  }
  if (state_ != KernelState::kDead) {
    if (child_ && !child_->exited()) child_->signal_group(SIGKILL);
    if (reason.empty() && child_) {
      auto status = co_await child_->wait();
      reason = "the Python kernel " + describe_exit(status);
    } else if (reason.empty()) {
      reason = "the Python kernel stopped";
    }
    mark_dead(reason);
  }
  if (child_) co_await child_->wait();
}

void Kernel::mark_dead(std::string reason) {
  if (state_ == KernelState::kDead) return;
  state_ = KernelState::kDead;
  death_reason_ = std::move(reason);
  spdlog::info("kernel {}: {}", id_, death_reason_);
  ready_or_dead_.set();
  if (inflight_) inflight_->done.set();
  boost::system::error_code ec;
  if (to_kernel_) to_kernel_->close(ec);
  if (from_kernel_) from_kernel_->cancel(ec);
}

void Kernel::kill(std::string reason) {
  if (child_ && !child_->exited()) child_->signal_group(SIGKILL);
  mark_dead(std::move(reason));
}

asio::awaitable<bool> Kernel::wait_ready(Clock::time_point deadline) {
  co_await ready_or_dead_.wait_until(deadline);
  co_return state_ == KernelState::kReady;
}

asio::awaitable<bool> Kernel::acquire(Clock::time_point deadline) {
  if (!busy_ && queue_.empty()) {
    busy_ = true;
    co_return true;
  }
  auto w = std::make_shared<Waiter>(ex_);
  queue_.push_back(w);
  bool granted = co_await w->granted.wait_until(deadline);
  if (!granted) {
    // Still queued: leave the line without having run.
    std::erase(queue_, w);
    co_return false;
  }
  co_return true;
}

void Kernel::release() {
  if (queue_.empty()) {
    busy_ = false;
    return;
  }
  auto next = queue_.front();
  queue_.pop_front();
  next->granted.set();  // busy_ stays true: ownership passes to `next`
}

asio::awaitable<Result<ExecOutcome>> Kernel::execute(std::string code, bool silent,
                                                     std::chrono::seconds timeout) {
  auto self = shared_from_this();
  const auto deadline = Clock::now() + timeout;
  if (!co_await acquire(deadline)) co_return failed(timeout_message(timeout));
  struct Turn {
    Kernel& k;
    ~Turn() { k.release(); }
  } turn{*this};
  // A call granted its turn exactly at the deadline is still "expired while queued".
  if (Clock::now() >= deadline) co_return failed(timeout_message(timeout));

  const auto start_limit = spawned_at_ + opts_.start_timeout;
  if (!co_await wait_ready(std::min(deadline, start_limit))) {
    if (state_ != KernelState::kDead && Clock::now() >= start_limit) {
      // A kernel that never starts must not hold every later call hostage.
      kill("the Python kernel did not start within " + std::to_string(opts_.start_timeout.count()) +
           " ms");
    }
    if (state_ == KernelState::kDead) {
      if (ever_ready_) co_return failed(death_message());
      // The interpreter could not be started at all (ship-api.md §8.2: 500).
      Error e(ErrorCode::kInternal, "Failed to execute code: " + death_reason_);
      co_return e;
    }
    co_return failed(timeout_message(timeout) + " (the interpreter was still starting)");
  }

  auto inflight = std::make_shared<Inflight>(ex_, ++next_id_);
  inflight_ = inflight;
  struct Clear {
    Kernel& k;
    ~Clear() { k.inflight_.reset(); }
  } clear{*this};

  json::object request{{"type", "execute"},
                       {"id", static_cast<std::int64_t>(inflight->id)},
                       {"code", std::move(code)},
                       {"silent", silent},
                       {"output_limit", static_cast<std::int64_t>(opts_.output_limit)}};
  std::string frame = encode_frame(request);
  // The write has a deadline too: a cell larger than the pipe buffer sent to a driver that
  // stopped reading would otherwise hold this call (and every call queued behind it)
  // forever. A driver that reads nothing for the grace period past the deadline is hung;
  // a half-written frame leaves the stream out of step anyway, so it is killed.
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer write_limit(ex_, deadline + opts_.interrupt_grace);
  auto write = asio::async_write(*to_kernel_, asio::buffer(frame), kTuple);
  auto expiry = write_limit.async_wait(kTuple);
  auto written = co_await (std::move(write) || std::move(expiry));
  if (written.index() == 1) {
    kill("the Python kernel stopped reading requests");
    co_return failed(timeout_message(timeout) +
                     "; the interpreter was restarted and its state was lost");
  }
  if (auto wec = std::get<0>(std::get<0>(written)); wec) {
    kill("the Python kernel stopped accepting requests");
  }

  bool answered = co_await inflight->done.wait_until(deadline);
  bool timed_out = !answered;
  if (timed_out && state_ != KernelState::kDead) {
    // Interrupt the cell; the interpreter and its state survive a KeyboardInterrupt.
    // The SIGINT is repeated during the grace period (docs/kernel-protocol.md §4.1): the
    // driver ignores one that lands before the cell's code runs (e.g. a call that got its
    // turn just before its deadline), and a single lost SIGINT must not cost the state.
    const auto grace_end = Clock::now() + opts_.interrupt_grace;
    do {
      child_->signal(SIGINT);
      answered =
          co_await inflight->done.wait_until(std::min(grace_end, Clock::now() + kInterruptRepeat));
    } while (!answered && Clock::now() < grace_end);
    if (!answered) {
      kill("the Python kernel did not respond to an interrupt");
      co_return failed(timeout_message(timeout) +
                       "; the interpreter was restarted and its state was lost");
    }
  }
  if (!inflight->result) co_return failed(death_message());
  auto outcome = parse_result(*inflight->result);
  if (!outcome) {
    kill(outcome.error().message);
    co_return std::move(outcome).error();
  }
  if (timed_out && (outcome->interrupted || !outcome->success)) {
    outcome->success = false;
    std::string tb = outcome->error.value_or("");
    outcome->error = timeout_message(timeout) + (tb.empty() ? "" : "\n" + tb);
  }
  co_return std::move(*outcome);
}

}  // namespace shipyard::ship::kernel
