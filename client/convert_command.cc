#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "client/command.h"
#include "client/convert_summary.h"
#include "client/progress_bar.h"
#include "core/convert/converter.h"
#include "core/engine/model_loader.h"
#include "core/eval/agreement.h"
#include "core/eval/perplexity.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace transmla::cli {
namespace {

using convert::ConversionOptions;

absl::Status ReadDeepseekFlags(const Flags& flags, ConversionOptions* o) {
  ASSIGN_OR_RETURN(o->deepseek.kv_lora_rank, flags.Int("kv-lora-rank", 0));
  ASSIGN_OR_RETURN(o->deepseek.qk_rope_head_dim, flags.Int("qk-rope-head-dim", 0));
  ASSIGN_OR_RETURN(o->deepseek.pairs_per_frequency, flags.Int("rope-pairs", 1));
  ASSIGN_OR_RETURN(o->deepseek.q_lora_rank, flags.Int("q-lora-rank", 0));
  ASSIGN_OR_RETURN(o->deepseek.collapse, flags.Int("collapse", 1));
  ASSIGN_OR_RETURN(o->deepseek.freqfold, flags.Int("freqfold", 1));
  const std::string rotation = flags.Get("rotation").value_or("hermitian");
  if (rotation == "hermitian") o->deepseek.rotation = convert::RotationKind::kHermitian;
  else if (rotation == "real") o->deepseek.rotation = convert::RotationKind::kReal;
  else if (rotation == "query-weighted") o->deepseek.rotation = convert::RotationKind::kHermitianQueryWeighted;
  else return absl::InvalidArgumentError(fmt::format("--rotation must be hermitian, real or query-weighted, got \"{}\"", rotation));
  const std::string balance = flags.Get("balance").value_or("query-whitened");
  if (balance == "query-whitened") o->deepseek.balance = convert::BalanceKind::kQueryWhitened;
  else if (balance == "transmla") o->deepseek.balance = convert::BalanceKind::kTransMla;
  else return absl::InvalidArgumentError(fmt::format("--balance must be query-whitened or transmla, got \"{}\"", balance));
  if (flags.Has("alpha")) {
    ASSIGN_OR_RETURN(o->deepseek.alpha, flags.Double("alpha", 1.0));
    o->deepseek.alpha_candidates.clear();
  }
  o->deepseek.refit_values = !flags.Bool("no-value-refit");
  const std::string calibration = flags.Get("calibration").value_or("none");
  if (calibration != "none") o->calibration.text = calibration;
  ASSIGN_OR_RETURN(o->calibration.samples, flags.Int("calibration-samples", o->calibration.samples));
  ASSIGN_OR_RETURN(o->calibration.max_length, flags.Int("calibration-length", o->calibration.max_length));
  ASSIGN_OR_RETURN(o->calibration.documents, flags.Int("calibration-documents", -1));
  o->calibration.device = flags.Get("calibration-device").value_or("auto");
  return absl::OkStatus();
}

absl::StatusOr<ConversionOptions> ReadOptions(const Flags& flags) {
  ConversionOptions o;
  ASSIGN_OR_RETURN(o.mode, convert::ParseMode(flags.Get("mode").value_or("deepseek")));
  RETURN_IF_ERROR(ReadDeepseekFlags(flags, &o));
  if (flags.Has("dtype")) {
    ASSIGN_OR_RETURN(o.dtype, ParseFloatDTypeOption(*flags.Get("dtype")));
  }
  o.force = flags.Bool("force");
  return o;
}

// Perplexity of both models and next-token agreement on held-out documents of `text`.
absl::StatusOr<nlohmann::json> Evaluate(const std::string& source, const std::string& converted,
                                        const std::string& text_path, const Flags& flags) {
  std::ifstream in(text_path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("evaluation text not found: {}", text_path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  ASSIGN_OR_RETURN(LoadedModel original, LoadModel(source));
  ASSIGN_OR_RETURN(LoadedModel mla, LoadModel(converted));
  if (original.tokenizer == nullptr) return absl::FailedPreconditionError(source + " has no tokenizer.json");
  PerplexityOptions eval;
  ASSIGN_OR_RETURN(eval.skip, flags.Int("eval-skip", 0));
  ASSIGN_OR_RETURN(eval.limit, flags.Int("eval-limit", 200));
  ASSIGN_OR_RETURN(eval.max_len, flags.Int("eval-max-len", 512));
  ASSIGN_OR_RETURN(auto sequences, MakeEvalSequences(*original.tokenizer, buffer.str(), eval));
  ProgressBar bar("evaluate");
  ASSIGN_OR_RETURN(const AgreementResult r,
                   CompareModels(*original.engine, *mla.engine, sequences, 16,
                                 [&](int64_t done, int64_t total) { bar.Update(done, total); }));
  bar.Finish();
  return nlohmann::json{{"text", text_path},           {"documents_skipped", eval.skip},
                        {"documents", sequences.size()}, {"positions", r.positions},
                        {"original_ppl", r.reference_ppl}, {"converted_ppl", r.candidate_ppl},
                        {"original_mean_nll", r.reference_mean_nll}, {"converted_mean_nll", r.candidate_mean_nll},
                        {"kl", r.mean_kl},              {"top1_agreement", r.top1_agreement},
                        {"max_abs_logit_diff", r.max_abs_logit_diff}};
}

absl::Status RunConvert(const Flags& flags) {
#ifdef TRANSMLA_WITH_GRPC
  if (flags.Has("server")) return RunRemoteConvert(flags);
#endif
  ASSIGN_OR_RETURN(const std::string source, flags.Required("model"));
  ASSIGN_OR_RETURN(const std::string destination, flags.Required("out"));
  ASSIGN_OR_RETURN(const ConversionOptions options, ReadOptions(flags));
  ProgressBar bar("convert");
  ASSIGN_OR_RETURN(nlohmann::json report,
                   convert::ConvertModel(source, destination, options, [&](const convert::ConversionProgress& p) {
                     bar.Update(p.done, p.total, fmt::format("{} {:.1f} MiB", p.stage, p.bytes_written / 1048576.0));
                   }));
  bar.Finish();
  if (flags.Has("eval-text")) {
    ASSIGN_OR_RETURN(report["evaluation"], Evaluate(source, destination, *flags.Get("eval-text"), flags));
    std::ofstream(std::filesystem::path(destination) / "conversion_report.json") << report.dump(2) << "\n";
  }
  if (flags.Bool("json")) {
    std::cout << report.dump() << "\n";
  } else {
    PrintConversionSummary(report);
  }
  return absl::OkStatus();
}

}  // namespace

Command ConvertCommand() {
  std::set<std::string> value_flags = {"model", "out", "mode", "kv-lora-rank", "qk-rope-head-dim", "q-lora-rank",
                                       "rope-pairs", "collapse", "freqfold", "rotation", "balance", "alpha", "calibration",
                                       "calibration-samples", "calibration-length", "calibration-documents",
                                       "calibration-device", "dtype",
                                       "eval-text", "eval-skip", "eval-limit", "eval-max-len"};
  std::set<std::string> bool_flags = {"force", "json", "no-value-refit"};
  std::string remote_usage;
#ifdef TRANSMLA_WITH_GRPC
  value_flags.insert(RemoteValueFlags().begin(), RemoteValueFlags().end());
  value_flags.insert({"job-id", "label"});
  bool_flags.insert("no-download");
  remote_usage = "\n  through the ConversionService: add " + RemoteUsage() +
                 " [--job-id ID] [--label K=V]... [--no-download]; --model and --calibration are then paths on the "
                 "server, --out the local download folder (resumed when rerun)";
#endif
  return {"convert",
          "convert a llama/mistral/qwen2 folder to a stock DeepSeek-V3 (MLA) folder",
          "transmla convert --model DIR --out DIR [--mode exact|deepseek] [--kv-lora-rank N] [--qk-rope-head-dim N] "
          "[--q-lora-rank N] "
          "[--rope-pairs M] [--collapse C] [--freqfold F] [--rotation hermitian|real|query-weighted] [--balance "
          "query-whitened|transmla] [--alpha A] [--no-value-refit] [--calibration FILE|none] [--calibration-samples N] "
          "[--calibration-length N] [--calibration-documents N] [--calibration-device auto|cpu|cuda] "
          "[--dtype f32|bf16] [--eval-text FILE [--eval-skip N] [--eval-limit N] [--eval-max-len N]] [--force] "
          "[--json]" +
              remote_usage,
          value_flags,
          bool_flags,
          RunConvert};
}

}  // namespace transmla::cli
