// Ship's configuration: command line (spec ship-api.md §1) plus environment.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace shipyard::ship {

struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
};

struct ShipConfig {
  std::vector<ListenAddress> listen;       // default 127.0.0.1:8123 (SHIP_PORT sets the port)
  std::optional<std::string> unix_socket;  // also serve on this unix socket
  std::string workspace = "/workspace";    // SHIP_WORKSPACE
  // Where the runtime's own files live: skills/, kernel/ (SHIP_APP_DIR; default: the
  // parent of the directory holding the executable, i.e. /app for /app/bin/ship).
  std::string app_dir;
  // Ship's private scratch space: background process logs, upload spools
  // (SHIP_STATE_DIR; default $TMPDIR/ship-<uid>, i.e. the sandbox's private /tmp).
  std::string state_dir;
  std::string python = "/usr/bin/python3";   // SHIP_PYTHON
  std::size_t max_json_body = 64u << 20;     // JSON request bodies beyond this → 413
  std::size_t shell_output_cap = 10u << 20;  // per stream of a foreground command
  std::size_t python_output_cap = 1u << 20;  // text of one Python cell
  bool eager_kernel = true;                  // start the default kernel at start-up
  int ready_fd = -1;  // written to ("ready\n") and closed once Ship serves; -1: none
  std::string log_level = "info";
  bool log_json = false;
};

// Parses argv and the environment. `--version` and `--help` are reported as the
// special results kPrintVersion / kPrintHelp in `exit_message`.
struct ParsedArgs {
  ShipConfig config;
  std::optional<std::string> exit_message;  // print this and exit 0
};
Result<ParsedArgs> parse_args(int argc, char** argv);

// "HOST:PORT", "[v6]:PORT" or ":PORT" / "PORT" (host 127.0.0.1).
Result<ListenAddress> parse_listen(const std::string& spec);

}  // namespace shipyard::ship
