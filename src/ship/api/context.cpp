#include "ship/api/context.hpp"

#include "ship/kernel/kernel_manager.hpp"

namespace shipyard::ship {
namespace {
constexpr std::size_t kMaxCachedSessions = 256;
}

ShipContext::ShipContext(ShipConfig config, fs::Workspace root, boost::asio::any_io_executor io,
                         shell::EnvironmentBase env)
    : config_(std::move(config)),
      root_(std::make_shared<const fs::Workspace>(std::move(root))),
      env_(env),
      runner_(io, env, shell::Limits{.output_cap = config_.shell_output_cap}),
      processes_(io, env, config_.state_dir + "/processes",
                 shell::Limits{.output_cap = config_.shell_output_cap}) {}

void ShipContext::bind_var(std::string_view name, std::string_view value) {
  shell::set_bay_var(env_, name, value);
  shell::set_bay_var(runner_.mutable_base(), name, value);
  shell::set_bay_var(processes_.mutable_base(), name, value);
  if (kernels_ != nullptr) shell::set_bay_var(kernels_->mutable_environment(), name, value);
}

ShipContext::~ShipContext() { blocking_.join(); }

std::string ShipContext::env_file_path() const {
  return root_->root() + "/" + std::string(".bay_env.sh");
}

Result<RequestScope> ShipContext::scope(const http::Exchange& ex) {
  auto field = ex.request_header().find("X-SESSION-ID");
  if (field == ex.request_header().end()) return RequestScope{root_, std::nullopt};
  std::string id(field->value());
  if (!fs::valid_session_id(id)) {
    return Error(ErrorCode::kInvalidArgument, "Invalid X-SESSION-ID");
  }
  if (auto it = sessions_.find(id); it != sessions_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.second);
    return RequestScope{it->second.first, id};
  }
  auto ws = root_->session(id, /*create=*/true);
  if (!ws) return std::move(ws).error().with_context("opening session workspace " + id);
  auto shared = std::make_shared<const fs::Workspace>(std::move(*ws));
  lru_.push_front(id);
  sessions_.emplace(id, std::make_pair(shared, lru_.begin()));
  if (sessions_.size() > kMaxCachedSessions) {
    sessions_.erase(lru_.back());
    lru_.pop_back();
  }
  return RequestScope{shared, id};
}

}  // namespace shipyard::ship
