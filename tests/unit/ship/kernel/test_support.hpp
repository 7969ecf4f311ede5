// Helpers shared by the kernel tests: driving an io_context until coroutines are done or a
// condition holds (always with deadlines), temporary directories, and /proc inspection of
// the test process (open fds, child processes).
#pragma once

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace shipyard::ship::kernel::testing {

namespace asio = boost::asio;
using namespace std::chrono_literals;

inline const std::string kFakeKernel = SHIPYARD_KERNEL_TEST_DIR "/fake_kernel.py";
inline const std::string kRealDriver = SHIPYARD_KERNEL_DRIVER;
inline const std::string kPython = "/usr/bin/python3";

// The outcome of a coroutine started with spawn_call. Shared with the coroutine, so a test
// that gives up on it (deadline) leaves nothing dangling.
template <typename T>
struct Call {
  std::optional<T> value;
  std::exception_ptr error;
  bool done = false;
  std::chrono::steady_clock::time_point finished_at;
};

template <typename T>
asio::awaitable<void> fill_call(asio::awaitable<T> aw, std::shared_ptr<Call<T>> call) {
  try {
    call->value.emplace(co_await std::move(aw));
  } catch (...) {
    call->error = std::current_exception();
  }
  call->finished_at = std::chrono::steady_clock::now();
  call->done = true;
}

// Starts `aw` on `ioc` (it runs when the context is run).
template <typename T>
std::shared_ptr<Call<T>> spawn_call(asio::io_context& ioc, asio::awaitable<T> aw) {
  auto call = std::make_shared<Call<T>>();
  asio::co_spawn(ioc, fill_call(std::move(aw), call), asio::detached);
  return call;
}

// Runs `ioc` until `pred` holds; false if `limit` passed first.
inline bool run_until(asio::io_context& ioc, const std::function<bool()>& pred,
                      std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(5ms);
  }
  return true;
}

// Runs `ioc` until `aw` completes (rethrowing its exception); throws if `limit` passes.
template <typename T>
T run_sync(asio::io_context& ioc, asio::awaitable<T> aw, std::chrono::milliseconds limit = 20s) {
  auto call = spawn_call(ioc, std::move(aw));
  if (!run_until(
          ioc, [&] { return call->done; }, limit)) {
    throw std::runtime_error("coroutine did not complete in time");
  }
  if (call->error) std::rethrow_exception(call->error);
  return std::move(*call->value);
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ship-kernel-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The codes a fake kernel rooted at `dir` received, in order (its fake.log).
inline std::vector<std::string> fake_log_codes(const std::string& dir) {
  std::vector<std::string> codes;
  std::istringstream in(read_file(dir + "/fake.log"));
  for (std::string line; std::getline(in, line);) {
    auto second_tab = line.find('\t', line.find('\t') + 1);
    codes.push_back(second_tab == std::string::npos ? line : line.substr(second_tab + 1));
  }
  return codes;
}

// Number of descriptors open in this process.
inline int count_open_fds() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

struct ProcInfo {
  pid_t pid;
  char state;
};

// The direct children of this process with their state ('Z' = zombie), from /proc.
inline std::vector<ProcInfo> child_processes() {
  std::vector<ProcInfo> out;
  const pid_t self = ::getpid();
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = read_file(e.path().string() + "/stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos || close + 4 >= stat.size()) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == self) out.push_back(ProcInfo{static_cast<pid_t>(std::stoi(name)), state});
  }
  return out;
}

inline int zombie_children() {
  int n = 0;
  for (const auto& p : child_processes()) n += p.state == 'Z' ? 1 : 0;
  return n;
}

// True while a process with this pid exists and is not a zombie.
inline bool process_alive(pid_t pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return false;
  char state = stat[close + 2];
  return state != 'Z' && state != 'X';
}

// The kernel code under test writes into pipes whose reader may be gone; like Ship's main,
// the test process must survive that (EPIPE instead of SIGPIPE).
inline void ignore_sigpipe() { ::signal(SIGPIPE, SIG_IGN); }

}  // namespace shipyard::ship::kernel::testing
