#ifndef TRANSMLA_SERVER_COMMON_LOGGING_H_
#define TRANSMLA_SERVER_COMMON_LOGGING_H_

#include <string>

namespace transmla::server {

// Sets spdlog's default logger for a service: stderr, `level` (trace|debug|info|warn|error), and
// `format` "text" (human-readable) or "json" (one valid JSON object per line: time, level, thread,
// msg, the message escaped; it carries the "[rpc M req=R job=J]" / "[job J]" context).
void ConfigureLogging(const std::string& level, const std::string& format);

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_COMMON_LOGGING_H_
