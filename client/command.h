#ifndef TRANSMLA_CLIENT_COMMAND_H_
#define TRANSMLA_CLIENT_COMMAND_H_

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/flags.h"
#include "core/eval/ab_benchmark.h"
#ifdef TRANSMLA_WITH_GRPC
#include "client/remote/channel.h"
#endif

namespace transmla::cli {

// A `transmla` subcommand: its flags, its help, and what it runs. Run returns a Status whose
// message becomes the one-line error; InvalidArgument from flag handling exits with 2 (usage). A
// command with an "id" value flag also takes the id as its first argument (`jobs get ID`).
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
Command BenchCommand();
// The workload flags of `transmla bench`.
absl::StatusOr<AbBenchmarkSpec> ReadBenchSpec(const Flags& flags);
#ifdef TRANSMLA_WITH_GRPC
Command HealthCommand();
std::vector<Command> JobsCommands();
// `transmla convert --server`: submit, watch, download.
absl::Status RunRemoteConvert(const Flags& flags);
// `transmla generate --server`: GenerateStream, text printed as it comes.
absl::Status RunRemoteGenerate(const Flags& flags);
std::vector<Command> ModelsCommands();
// `transmla bench --server`: the InferenceService's Benchmark, progress on a bar.
absl::StatusOr<AbBenchmarkResult> RunRemoteBench(const Flags& flags, const AbBenchmarkSpec& spec);
#endif

}  // namespace transmla::cli

#endif  // TRANSMLA_CLIENT_COMMAND_H_
