// ship: the runtime inside every sandbox session (docs/ship.md).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "common/log.hpp"
#include "ship/api/context.hpp"
#include "ship/api/errors.hpp"
#include "ship/api/routes.hpp"
#include "ship/config.hpp"
#include "ship/kernel/kernel_manager.hpp"
#include "ship/startup/workspace_setup.hpp"
#include "ship/version.hpp"

using namespace shipyard;
using namespace shipyard::ship;

namespace {

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

int fail(const std::string& what) {
  spdlog::critical("{}", what);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse_args(argc, argv);
  if (!parsed) {
    std::fprintf(stderr, "ship: %s\n", parsed.error().message.c_str());
    return 2;
  }
  if (parsed->exit_message) {
    std::printf("%s\n", parsed->exit_message->c_str());
    return 0;
  }
  ShipConfig config = std::move(parsed->config);
  init_logging("ship", config.log_level, config.log_json ? LogFormat::kJson : LogFormat::kText);
  // Peers that go away must not kill Ship (sendfile and pipe writes raise SIGPIPE).
  ::signal(SIGPIPE, SIG_IGN);

  std::error_code ec;
  config.workspace = std::filesystem::absolute(config.workspace, ec).lexically_normal().string();
  while (config.workspace.size() > 1 && config.workspace.back() == '/') config.workspace.pop_back();
  struct stat st {};
  if (::stat(config.workspace.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return fail("workspace " + config.workspace + " is not a directory");
  }
  if (::access(config.workspace.c_str(), W_OK) != 0) {
    return fail("workspace " + config.workspace + " is not writable");
  }
  std::filesystem::create_directories(config.state_dir, ec);
  if (ec) return fail("cannot create state directory " + config.state_dir + ": " + ec.message());
  ::chmod(config.state_dir.c_str(), 0700);

  auto root = fs::Workspace::open(config.workspace);
  if (!root) return fail("cannot open workspace: " + root.error().message);

  auto profile_env = parse_profile_env(env_or_empty("BAY_PROFILE_ENV"));
  if (!profile_env) return fail(profile_env.error().message);
  for (const auto& name : profile_env->skipped) {
    spdlog::warn("profile env variable {:?} skipped: not a valid shell name", name);
  }
  if (auto s = prepare_workspace(*root, config.app_dir, *profile_env); !s) {
    return fail("preparing the workspace: " + s.error().message + " (" + s.error().context + ")");
  }

  shell::EnvironmentBase env = shell::make_environment_base(profile_env->vars);

  boost::asio::io_context io(1);
  ShipContext ctx(config, std::move(*root), io.get_executor(), env);
  kernel::KernelOptions kopts;
  kopts.python = config.python;
  kopts.driver = config.app_dir + "/kernel/shipyard_kernel.py";
  kopts.output_limit = config.python_output_cap;
  KernelManager kernels(io.get_executor(), kopts, env);
  ctx.set_kernels(&kernels);
  ctx.set_bindable(env_or_empty("SHIP_BINDABLE") == "1");

  http::Server server(io, make_router(ctx),
                      [](const Error& e, const http::Exchange&) { return ship_error_response(e); });
  for (const auto& l : config.listen) {
    if (auto s = server.listen_tcp(l.host, l.port); !s) return fail(s.error().message);
  }
  if (config.unix_socket) {
    if (auto s = server.listen_unix(*config.unix_socket, 0666); !s) return fail(s.error().message);
  }
  server.start();
  if (config.eager_kernel) {
    if (auto s = kernels.ensure_started(KernelRef{"default", config.workspace}); !s) {
      spdlog::warn("default kernel not started: {}", s.error().message);
    }
  }
  if (config.ready_fd >= 0) {
    // The launcher (Bay's process driver) waits on this instead of polling /health.
    static constexpr char kReady[] = "ready\n";
    if (::write(config.ready_fd, kReady, sizeof kReady - 1) < 0) {
      spdlog::warn("--ready-fd {}: {}", config.ready_fd, std::strerror(errno));
    }
    ::close(config.ready_fd);
  }
  std::string where;
  for (auto port : server.tcp_ports()) where += " tcp:" + std::to_string(port);
  if (config.unix_socket) where += " unix:" + *config.unix_socket;
  spdlog::info("ship {} serving workspace {} on{}", kVersion, config.workspace, where);

  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int sig) {
    spdlog::info("signal {}: shutting down", sig);
    server.stop();
    kernels.shutdown_all();
    ctx.processes().terminate_all();
    io.stop();
  });
  io.run();
  return 0;
}
