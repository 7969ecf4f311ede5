#include "ship/kernel/kernel_manager.hpp"

#include <spdlog/spdlog.h>

namespace shipyard::ship {
namespace asio = boost::asio;

KernelManager::KernelManager(asio::any_io_executor ex, kernel::KernelOptions opts,
                             shell::EnvironmentBase env, std::size_t max_kernels)
    : ex_(ex), opts_(std::move(opts)), env_(std::move(env)), max_kernels_(max_kernels) {}

KernelManager::~KernelManager() { shutdown_all(); }

Result<std::shared_ptr<kernel::Kernel>> KernelManager::spawn(const KernelRef& ref) {
  auto env = shell::build_environment(env_, ref.root, {});
  auto k = std::make_shared<kernel::Kernel>(ex_, opts_, ref.id, ref.root, std::move(env));
  if (auto s = k->start(); !s) {
    Error e(ErrorCode::kInternal, "Failed to execute code: " + s.error().message);
    e.context = s.error().context;
    return e;
  }
  kernels_[ref.id] = k;
  return k;
}

Result<std::shared_ptr<kernel::Kernel>> KernelManager::get_or_start(const KernelRef& ref) {
  auto it = kernels_.find(ref.id);
  if (it != kernels_.end() && it->second->state() != kernel::KernelState::kDead) return it->second;
  if (it == kernels_.end() && kernels_.size() >= max_kernels_) {
    // Make room by forgetting dead kernels before refusing.
    std::erase_if(kernels_,
                  [](const auto& kv) { return kv.second->state() == kernel::KernelState::kDead; });
    if (kernels_.size() >= max_kernels_) {
      return Error(ErrorCode::kUnavailable,
                   "Too many Python kernels (limit " + std::to_string(max_kernels_) + ")");
    }
  }
  return spawn(ref);
}

Status KernelManager::ensure_started(const KernelRef& ref) {
  auto k = get_or_start(ref);
  if (!k) return std::move(k).error();
  return {};
}

asio::awaitable<Result<kernel::ExecOutcome>> KernelManager::execute(const KernelRef& ref,
                                                                    std::string code, bool silent,
                                                                    std::chrono::seconds timeout) {
  auto k = get_or_start(ref);
  if (!k) co_return std::move(k).error();
  co_return co_await (*k)->execute(std::move(code), silent, timeout);
}

std::string KernelManager::status(const KernelRef& ref) const {
  auto it = kernels_.find(ref.id);
  if (it == kernels_.end()) return "not_started";
  return it->second->state() == kernel::KernelState::kDead ? "dead" : "alive";
}

asio::awaitable<Status> KernelManager::restart(const KernelRef& ref) {
  if (auto it = kernels_.find(ref.id); it != kernels_.end()) {
    it->second->kill("the kernel was restarted");
    kernels_.erase(it);
  }
  auto k = spawn(ref);
  if (!k) co_return std::move(k).error();
  bool ready = co_await (*k)->wait_ready(std::chrono::steady_clock::now() + opts_.start_timeout);
  if (!ready) {
    Error e(ErrorCode::kInternal,
            "Failed to restart kernel: " + ((*k)->death_reason().empty()
                                                ? std::string("start-up timed out")
                                                : (*k)->death_reason()));
    co_return e;
  }
  co_return Status{};
}

Status KernelManager::shutdown(const KernelRef& ref) {
  auto it = kernels_.find(ref.id);
  if (it == kernels_.end()) return Error(ErrorCode::kNotFound, "Kernel not found");
  it->second->kill("the kernel was shut down");
  kernels_.erase(it);
  return {};
}

std::vector<KernelManager::Listing> KernelManager::list() const {
  std::vector<Listing> out;
  for (const auto& [id, k] : kernels_) {
    out.push_back(Listing{id, k->state() == kernel::KernelState::kDead ? "dead" : "alive"});
  }
  return out;
}

void KernelManager::shutdown_all() {
  for (auto& [id, k] : kernels_) k->kill("Ship is shutting down");
  kernels_.clear();
}

}  // namespace shipyard::ship
