#include "client/convert_summary.h"

#include <cstdio>
#include <string>

namespace transmla::cli {

void PrintConversionSummary(const nlohmann::json& report) {
  const auto& kv = report["kv_bytes_per_token"];
  const auto& params = report["parameters"];
  std::printf("\n%-28s %14s %14s\n", "", "original", "converted");
  std::printf("%-28s %14lld %14lld\n", "KV cache bytes/token", kv["before"].get<long long>(), kv["after"].get<long long>());
  std::printf("%-28s %14lld %14lld\n", "KV values/token/layer", report["kv_values_per_token_per_layer"]["before"].get<long long>(),
              report["kv_values_per_token_per_layer"]["after"].get<long long>());
  std::printf("%-28s %14lld %14lld\n", "parameters", params["before"].get<long long>(), params["after"].get<long long>());
  if (report.contains("evaluation")) {
    const auto& e = report["evaluation"];
    std::printf("%-28s %14.4f %14.4f\n", "perplexity (held-out)", e["original_ppl"].get<double>(), e["converted_ppl"].get<double>());
    std::printf("%-28s %14s %14.4f\n", "KL(original || converted)", "", e["kl"].get<double>());
    std::printf("%-28s %14s %14.4f\n", "top-1 agreement", "", e["top1_agreement"].get<double>());
  }
  const auto& shape = report["mla_shape"];
  const auto& calibration = report["calibration"];
  std::string calibrated = calibration["mode"].get<std::string>();
  if (calibration.contains("device")) calibrated += " on " + calibration["device"].get<std::string>();
  std::printf("\nmode %s: kv_lora_rank %lld, qk_rope_head_dim %lld, qk_nope_head_dim %lld; calibration: %s; %.1fs\n",
              report["mode"].get<std::string>().c_str(), shape["kv_lora_rank"].get<long long>(),
              shape["qk_rope_head_dim"].get<long long>(), shape["qk_nope_head_dim"].get<long long>(),
              calibrated.c_str(), report["seconds"].get<double>());
  std::string engines;
  for (const auto& e : report["engines"]) engines += (engines.empty() ? "" : ", ") + e.get<std::string>();
  std::printf("runs in: %s (RoPE: %s)\n", engines.c_str(), report["rope"]["encoding"].get<std::string>().c_str());
  for (const auto& warning : report.value("warnings", nlohmann::json::array())) {
    std::printf("warning: %s\n", warning.get<std::string>().c_str());
  }
  std::printf("wrote %s\n", report["destination"].get<std::string>().c_str());
}

}  // namespace transmla::cli
