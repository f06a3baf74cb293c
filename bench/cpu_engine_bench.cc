// CPU engine throughput next to this machine's measured peaks (same run): prefill and decode
// tokens/s, achieved GFLOP/s against single-precision GEMM peak, and achieved GB/s (weights + KV
// read per decode step) against memory-copy bandwidth. Medians of --repeats runs.
//
//   build/bench/cpu_engine_bench [--model DIR]... [--repeats 3] [--device cpu|cuda]
// Default models: the bundled stories260K and /tmp/transmla_syn100m (made with
// build/tools/make_synthetic_model --preset llama-100m when missing).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "core/engine/model_loader.h"
#ifdef TRANSMLA_HAVE_CUDA
#include "core/engine/cuda/cuda_engine.h"
#endif

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double GemmPeakGflops() {
  const int n = 1024;
  Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n), b = Eigen::MatrixXf::Random(n, n), c(n, n);
  c.noalias() = a * b;  // warm-up
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = Clock::now();
    c.noalias() = a * b;
    best = std::max(best, 2.0 * n * n * n / Seconds(t0, Clock::now()) / 1e9);
  }
  return best + 0 * c(0, 0);
}

// Streaming read bandwidth on all cores: what a decode step that reads every weight once is bound by.
double ReadPeakGBs() {
  const size_t n = (size_t{1} << 30) / sizeof(float);
  std::vector<float> data(n, 1.0f);
  double best = 0, sink = 0;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = Clock::now();
    double total = 0;
    const size_t chunks = 64, chunk = n / chunks;
#pragma omp parallel for reduction(+ : total) schedule(static)
    for (size_t c = 0; c < chunks; ++c) total += Eigen::Map<const Eigen::VectorXf>(data.data() + c * chunk, chunk).sum();
    best = std::max(best, n * sizeof(float) / Seconds(t0, Clock::now()) / 1e9);
    sink += total;
  }
  return best + 0 * sink;
}

double CopyPeakGBs() {
  const size_t bytes = size_t{1} << 30;
  std::vector<char> src(bytes, 1), dst(bytes, 0);
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = Clock::now();
    std::memcpy(dst.data(), src.data(), bytes);
    best = std::max(best, 2.0 * bytes / Seconds(t0, Clock::now()) / 1e9);  // read + write
  }
  return best;
}

struct Row {
  std::string model, phase;
  double tokens_per_s, gflops, gbs;
};

// FLOPs of one token at context `ctx`: 2 per weight (matmuls incl. LM head) + attention 4*ctx*n_h*d_h per layer.
double TokenFlops(const transmla::Engine& e, int64_t ctx) {
  const auto& c = e.config();
  return 2.0 * e.NumParameters() +
         4.0 * ctx * c.num_attention_heads * c.head_dim * c.num_hidden_layers;
}

std::vector<int32_t> Tokens(int64_t n, int64_t vocab, int64_t salt) {
  std::vector<int32_t> ids(n);
  for (int64_t i = 0; i < n; ++i) ids[i] = static_cast<int32_t>((i * 7919 + salt * 104729 + 3) % vocab);
  return ids;
}

void BenchModel(const std::string& path, const std::string& device, int repeats, std::vector<Row>* rows) {
  transmla::EngineOptions options;
  options.device = device;
  auto model = transmla::LoadModel(path, options);
  if (!model.ok()) {
    std::fprintf(stderr, "skipping %s: %s\n", path.c_str(), std::string(model.status().message()).c_str());
    return;
  }
  transmla::Engine& e = *model->engine;
  const int64_t vocab = e.config().vocab_size;
  const std::string name = std::filesystem::path(path).filename().string();
  // Float32 weights read per step: all but the embedding table, of which a step reads a few rows
  // (unless it doubles as the LM head).
  const auto& c = e.config();
  const double weight_bytes =
      4.0 * (e.NumParameters() - (c.tie_word_embeddings ? 0 : c.vocab_size * c.hidden_size));
  for (int64_t len : {128, 512}) {
    if (len > e.config().max_position_embeddings) continue;
    std::vector<double> times;
    for (int r = 0; r < repeats; ++r) {
      auto seq = e.NewSequence();
      std::vector<std::vector<float>> logits;
      const auto ids = Tokens(len, vocab, r);
      const auto t0 = Clock::now();
      (void)e.Forward({{seq.get(), ids, false}}, &logits);
      times.push_back(Seconds(t0, Clock::now()));
    }
    const double t = Median(times);
    rows->push_back({name, "prefill " + std::to_string(len), len / t, len * TokenFlops(e, len / 2) / t / 1e9,
                     weight_bytes / t / 1e9});
  }
  for (int batch : {1, 8}) {
    const int64_t prompt = 128, steps = 64;
    std::vector<double> times;
    for (int r = 0; r < repeats; ++r) {
      std::vector<std::unique_ptr<transmla::Sequence>> seqs;
      std::vector<std::vector<int32_t>> prompts;
      std::vector<transmla::ForwardStep> prefill;
      for (int b = 0; b < batch; ++b) {
        seqs.push_back(e.NewSequence());
        prompts.push_back(Tokens(prompt, vocab, b));
      }
      for (int b = 0; b < batch; ++b) prefill.push_back({seqs[b].get(), prompts[b], false});
      std::vector<std::vector<float>> logits;
      (void)e.Forward(prefill, &logits);
      std::vector<int32_t> next(batch, 5);
      const auto t0 = Clock::now();
      for (int64_t s = 0; s < steps; ++s) {
        std::vector<transmla::ForwardStep> step;
        for (int b = 0; b < batch; ++b) step.push_back({seqs[b].get(), absl::MakeConstSpan(&next[b], 1), false});
        (void)e.Forward(step, &logits);
      }
      times.push_back(Seconds(t0, Clock::now()) / steps);
    }
    const double step_s = Median(times);
    const int64_t ctx = prompt + steps / 2;
    const double kv_bytes = static_cast<double>(batch) * ctx * e.KvBytesPerToken();
    rows->push_back({name, "decode batch " + std::to_string(batch), batch / step_s,
                     batch * TokenFlops(e, ctx) / step_s / 1e9, (weight_bytes + kv_bytes) / step_s / 1e9});
  }
}

}  // namespace

int main(int argc, char** argv) {
#ifdef TRANSMLA_HAVE_CUDA
  transmla::cuda::RegisterCudaBackend();
#endif
  std::vector<std::string> models;
  int repeats = 3;
  std::string device = "cpu";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--model") models.push_back(argv[i + 1]);
    if (std::string(argv[i]) == "--device") device = argv[i + 1];
    if (std::string(argv[i]) == "--repeats") repeats = std::max(1, std::atoi(argv[i + 1]));
  }
  if (models.empty()) {
    models = {TRANSMLA_SOURCE_DIR "/models/stories260K", "/tmp/transmla_syn100m"};
    if (!std::filesystem::exists(models[1])) {
      const std::string cmd = std::string(TRANSMLA_BINARY_DIR "/tools/make_synthetic_model --preset llama-100m --out ") +
                              models[1] + " --dtype bf16 2>/dev/null";
      if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "could not create %s\n", models[1].c_str());
    }
  }
  const double gemm = GemmPeakGflops();
  const double copy = CopyPeakGBs();
  const double read = ReadPeakGBs();
  std::printf("machine peaks (measured now): SGEMM %.1f GFLOP/s (Eigen, %d threads), streaming read %.1f GB/s, "
              "memcpy %.1f GB/s (read+write)\n\n",
              gemm, Eigen::nbThreads(), read, copy);
  std::vector<Row> rows;
  if (device != "cpu") {
    std::printf("device %s: the peaks above are the host CPU's; compare GB/s with the device's own bandwidth\n\n",
                device.c_str());
  }
  for (const std::string& m : models) BenchModel(m, device, repeats, &rows);
  std::printf("| model | phase | tokens/s | GFLOP/s | %% of SGEMM peak | GB/s | %% of read bandwidth |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (const Row& r : rows) {
    std::printf("| %s | %s | %.1f | %.2f | %.1f%% | %.2f | %.1f%% |\n", r.model.c_str(), r.phase.c_str(),
                r.tokens_per_s, r.gflops, 100 * r.gflops / gemm, r.gbs, 100 * r.gbs / read);
  }
  return 0;
}
