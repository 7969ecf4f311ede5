// bay: the Shipyard control plane (docs/architecture.md).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <filesystem>

#include "bay/api/app.hpp"
#include "bay/api/errors.hpp"
#include "bay/api/routes.hpp"
#include "bay/config/config.hpp"
#include "bay/domain/warm_pool.hpp"
#include "bay/drivers/process_driver.hpp"
#include "bay/legacy/legacy_service.hpp"
#include "bay/store/sqlite_store.hpp"
#include "bay/version.hpp"
#include "common/log.hpp"

extern char** environ;

using namespace shipyard;
using namespace shipyard::bay;
namespace asio = boost::asio;

namespace {

std::string default_app_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "/app";
  return (exe.parent_path().parent_path() / "app").string();
}

struct Options {
  std::optional<std::string> config_file;
  std::vector<std::string> sets;
};

asio::awaitable<void> drain_and_stop(WarmPool& warm, asio::io_context& io) {
  co_await warm.shutdown();
  io.stop();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"bay: the Shipyard control plane"};
  Options opts;
  bool version = false;
  cli.add_option("-c,--config", opts.config_file, "configuration file (YAML)");
  cli.add_option("--set", opts.sets, "override a setting: key.path=value (repeatable)");
  cli.add_flag("--version", version, "print the version and exit");
  CLI11_PARSE(cli, argc, argv);
  if (version) {
    std::printf("bay %s\n", kBayVersion);
    return 0;
  }

  LoadOptions load;
  load.config_file = opts.config_file;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) load.environment.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  for (const auto& s : opts.sets) {
    auto eq = s.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "bay: --set expects key.path=value, got %s\n", s.c_str());
      return 2;
    }
    load.overrides.emplace_back(s.substr(0, eq), s.substr(eq + 1));
  }
  auto loaded = load_config(load);
  if (!loaded) {
    std::fprintf(stderr, "bay: invalid configuration:\n%s\n", loaded.error().message.c_str());
    return 2;
  }
  BayConfig config = std::move(*loaded);
  if (config.driver.process.ship_app_dir.empty())
    config.driver.process.ship_app_dir = default_app_dir();
  init_logging("bay", config.log_level,
               config.log_format == "json" ? LogFormat::kJson : LogFormat::kText);
  ::signal(SIGPIPE, SIG_IGN);
  if (!config.config_file.empty()) spdlog::info("configuration: {}", config.config_file);
  for (const auto& w : config.warnings) spdlog::warn("configuration: {}", w);

  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    spdlog::critical("cannot create data directory {}: {}", config.data_dir, ec.message());
    return 1;
  }
  ::chmod(config.data_dir.c_str(), 0711);

  asio::io_context io(1);
  auto store = SqliteStore::open(config.sqlite_path(), io.get_executor());
  if (!store) {
    spdlog::critical("opening the database {}: {} ({})", config.sqlite_path(),
                     store.error().message, store.error().context);
    return 1;
  }
  ProcessDriver driver(io.get_executor(), config.driver.process, config.data_dir,
                       config.cargo_root);
  if (auto q = driver.enable_size_limits(config.cargo_quota); !q) {
    spdlog::critical("{}", q.error().message);
    return 1;
  }
  SystemClock clock;
  SessionSettings settings;
  settings.instance_id = config.gc.instance_id;
  SessionManager sessions(io.get_executor(), **store, driver, clock, settings);
  SandboxService sandboxes(**store, sessions, driver, config, clock);
  WarmPool warm(io.get_executor(), **store, driver, sessions, config, settings);
  sandboxes.set_warm_pool(&warm);
  CapabilityService capabilities(**store, sandboxes, clock);
  CargoService cargos(**store, driver, config, clock);
  GcService gc(io.get_executor(), **store, driver, sessions, sandboxes, cargos, config, clock);
  IdempotencyService idempotency(io.get_executor(), **store, config, clock);
  SkillService skills(**store, clock);
  // The legacy /ship API; its log endpoint reads the process driver's capture of Ship's
  // output (last 1 MiB).
  legacy::LegacyService legacy(io.get_executor(), **store, **store, sandboxes, sessions, config,
                               clock, legacy::file_log_reader(driver.sessions_dir(), 1 << 20));
  std::optional<Authenticator> auth;
  std::optional<BayApp> app;
  std::optional<http::Server> server;
  int exit_code = 0;

  auto startup = [&]() -> asio::awaitable<void> {
    std::string notice;
    auto a = co_await Authenticator::create(config, **store, &notice);
    if (!a) {
      spdlog::critical("authentication set-up: {} ({})", a.error().message, a.error().context);
      exit_code = 1;
      io.stop();
      co_return;
    }
    auth.emplace(std::move(*a));
    spdlog::info("driver: {}", driver.describe());
    co_await sessions.recover();
    co_await legacy.recover();
    co_await warm.start();
    app.emplace(BayApp{config, clock, **store, driver, sessions, sandboxes, capabilities, *auth,
                       cargos, gc, idempotency, skills, legacy});
    server.emplace(io, make_router(*app),
                   [legacy_api = config.legacy.enabled](const Error& e, const http::Exchange& ex) {
                     return error_response(e, ex, legacy_api);
                   });
    if (auto s = server->listen_tcp(config.host, static_cast<std::uint16_t>(config.port)); !s) {
      spdlog::critical("{}", s.error().message);
      exit_code = 1;
      io.stop();
      co_return;
    }
    server->start();
    gc.start_scheduler();
    // Legacy ships stop at expiry whether or not the legacy routes are served.
    legacy.start_reaper();
    auto port = server->tcp_ports().front();
    spdlog::info("bay {} listening on http://{}:{} (data in {})", kBayVersion, config.host, port,
                 config.data_dir);
    if (config.security.allow_anonymous) {
      spdlog::warn("anonymous mode: requests without a key are accepted (owner from X-Owner)");
    } else if (!notice.empty()) {
      spdlog::info("{}", notice);
    } else {
      spdlog::info("authenticate with: Authorization: Bearer <your configured API key>");
    }
  };
  asio::co_spawn(io, startup(), asio::detached);

  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int sig) {
    // Sessions are left running on purpose: a restarted Bay re-attaches to them.
    spdlog::info("signal {}: stopping (sessions keep running)", sig);
    if (server) server->stop();
    gc.stop_scheduler();
    legacy.stop_reaper();
    // Warm runtimes belong to no sandbox: they go with Bay (bounded: a destroy forces
    // its way within about a second).
    asio::co_spawn(io, drain_and_stop(warm, io), asio::detached);
  });
  io.run();
  return exit_code;
}
