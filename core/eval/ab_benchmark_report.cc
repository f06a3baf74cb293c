#include "core/eval/ab_benchmark_report.h"

#include <cstdlib>
#include <fstream>

#include "fmt/format.h"

namespace transmla {
namespace {

nlohmann::json LatencyJson(const LatencyStats& s) { return {{"p50_s", s.p50}, {"p90_s", s.p90}, {"p99_s", s.p99}}; }

nlohmann::json ModelJson(const ModelBenchmark& m) {
  nlohmann::json contexts = nlohmann::json::array();
  for (const ContextPoint& c : m.contexts) {
    contexts.push_back({{"context_length", c.context_length},
                        {"decode_tokens_per_s", c.decode_tokens_per_s},
                        {"step_latency", LatencyJson(c.step_latency)}});
  }
  return {{"model", m.name},
          {"architecture", m.architecture},
          {"prefill_tokens_per_s", m.prefill_tokens_per_s},
          {"decode_tokens_per_s", m.decode_tokens_per_s},
          {"step_latency", LatencyJson(m.step_latency)},
          {"time_to_first_token", LatencyJson(m.time_to_first_token)},
          {"kv_bytes_per_token", m.kv_bytes_per_token},
          {"peak_kv_bytes", m.peak_kv_bytes},
          {"peak_memory_bytes", m.peak_memory_bytes},
          {"perplexity", m.perplexity},
          {"contexts", contexts}};
}

std::string Row(const std::string& name, double a, double b, const char* format) {
  const std::string ratio = a != 0 ? fmt::format("{:.3f}", b / a) : "-";
  return fmt::format("{:<32} {:>16} {:>16} {:>8}\n", name, fmt::format(fmt::runtime(format), a),
                     fmt::format(fmt::runtime(format), b), ratio);
}

}  // namespace

nlohmann::json AbBenchmarkToJson(const AbBenchmarkResult& r) {
  nlohmann::json out = {{"a", ModelJson(r.a)}, {"b", ModelJson(r.b)}};
  if (r.has_quality) {
    out["quality"] = {{"mean_kl", r.mean_kl}, {"top1_agreement", r.top1_agreement}, {"positions", r.positions}};
  }
  return out;
}

std::string AbBenchmarkTable(const AbBenchmarkResult& r) {
  std::string t = fmt::format("{:<32} {:>16} {:>16} {:>8}\n", "", "A: " + r.a.name, "B: " + r.b.name, "B/A");
  t += fmt::format("{:<32} {:>16} {:>16}\n", "architecture", r.a.architecture, r.b.architecture);
  t += Row("KV cache bytes/token", r.a.kv_bytes_per_token, r.b.kv_bytes_per_token, "{:.0f}");
  t += Row("peak KV cache MiB", r.a.peak_kv_bytes / 1048576.0, r.b.peak_kv_bytes / 1048576.0, "{:.2f}");
  t += Row("prefill tokens/s", r.a.prefill_tokens_per_s, r.b.prefill_tokens_per_s, "{:.1f}");
  t += Row("decode tokens/s", r.a.decode_tokens_per_s, r.b.decode_tokens_per_s, "{:.1f}");
  t += Row("decode step p50 ms", r.a.step_latency.p50 * 1e3, r.b.step_latency.p50 * 1e3, "{:.3f}");
  t += Row("decode step p99 ms", r.a.step_latency.p99 * 1e3, r.b.step_latency.p99 * 1e3, "{:.3f}");
  t += Row("time to first token ms", r.a.time_to_first_token.p50 * 1e3, r.b.time_to_first_token.p50 * 1e3, "{:.3f}");
  t += Row("peak RSS MiB (process)", r.a.peak_memory_bytes / 1048576.0, r.b.peak_memory_bytes / 1048576.0, "{:.1f}");
  for (size_t i = 0; i < r.a.contexts.size() && i < r.b.contexts.size(); ++i) {
    t += Row(fmt::format("decode tokens/s @ {}", r.a.contexts[i].context_length), r.a.contexts[i].decode_tokens_per_s,
             r.b.contexts[i].decode_tokens_per_s, "{:.1f}");
  }
  if (r.has_quality) {
    t += Row("perplexity (quality text)", r.a.perplexity, r.b.perplexity, "{:.4f}");
    t += fmt::format("{:<32} {:>16} {:>16.5f}\n", "KL(A || B) nats", "", r.mean_kl);
    t += fmt::format("{:<32} {:>16} {:>16.4f}\n", "top-1 agreement", "", r.top1_agreement);
  }
  return t;
}

absl::Status WriteAbBenchmarkChart(const AbBenchmarkResult& r, const std::filesystem::path& png) {
  if (r.a.contexts.empty() || r.b.contexts.empty()) {
    return absl::FailedPreconditionError("the chart needs context lengths (--context-lengths)");
  }
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    return absl::FailedPreconditionError("gnuplot is not installed (Debian package gnuplot-nox)");
  }
  const std::filesystem::path data = png.string() + ".dat", script = png.string() + ".gp";
  {
    std::ofstream out(data);
    out << "# context  a_tokens_per_s  a_step_ms  b_tokens_per_s  b_step_ms\n";
    for (size_t i = 0; i < r.a.contexts.size() && i < r.b.contexts.size(); ++i) {
      out << r.a.contexts[i].context_length << " " << r.a.contexts[i].decode_tokens_per_s << " "
          << r.a.contexts[i].step_latency.p50 * 1e3 << " " << r.b.contexts[i].decode_tokens_per_s << " "
          << r.b.contexts[i].step_latency.p50 * 1e3 << "\n";
    }
    std::ofstream gp(script);
    gp << "set terminal pngcairo size 1200,500 font 'sans,10' noenhanced\n"
       << fmt::format("set output '{}'\n", png.string()) << "set multiplot layout 1,2\n"
       << "set key top right\nset grid\nset xlabel 'context length (tokens)'\nset logscale x 2\n"
       << "set title 'decode throughput'\nset ylabel 'tokens/s'\n"
       << fmt::format("plot '{0}' using 1:2 with linespoints title 'A: {1}', '{0}' using 1:4 with linespoints "
                      "title 'B: {2}'\n",
                      data.string(), r.a.name, r.b.name)
       << "set title 'decode step latency (p50)'\nset ylabel 'ms'\n"
       << fmt::format("plot '{0}' using 1:3 with linespoints title 'A: {1}', '{0}' using 1:5 with linespoints "
                      "title 'B: {2}'\n",
                      data.string(), r.a.name, r.b.name)
       << "unset multiplot\n";
  }
  const std::string command = fmt::format("gnuplot '{}' 2>&1", script.string());
  if (std::system(command.c_str()) != 0) return absl::InternalError(fmt::format("gnuplot failed on {}", script.string()));
  std::filesystem::remove(script);
  return absl::OkStatus();
}

}  // namespace transmla
