#ifndef TRANSMLA_CLIENT_COMMAND_H_
#define TRANSMLA_CLIENT_COMMAND_H_

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/flags.h"

namespace transmla::cli {

// A `transmla` subcommand: its flags, its help, and what it runs. Run returns a Status whose
// message becomes the one-line error; InvalidArgument from flag handling exits with 2 (usage).
struct Command {
  std::string name;
  std::string summary;
  std::string usage;
  std::set<std::string> value_flags;
  std::set<std::string> bool_flags;
  std::function<absl::Status(const Flags&)> run;
};

Command GenerateCommand();
Command PerplexityCommand();
Command TokenizeCommand();
Command ConvertCommand();
Command ExportGgufCommand();

}  // namespace transmla::cli

#endif  // TRANSMLA_CLIENT_COMMAND_H_
