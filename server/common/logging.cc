#include "server/common/logging.h"

#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace transmla::server {

void ConfigureLogging(const std::string& level, const std::string& format) {
  auto logger = spdlog::stderr_logger_mt("transmla");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
  if (format == "json") {
    // Messages are our own strings; keep them free of double quotes where they embed user input.
    spdlog::set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","thread":%t,"msg":"%v"})");
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ [%t] %v");
  }
  // Job state changes must reach the log even if the process is killed right after.
  spdlog::flush_on(spdlog::level::info);
}

}  // namespace transmla::server
