// Conversion quality on stories260K: perplexity, KL and top-1 agreement against the original on
// held-out stories, for exact mode and deepseek mode at several (qk_rope_head_dim, m, kv_lora_rank),
// with calibration text and data-free. Prints a Markdown table (and JSON with --json).
//
//   build/bench/quality_table [--model models/stories260K] [--text models/tinystories_val_head.txt]
//                             [--out /tmp/quality] [--json FILE]
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "core/convert/converter.h"
#include "core/engine/model_loader.h"
#include "core/eval/agreement.h"
#include "core/eval/perplexity.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace {

using transmla::convert::BalanceKind;
using transmla::convert::ConversionOptions;
using transmla::convert::Mode;
using transmla::convert::RotationKind;

struct Row {
  std::string name;
  ConversionOptions options;
};

std::string Arg(int argc, char** argv, const std::string& flag, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == flag) return argv[i + 1];
  }
  return fallback;
}

ConversionOptions Deepseek(int64_t rope, int64_t m, int64_t rank, bool calibrated, RotationKind rotation,
                           BalanceKind balance, const std::filesystem::path& text) {
  ConversionOptions o;
  o.mode = Mode::kDeepseek;
  o.deepseek.qk_rope_head_dim = rope;
  o.deepseek.pairs_per_frequency = m;
  o.deepseek.kv_lora_rank = rank;
  o.deepseek.rotation = rotation;
  o.deepseek.balance = balance;
  if (balance == BalanceKind::kTransMla) {  // TransMLA as published: fixed BKV ratio, no refit
    o.deepseek.alpha_candidates.clear();
    o.deepseek.refit_values = false;
  }
  if (calibrated) {
    o.calibration.text = text;
    o.calibration.first_document = 0;  // calibration: stories 0..199; evaluation: 200..399
    o.calibration.documents = 200;
  }
  return o;
}

ConversionOptions WithFreqFold(ConversionOptions o, int64_t freqfold) {
  o.deepseek.freqfold = freqfold;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path model = Arg(argc, argv, "--model", "models/stories260K");
  const std::filesystem::path text = Arg(argc, argv, "--text", "models/tinystories_val_head.txt");
  const std::filesystem::path out = Arg(argc, argv, "--out", "/tmp/transmla_quality");
  const std::string json_path = Arg(argc, argv, "--json", "");
  std::filesystem::create_directories(out);

  auto original = transmla::LoadModel(model);
  if (!original.ok()) {
    std::cerr << "quality_table: " << original.status() << "\n";
    return 1;
  }
  std::ifstream in(text);
  std::stringstream buffer;
  buffer << in.rdbuf();
  transmla::PerplexityOptions eval;
  eval.skip = 200;
  eval.limit = 200;
  eval.max_len = 512;
  auto sequences = transmla::MakeEvalSequences(*original->tokenizer, buffer.str(), eval);
  if (!sequences.ok() || sequences->empty()) {
    std::cerr << "quality_table: no evaluation text in " << text << "\n";
    return 1;
  }

  const auto H = RotationKind::kHermitian;
  const auto R = RotationKind::kReal;
  const auto W = BalanceKind::kQueryWhitened;
  const auto B = BalanceKind::kTransMla;
  ConversionOptions exact;
  exact.mode = Mode::kExact;
  std::vector<Row> rows = {
      {"exact (all dims RoPE, latent = V)", exact},
      {"partial RoPE only: TransMLA (real RoRoPE), full rank", Deepseek(8, 1, 56, true, R, B, text)},
      {"partial RoPE only: Hermitian RoRoPE, full rank", Deepseek(8, 1, 56, true, H, W, text)},
      {"partial RoPE only: Hermitian, lowest freq dropped, full rank", Deepseek(6, 1, 58, true, H, W, text)},
      {"partial RoPE only: TransMLA + FreqFold 2, full rank", WithFreqFold(Deepseek(8, 1, 56, true, R, B, text), 2)},
      {"partial RoPE only: Hermitian + FreqFold 2, full rank", WithFreqFold(Deepseek(8, 1, 56, true, H, W, text), 2)},
      {"TransMLA algorithm (real RoRoPE + BKV) KV 40", Deepseek(8, 1, 32, true, R, B, text)},
      {"TransMLA algorithm + FreqFold 2 KV 40", WithFreqFold(Deepseek(8, 1, 32, true, R, B, text), 2)},
      {"TransMLA algorithm + FreqFold 4 KV 40", WithFreqFold(Deepseek(8, 1, 32, true, R, B, text), 4)},
      {"TransMLA algorithm KV 24", Deepseek(8, 1, 16, true, R, B, text)},
      {"TransMLA algorithm KV 16", Deepseek(8, 1, 8, true, R, B, text)},
      {"ours, default rope (6) KV 40", Deepseek(6, 1, 34, true, H, W, text)},
      {"ours, default rope (6) KV 24", Deepseek(6, 1, 18, true, H, W, text)},
      {"ours, default rope (6) KV 16", Deepseek(6, 1, 10, true, H, W, text)},
      {"ours, rope 8 (all freqs) KV 40", Deepseek(8, 1, 32, true, H, W, text)},
      {"ours, m=2 (rope 16, longrope) KV 40", Deepseek(16, 2, 24, true, H, W, text)},
      {"ours, query-weighted RoRoPE, rope 6, KV 24", Deepseek(6, 1, 18, true, RotationKind::kHermitianQueryWeighted, W, text)},
      {"ours, default rope (6) KV 24, data-free", Deepseek(6, 1, 18, false, H, W, text)},
      {"ours, default rope (6) KV 16, data-free", Deepseek(6, 1, 10, false, H, W, text)},
  };


  nlohmann::json results = nlohmann::json::array();
  std::printf("| conversion | rope dims | kv_lora_rank | KV values/token/layer | KV bytes/token (f32) | ppl | KL | top-1 |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  bool printed_original = false;
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::filesystem::path dest = out / fmt::format("row{}", i);
    rows[i].options.force = true;
    auto report = transmla::convert::ConvertModel(model, dest, rows[i].options);
    if (!report.ok()) {
      std::printf("| %s | conversion failed: %s |\n", rows[i].name.c_str(), std::string(report.status().message()).c_str());
      continue;
    }
    auto converted = transmla::LoadModel(dest);
    if (!converted.ok()) {
      std::printf("| %s | load failed: %s |\n", rows[i].name.c_str(), std::string(converted.status().message()).c_str());
      continue;
    }
    auto agreement = transmla::CompareModels(*original->engine, *converted->engine, *sequences);
    if (!agreement.ok()) {
      std::printf("| %s | eval failed |\n", rows[i].name.c_str());
      continue;
    }
    if (!printed_original) {
      std::printf("| original (GQA) | 64 | - | 64 | %lld | %.4f | 0 | 1 |\n",
                  static_cast<long long>(original->engine->KvBytesPerToken()), agreement->reference_ppl);
      printed_original = true;
    }
    const auto& shape = (*report)["mla_shape"];
    const int64_t values = (*report)["kv_values_per_token_per_layer"]["after"];
    std::printf("| %s | %d | %d | %lld | %lld | %.4f | %.4f | %.4f |\n", rows[i].name.c_str(),
                shape["qk_rope_head_dim"].get<int>(), shape["kv_lora_rank"].get<int>(), static_cast<long long>(values),
                static_cast<long long>(converted->engine->KvBytesPerToken()), agreement->candidate_ppl,
                agreement->mean_kl, agreement->top1_agreement);
    std::fflush(stdout);
    results.push_back({{"name", rows[i].name},
                       {"qk_rope_head_dim", shape["qk_rope_head_dim"]},
                       {"kv_lora_rank", shape["kv_lora_rank"]},
                       {"kv_values_per_token_per_layer", values},
                       {"ppl", agreement->candidate_ppl},
                       {"original_ppl", agreement->reference_ppl},
                       {"kl", agreement->mean_kl},
                       {"top1", agreement->top1_agreement},
                       {"positions", agreement->positions}});
  }
  if (!json_path.empty()) std::ofstream(json_path) << results.dump(2) << "\n";
  return 0;
}
