#include "ship/shell/process_registry.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <system_error>
#include <utility>

#include "common/process/spawn.hpp"
#include "common/random.hpp"
#include "common/unique_fd.hpp"
#include "ship/shell/output.hpp"
#include "ship/shell/process_tree.hpp"

namespace shipyard::ship::shell {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct ProcessRegistry::Entry {
  std::string id;
  std::string session;
  std::string command;
  int pid = 0;
  std::optional<process::ChildProcess> child;
  std::optional<int> exit_code;
  std::optional<Clock::time_point> finished_at;
};

asio::awaitable<void> ProcessRegistry::watch_exit(std::shared_ptr<Entry> entry) {
  process::ExitStatus status = co_await entry->child->wait();
  entry->exit_code = status.code();
  entry->finished_at = Clock::now();
}

ProcessRegistry::ProcessRegistry(asio::any_io_executor ex, EnvironmentBase base,
                                 std::string log_dir, Limits limits)
    : ex_(std::move(ex)), base_(std::move(base)), log_dir_(std::move(log_dir)), limits_(limits) {}

ProcessRegistry::~ProcessRegistry() = default;

std::string ProcessRegistry::log_path(const std::string& process_id) const {
  return log_dir_ + "/" + process_id + ".log";
}

ProcessInfo ProcessRegistry::info(const Entry& e) {
  ProcessInfo p;
  p.process_id = e.id;
  p.pid = e.pid;
  p.command = e.command;
  if (!e.finished_at) {
    p.status = kStatusRunning;
  } else {
    p.exit_code = e.exit_code;
    p.status = e.exit_code == 0 ? kStatusCompleted : kStatusFailed;
  }
  return p;
}

void ProcessRegistry::prune(Clock::time_point now) {
  std::erase_if(entries_, [&](const std::shared_ptr<Entry>& e) {
    return e->finished_at && now - *e->finished_at >= limits_.retention;
  });
}

Result<ProcessInfo> ProcessRegistry::start(ExecRequest req, std::string session) {
  prune(Clock::now());
  // Finished entries make room first, oldest first (entries_ is in start order).
  for (auto it = entries_.begin();
       entries_.size() >= limits_.max_processes && it != entries_.end();) {
    if ((*it)->finished_at) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  if (entries_.size() >= limits_.max_processes) {
    return Error(ErrorCode::kUnavailable, "cannot start process: too many background processes (" +
                                              std::to_string(limits_.max_processes) + ")");
  }

  req.timeout.reset();
  auto spec = make_spawn_spec(req, base_, limits_);
  if (!spec) return std::move(spec).error();

  std::error_code ec;
  std::filesystem::create_directories(log_dir_, ec);
  if (ec) {
    Error e(ErrorCode::kInternal, "cannot start process: cannot create the log directory");
    e.context = log_dir_ + ": " + ec.message();
    return e;
  }
  std::string id;
  for (bool unique = false; !unique;) {
    id = random_hex(8);
    unique = std::none_of(entries_.begin(), entries_.end(),
                          [&](const std::shared_ptr<Entry>& e) { return e->id == id; });
  }
  const std::string path = log_path(id);
  UniqueFd log(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!log) {
    Error e = system_error("open log file", errno);
    e.message = "cannot start process: cannot create the log file";
    e.context = path + ": " + e.context;
    return e;
  }
  auto pipe = process::make_pipe(process::ParentEnd::kRead);
  if (!pipe) {
    ::unlink(path.c_str());
    return Error(ErrorCode::kInternal, "cannot start process: " + pipe.error().message);
  }
  spec->fds = {{1, pipe->write.get()}, {2, pipe->write.get()}};
  auto child = process::spawn(ex_, *spec);
  pipe->write.reset();
  if (!child) {
    ::unlink(path.c_str());
    return std::move(child).error();
  }

  auto entry = std::make_shared<Entry>();
  entry->id = id;
  entry->session = std::move(session);
  entry->command = req.command;
  entry->pid = child->pid();
  entry->child.emplace(std::move(*child));
  entries_.push_back(entry);

  asio::posix::stream_descriptor reader(ex_, pipe->read.release());
  asio::co_spawn(ex_, pump_to_file(std::move(reader), std::move(log), limits_.log_cap),
                 asio::detached);
  asio::co_spawn(ex_, watch_exit(entry), asio::detached);
  return info(*entry);
}

std::vector<ProcessInfo> ProcessRegistry::list(const std::optional<std::string>& session) {
  prune(Clock::now());
  std::vector<ProcessInfo> out;
  std::vector<const Entry*> shown_finished;
  for (const auto& e : entries_) {
    if (session && e->session != *session) continue;
    out.push_back(info(*e));
    if (e->finished_at) shown_finished.push_back(e.get());
  }
  // A finished process has now appeared in a listing once: it may go.
  std::erase_if(entries_, [&](const std::shared_ptr<Entry>& e) {
    return std::find(shown_finished.begin(), shown_finished.end(), e.get()) != shown_finished.end();
  });
  return out;
}

std::vector<std::shared_ptr<ProcessRegistry::Entry>> ProcessRegistry::running() const {
  std::vector<std::shared_ptr<Entry>> out;
  for (const auto& e : entries_) {
    if (e->child && !e->child->exited()) out.push_back(e);
  }
  return out;
}

void ProcessRegistry::terminate_all() {
  auto live = running();
  std::vector<process::ChildProcess*> roots;
  for (const auto& e : live) roots.push_back(&*e->child);
  if (!roots.empty()) kill_trees_blocking(roots, limits_.term_grace);
}

asio::awaitable<void> ProcessRegistry::async_terminate_all() {
  // Held for the duration: list() may prune entries meanwhile.
  auto live = running();
  std::vector<process::ChildProcess*> roots;
  for (const auto& e : live) roots.push_back(&*e->child);
  if (roots.empty()) co_return;
  co_await kill_trees(std::move(roots), limits_.term_grace);
}

}  // namespace shipyard::ship::shell
