// Capability calls (bay-api-v1.md §8) once the gate of §2.11 has passed: ensure the
// session, call Ship (ship-api.md §10.2), map its answer (§10.3, §10.4) and record
// python/shell executions in the history (§11).
//
// Threading: Bay's I/O executor.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>

#include "bay/domain/sandbox_service.hpp"
#include "common/json.hpp"

namespace shipyard::bay {

struct ExecRequest {
  std::string code;  // python code or shell command
  std::int64_t timeout = 30;
  std::optional<std::string> cwd;  // shell only, already normalised
  bool include_code = false;
  std::optional<std::string> description;
  std::optional<std::string> tags;  // raw; normalised when recorded
};

class CapabilityService {
 public:
  CapabilityService(Store& store, SandboxService& sandboxes, const Clock& clock);

  boost::asio::awaitable<Result<json::object>> python(const CallTarget& t, ExecRequest req);
  boost::asio::awaitable<Result<json::object>> shell(const CallTarget& t, ExecRequest req);

  // Filesystem calls take paths already normalised by normalize_workspace_path.
  boost::asio::awaitable<Result<json::object>> read_file(const CallTarget& t, std::string path);
  boost::asio::awaitable<Result<json::object>> write_file(const CallTarget& t, std::string path,
                                                          std::string content);
  boost::asio::awaitable<Result<json::object>> delete_file(const CallTarget& t, std::string path);
  boost::asio::awaitable<Result<json::object>> list_dir(const CallTarget& t, std::string path,
                                                        bool show_hidden);

 private:
  boost::asio::awaitable<Result<json::object>> record(
      const CallTarget& t, const std::string& session_id, std::string exec_type,
      const ExecRequest& req, bool success, std::int64_t elapsed_ms,
      std::optional<std::string> output, std::optional<std::string> error, json::object response);
  boost::asio::awaitable<Result<ShipClient::JsonReply>> fs_call(const CallTarget& t,
                                                                std::string target,
                                                                json::object body,
                                                                const std::string& path);

  Store& store_;
  SandboxService& sandboxes_;
  const Clock& clock_;
};

// Maps a non-2xx Ship answer to the v1 vocabulary (ship-api.md §10.4). `field` is the
// request field a 403 refers to ("path" or "cwd"); `path` goes into file_not_found.
Error map_ship_error(unsigned status, const json::object& body, std::string_view field,
                     std::string_view path, bool filesystem);

// "2026-...+00:00" for a Unix time in seconds (directory entries' modified_at).
std::string iso_from_unix(double seconds);

}  // namespace shipyard::bay
