#ifndef TRANSMLA_CORE_EVAL_AB_BENCHMARK_REPORT_H_
#define TRANSMLA_CORE_EVAL_AB_BENCHMARK_REPORT_H_

#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "core/eval/ab_benchmark.h"
#include "nlohmann/json.hpp"

namespace transmla {

nlohmann::json AbBenchmarkToJson(const AbBenchmarkResult& result);

// The side-by-side table: metric, A, B, B/A.
std::string AbBenchmarkTable(const AbBenchmarkResult& result);

// A PNG with two panels, decode tokens/s and per-step latency against context length for both
// models, drawn by gnuplot (Debian package gnuplot-nox). FailedPrecondition when gnuplot is
// missing or the result has no context points.
absl::Status WriteAbBenchmarkChart(const AbBenchmarkResult& result, const std::filesystem::path& png);

}  // namespace transmla

#endif  // TRANSMLA_CORE_EVAL_AB_BENCHMARK_REPORT_H_
