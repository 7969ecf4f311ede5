// Process-wide logging (spdlog). `init_logging` is called once from main; everything
// else uses spdlog's free functions (spdlog::info, ...), which are thread-safe.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace shipyard {

enum class LogFormat { kText, kJson };

// Logs go to stderr. `level` is one of trace/debug/info/warn/error/off.
void init_logging(std::string_view service, std::string_view level, LogFormat format);

}  // namespace shipyard
