// transmla: convert GQA checkpoints to MLA and run them (in-process; --server for the services).
#include <cstdio>
#include <string>
#include <vector>

#include "client/command.h"
#ifdef TRANSMLA_HAVE_CUDA
#include "core/engine/cuda/cuda_engine.h"
#endif
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace {

using transmla::cli::Command;

std::vector<Command> AllCommands() {
  std::vector<Command> commands = {transmla::cli::ConvertCommand(), transmla::cli::GenerateCommand(),
                                   transmla::cli::PerplexityCommand(), transmla::cli::TokenizeCommand(),
                                   transmla::cli::BenchCommand(), transmla::cli::ExportGgufCommand()};
#ifdef TRANSMLA_WITH_GRPC
  commands.push_back(transmla::cli::HealthCommand());
  for (Command& jobs : transmla::cli::JobsCommands()) commands.push_back(std::move(jobs));
  for (Command& models : transmla::cli::ModelsCommands()) commands.push_back(std::move(models));
#endif
  return commands;
}

void PrintHelp(const std::vector<Command>& commands) {
  std::printf("transmla: migrate LLaMA-family GQA models to DeepSeek MLA and run them\n\nusage: transmla <command> [flags]\n\n");
  for (const Command& c : commands) std::printf("  %-14s %s\n", c.name.c_str(), c.summary.c_str());
  std::printf("\n`transmla <command> --help` shows a command's flags.\n");
}

bool HasCommand(const std::vector<Command>& commands, const std::string& name) {
  for (const Command& c : commands) {
    if (c.name == name) return true;
  }
  return false;
}

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "transmla: error: %s\n", message.c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef TRANSMLA_HAVE_CUDA
  transmla::cuda::RegisterCudaBackend();
#endif
  // stdout carries results (and JSON); diagnostics go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_st("transmla"));
  spdlog::set_pattern("transmla: %l: %v");
  const std::vector<Command> commands = AllCommands();
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    PrintHelp(commands);
    return argc < 2 ? 2 : 0;
  }
  // Two-word commands ("jobs list") are named with their verb.
  std::string name = argv[1];
  int first_arg = 2;
  if (argc > 2 && argv[2][0] != '-' && HasCommand(commands, name + " " + argv[2])) {
    name += std::string(" ") + argv[2];
    first_arg = 3;
  }
  for (const Command& command : commands) {
    if (command.name != name) continue;
    std::vector<std::string> args(argv + first_arg, argv + argc);
    if (command.value_flags.count("id") > 0 && !args.empty() && args[0].rfind("-", 0) != 0) args[0] = "--id=" + args[0];
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
  std::string verbs;
  for (const Command& c : commands) {
    if (c.name.rfind(name + " ", 0) == 0) verbs += (verbs.empty() ? "" : "|") + c.name.substr(name.size() + 1);
  }
  if (!verbs.empty()) return Fail(2, "usage: transmla " + name + " " + verbs + " ... (see transmla --help)");
  return Fail(2, "unknown command \"" + name + "\" (see transmla --help)");
}
