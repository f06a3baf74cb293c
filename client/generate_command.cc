#include <cstdio>
#include <iostream>

#include "client/command.h"
#include "client/generation_summary.h"
#include "client/sampling_flags.h"
#include "core/engine/generate.h"
#include "core/engine/model_loader.h"
#include "core/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace transmla::cli {
namespace {

absl::Status RunGenerate(const Flags& flags) {
#ifdef TRANSMLA_WITH_GRPC
  if (flags.Has("server")) return RunRemoteGenerate(flags);
#endif
  ASSIGN_OR_RETURN(const std::string model_path, flags.Required("model"));
  ASSIGN_OR_RETURN(const SamplingParams params, ReadSamplingFlags(flags));
  EngineOptions options;
  ASSIGN_OR_RETURN(const int64_t threads, flags.Int("threads", 0));
  options.threads = static_cast<int>(threads);
  options.device = flags.Get("device").value_or("cpu");
  options.gpu_dtype = flags.Get("gpu-dtype").value_or("auto");
  ASSIGN_OR_RETURN(LoadedModel model, LoadModel(model_path, options));
  if (model.tokenizer == nullptr) return absl::FailedPreconditionError(model_path + " has no tokenizer.json");
  const std::vector<int32_t> prompt = model.tokenizer->Encode(flags.Get("prompt").value_or(""), /*add_bos=*/true);
  const bool json = flags.Bool("json");
  TokenCallback stream;
  if (!json) {
    stream = [](int32_t, const std::string& delta) {
      std::fwrite(delta.data(), 1, delta.size(), stdout);
      std::fflush(stdout);
      return true;
    };
  }
  ASSIGN_OR_RETURN(const GenerationResult result, Generate(*model.engine, *model.tokenizer, prompt, params, stream));
  const double decode_s = result.total_time_s - result.time_to_first_token_s;
  const double tokens_per_s =
      result.token_ids.size() > 1 && decode_s > 0 ? (result.token_ids.size() - 1) / decode_s : 0.0;
  PrintGenerationSummary(json, {result.token_ids, result.text, result.prompt_ids.size(), result.finish_reason,
                                result.time_to_first_token_s, tokens_per_s});
  return absl::OkStatus();
}

}  // namespace

Command GenerateCommand() {
  std::set<std::string> value_flags = {"model", "prompt", "max-tokens", "temperature", "top-k", "top-p", "seed",
                                       "repetition-penalty", "stop", "stop-id", "threads", "device", "gpu-dtype"};
  std::string remote_usage;
#ifdef TRANSMLA_WITH_GRPC
  value_flags.insert(RemoteValueFlags().begin(), RemoteValueFlags().end());
  remote_usage = "\n  through the InferenceService: add " + RemoteUsage() + "; --model is then a loaded model's name";
#endif
  return {"generate",
          "generate text from a prompt (greedy by default)",
          "transmla generate --model DIR|FILE.gguf [--prompt TEXT] [--max-tokens N] [--temperature T] [--top-k K] "
          "[--top-p P] [--seed S] [--repetition-penalty R] [--stop STR]... [--stop-id ID]... [--threads N] [--device cpu|cuda|auto] [--gpu-dtype auto|bf16|f16|f32] [--json]" + remote_usage,
          value_flags,
          {"json"},
          RunGenerate};
}

}  // namespace transmla::cli
