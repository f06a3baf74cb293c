// transmla: convert GQA checkpoints to MLA and run them (in-process; --server for the services).
#include <cstdio>
#include <string>
#include <vector>

#include "client/command.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace {

using transmla::cli::Command;

std::vector<Command> AllCommands() {
  return {transmla::cli::ConvertCommand(), transmla::cli::GenerateCommand(), transmla::cli::PerplexityCommand(),
          transmla::cli::TokenizeCommand(), transmla::cli::ExportGgufCommand()};
}

void PrintHelp(const std::vector<Command>& commands) {
  std::printf("transmla: migrate LLaMA-family GQA models to DeepSeek MLA and run them\n\nusage: transmla <command> [flags]\n\n");
  for (const Command& c : commands) std::printf("  %-12s %s\n", c.name.c_str(), c.summary.c_str());
  std::printf("\n`transmla <command> --help` shows a command's flags.\n");
}

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "transmla: error: %s\n", message.c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  // stdout carries results (and JSON); diagnostics go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_st("transmla"));
  spdlog::set_pattern("transmla: %l: %v");
  const std::vector<Command> commands = AllCommands();
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    PrintHelp(commands);
    return argc < 2 ? 2 : 0;
  }
  const std::string name = argv[1];
  for (const Command& command : commands) {
    if (command.name != name) continue;
    std::vector<std::string> args(argv + 2, argv + argc);
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
      std::printf("usage: %s\n", command.usage.c_str());
      return 0;
    }
    absl::StatusOr<transmla::cli::Flags> flags =
        transmla::cli::Flags::Parse(args, command.value_flags, command.bool_flags);
    if (!flags.ok()) return Fail(2, std::string(flags.status().message()) + " (see transmla " + name + " --help)");
    const absl::Status status = command.run(*flags);
    if (!status.ok()) return Fail(1, std::string(status.message()));
    return 0;
  }
  return Fail(2, "unknown command \"" + name + "\" (see transmla --help)");
}
