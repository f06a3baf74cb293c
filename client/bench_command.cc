#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "client/command.h"
#include "client/progress_bar.h"
#include "client/sampling_flags.h"
#include "core/eval/ab_benchmark_report.h"
#include "core/eval/perplexity.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla::cli {
namespace {

absl::StatusOr<std::string> ReadText(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("--{}: cannot read {}", flag, path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::vector<int>> ReadLengths(const Flags& flags) {
  std::vector<int> lengths;
  std::stringstream list(flags.Get("context-lengths").value_or(""));
  for (std::string item; std::getline(list, item, ',');) {
    char* end = nullptr;
    const long value = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || value < 1) {
      return absl::InvalidArgumentError(fmt::format("--context-lengths must be positive integers, got \"{}\"", item));
    }
    lengths.push_back(static_cast<int>(value));
  }
  return lengths;
}

absl::Status Emit(const Flags& flags, const AbBenchmarkResult& result) {
  const nlohmann::json json = AbBenchmarkToJson(result);
  if (const std::optional<std::string> path = flags.Get("out-json")) std::ofstream(*path) << json.dump(2) << "\n";
  if (const std::optional<std::string> png = flags.Get("out-png")) RETURN_IF_ERROR(WriteAbBenchmarkChart(result, *png));
  if (flags.Bool("json")) {
    std::cout << json.dump() << "\n";
  } else {
    std::cout << AbBenchmarkTable(result);
  }
  return absl::OkStatus();
}

absl::Status RunBench(const Flags& flags) {
  ASSIGN_OR_RETURN(const AbBenchmarkSpec spec, ReadBenchSpec(flags));
#ifdef TRANSMLA_WITH_GRPC
  if (flags.Has("server")) {
    ASSIGN_OR_RETURN(const AbBenchmarkResult result, RunRemoteBench(flags, spec));
    return Emit(flags, result);
  }
#endif
  ASSIGN_OR_RETURN(const std::string path_a, flags.Required("model-a"));
  ASSIGN_OR_RETURN(const std::string path_b, flags.Required("model-b"));
  EngineOptions options;
  options.device = flags.Get("device").value_or("cpu");
  options.gpu_dtype = flags.Get("gpu-dtype").value_or("auto");
  ASSIGN_OR_RETURN(LoadedModel a, LoadModel(path_a, options));
  ASSIGN_OR_RETURN(LoadedModel b, LoadModel(path_b, options));
  ProgressBar bar("bench");
  ASSIGN_OR_RETURN(const AbBenchmarkResult result,
                   RunAbBenchmark(a, path_a, b, path_b, spec, [&](const AbBenchmarkProgress& p) {
                     bar.Update(p.done, p.total, p.stage);
                     return true;
                   }));
  bar.Finish();
  return Emit(flags, result);
}

}  // namespace

absl::StatusOr<AbBenchmarkSpec> ReadBenchSpec(const Flags& flags) {
  AbBenchmarkSpec spec;
  if (const std::optional<std::string> prompts = flags.Get("prompts")) {
    ASSIGN_OR_RETURN(const std::string text, ReadText(*prompts, "prompts"));
    for (std::string_view document : SplitDocuments(text)) spec.prompts.emplace_back(document);
    if (spec.prompts.empty()) return absl::InvalidArgumentError("--prompts: the file holds no prompt");
  }
  ASSIGN_OR_RETURN(const int64_t batch, flags.Int("batch", 4));
  ASSIGN_OR_RETURN(const int64_t prompt_length, flags.Int("prompt-len", 64));
  ASSIGN_OR_RETURN(const int64_t output_length, flags.Int("output-len", 32));
  ASSIGN_OR_RETURN(const int64_t documents, flags.Int("quality-documents", 64));
  spec.batch = static_cast<int>(batch);
  spec.prompt_length = static_cast<int>(prompt_length);
  spec.output_length = static_cast<int>(output_length);
  spec.quality_documents = static_cast<int>(documents);
  ASSIGN_OR_RETURN(spec.context_lengths, ReadLengths(flags));
  ASSIGN_OR_RETURN(spec.sampling, ReadSamplingFlags(flags));
  if (const std::optional<std::string> quality = flags.Get("quality-text")) {
    ASSIGN_OR_RETURN(spec.quality_text, ReadText(*quality, "quality-text"));
  }
  return spec;
}

Command BenchCommand() {
  std::set<std::string> value_flags = {"model-a", "model-b", "prompts", "batch", "prompt-len", "output-len",
                                       "context-lengths", "quality-text", "quality-documents", "out-json", "out-png",
                                       "device", "gpu-dtype", "temperature", "top-k", "top-p", "seed", "repetition-penalty"};
  std::string remote_usage;
#ifdef TRANSMLA_WITH_GRPC
  value_flags.insert(RemoteValueFlags().begin(), RemoteValueFlags().end());
  remote_usage = "\n  on an InferenceService: add " + RemoteUsage() + "; models are then loaded models' names";
#endif
  return {"bench",
          "A/B benchmark of two models: throughput, latency, KV cache, memory, quality agreement",
          "transmla bench --model-a A --model-b B [--prompts FILE | --batch N --prompt-len N --output-len N] "
          "[--context-lengths 64,128,...] [--quality-text FILE [--quality-documents N]] [--out-json FILE] "
          "[--out-png FILE] [--device cpu|cuda|auto] [--gpu-dtype auto|bf16|f16|f32] [--temperature T ...] [--json]" +
              remote_usage,
          value_flags,
          {"json"},
          RunBench};
}

}  // namespace transmla::cli
