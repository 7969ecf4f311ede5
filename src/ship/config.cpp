#include "ship/config.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "ship/version.hpp"

namespace shipyard::ship {
namespace {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

Result<std::uint16_t> parse_port(std::string_view s) {
  unsigned value = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || p != s.data() + s.size() || value > 65535) {
    return Error(ErrorCode::kInvalidArgument, "invalid port: " + std::string(s));
  }
  return static_cast<std::uint16_t>(value);
}

std::string default_app_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "/app";
  return exe.parent_path().parent_path().string();
}

}  // namespace

Result<ListenAddress> parse_listen(const std::string& spec) {
  ListenAddress out{"127.0.0.1", 0};
  std::string_view s(spec);
  std::string_view port_part;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return Error(ErrorCode::kInvalidArgument, "invalid listen address: " + spec);
    }
    out.host = std::string(s.substr(1, close - 1));
    port_part = s.substr(close + 2);
  } else if (auto colon = s.rfind(':'); colon != std::string_view::npos) {
    if (colon > 0) out.host = std::string(s.substr(0, colon));
    port_part = s.substr(colon + 1);
  } else {
    port_part = s;
  }
  auto port = parse_port(port_part);
  if (!port) return Error(ErrorCode::kInvalidArgument, "invalid listen address: " + spec);
  out.port = *port;
  return out;
}

Result<ParsedArgs> parse_args(int argc, char** argv) {
  ParsedArgs parsed;
  ShipConfig& c = parsed.config;
  CLI::App app{"ship: the Shipyard runtime that serves one sandbox session"};
  std::vector<std::string> listen;
  std::string unix_socket;
  bool version = false;
  bool no_eager = false;
  app.add_option("--listen", listen, "HOST:PORT to serve on (repeatable)");
  app.add_option("--unix", unix_socket, "also serve on this unix socket path");
  app.add_option("--workspace", c.workspace, "workspace root (env SHIP_WORKSPACE)");
  app.add_option("--app-dir", c.app_dir, "runtime files: skills/, kernel/ (env SHIP_APP_DIR)");
  app.add_option("--state-dir", c.state_dir, "private scratch directory (env SHIP_STATE_DIR)");
  app.add_option("--python", c.python, "Python interpreter for kernels (env SHIP_PYTHON)");
  app.add_option("--log-level", c.log_level, "trace|debug|info|warn|error");
  app.add_flag("--log-json", c.log_json, "JSON log lines");
  app.add_flag("--no-eager-kernel", no_eager, "do not pre-start the default Python kernel");
  app.add_option("--ready-fd", c.ready_fd,
                 "write \"ready\\n\" to this inherited descriptor, then close it, once serving")
      ->check(CLI::Range(3, 1 << 20));
  app.add_flag("--version", version, "print the version and exit");

  // Environment first; explicit flags parsed afterwards win.
  if (auto w = env("SHIP_WORKSPACE")) c.workspace = *w;
  if (auto a = env("SHIP_APP_DIR")) c.app_dir = *a;
  if (auto s = env("SHIP_STATE_DIR")) c.state_dir = *s;
  if (auto p = env("SHIP_PYTHON")) c.python = *p;

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    parsed.exit_message = app.help();
    return parsed;
  } catch (const CLI::ParseError& e) {
    return Error(ErrorCode::kInvalidArgument, e.what());
  }
  if (version) {
    parsed.exit_message = std::string("ship ") + kVersion;
    return parsed;
  }
  c.eager_kernel = !no_eager;
  if (listen.empty()) {
    ListenAddress def{"127.0.0.1", 8123};
    if (auto p = env("SHIP_PORT")) {
      auto port = parse_port(*p);
      if (!port) return Error(ErrorCode::kInvalidArgument, "invalid SHIP_PORT: " + *p);
      def.port = *port;
    }
    c.listen.push_back(def);
  } else {
    for (const auto& l : listen) {
      auto a = parse_listen(l);
      if (!a) return std::move(a).error();
      c.listen.push_back(*a);
    }
  }
  if (!unix_socket.empty()) c.unix_socket = unix_socket;
  if (c.app_dir.empty()) c.app_dir = default_app_dir();
  if (c.state_dir.empty()) {
    std::string tmp = env("TMPDIR").value_or("/tmp");
    c.state_dir = tmp + "/ship-" + std::to_string(::getuid());
  }
  while (c.workspace.size() > 1 && c.workspace.back() == '/') c.workspace.pop_back();
  return parsed;
}

}  // namespace shipyard::ship
