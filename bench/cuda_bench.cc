// CUDA engine decode and prefill next to the memory-bandwidth floor measured in the same run.
// Decode: every sequence of the batch is first grown to the context length without running the
// model (ExtendForBenchmark: zero cache entries, same bytes read), then one token per sequence per
// step; the floor of a step is (weight bytes but the embedding table's, of which a step gathers a
// row per sequence + KV bytes of all sequences) / copy bandwidth, where
// copy bandwidth is (bytes read + bytes written) / time of a 4 GiB device-to-device copy. Cells that
// do not fit in memory retry at half the batch (the table says which batch ran). Prefill: one
// sequence of N tokens from empty. Medians of --repeats timed steps; --json writes every cell.
// Decode steps pick each sequence's greedy token on the device and feed it back (what `transmla
// generate` does at temperature 0); --host-logits 1 copies every sequence's logits out instead,
// the path of sampling at a temperature.
//
//   build/bench/cuda_bench --model DIR [--model DIR]... [--batches 1,8,32] [--contexts 1024,8192,32768]
//                          [--prefill 2048,8192] [--repeats 5] [--gpu-dtype auto|bf16|f16|f32] [--json FILE]
//                          [--profile-last-step 1] [--host-logits 1]
// --profile-last-step 1 brackets each cell's last step (decode) or pass (prefill) with
// cudaProfilerStart/Stop, so that `ncu --profile-from-start off` sees the kernels of exactly one.
#include <cuda_profiler_api.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "core/engine/cuda/cuda_engine.h"
#include "core/engine/model_loader.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<int64_t> IntList(const std::string& text) {
  std::vector<int64_t> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    int64_t v = 0;
    if (absl::SimpleAtoi(part, &v)) out.push_back(v);
  }
  return out;
}

// (bytes read + bytes written) per second of a device-to-device copy.
double CopyBandwidth() {
  const size_t bytes = size_t{4} << 30;
  void *a = nullptr, *b = nullptr;
  if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess) return 0;
  cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
  std::vector<double> times;
  for (int i = 0; i < 5; ++i) {
    cudaDeviceSynchronize();
    const auto t0 = Clock::now();
    cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
    cudaDeviceSynchronize();
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  cudaFree(a);
  cudaFree(b);
  return 2.0 * static_cast<double>(bytes) / Median(times);
}

struct Cell {
  std::string kind;
  int64_t batch = 0, context = 0, requested_batch = 0;
  double seconds = 0, floor_seconds = 0, tokens_per_second = 0;
  std::string error;
};

// One decode cell: median seconds per step.
Cell Decode(transmla::Engine& engine, int64_t batch, int64_t context, int repeats, double bandwidth, bool profile,
            bool host_logits) {
  Cell cell;
  cell.kind = "decode";
  cell.batch = cell.requested_batch = batch;
  cell.context = context;
  for (; cell.batch >= 1; cell.batch /= 2) {
    std::vector<std::unique_ptr<transmla::Sequence>> seqs;
    absl::Status status;
    for (int64_t i = 0; i < cell.batch && status.ok(); ++i) {
      seqs.push_back(engine.NewSequence());
      status = transmla::cuda::ExtendForBenchmark(seqs.back().get(), context);
    }
    // Each sequence's greedy token is its next input, as in `transmla generate` at temperature 0.
    std::vector<int32_t> inputs(seqs.size(), 1), picked(seqs.size(), 1);
    std::vector<transmla::ForwardStep> steps;
    for (size_t i = 0; i < seqs.size(); ++i) {
      steps.push_back({seqs[i].get(), absl::MakeConstSpan(&inputs[i], 1), false, host_logits ? nullptr : &picked[i]});
    }
    std::vector<std::vector<float>> logits;
    std::vector<double> times;
    for (int r = 0; r < repeats + 2 && status.ok(); ++r) {
      const bool profiled = profile && r == repeats + 1;
      if (profiled) cudaProfilerStart();
      const auto t0 = Clock::now();
      status = engine.Forward(steps, &logits);
      inputs = picked;
      if (profiled) cudaProfilerStop();
      if (r >= 2) times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    if (!status.ok()) {
      cell.error = std::string(status.message());
      if (status.code() == absl::StatusCode::kResourceExhausted) continue;
      return cell;
    }
    cell.error.clear();
    cell.seconds = Median(times);
    const double kv = static_cast<double>(engine.KvBytesPerToken()) * static_cast<double>(cell.batch) *
                      static_cast<double>(context);
    cell.floor_seconds = (static_cast<double>(engine.WeightBytesReadPerStep()) + kv) / bandwidth;
    cell.tokens_per_second = static_cast<double>(cell.batch) / cell.seconds;
    return cell;
  }
  cell.batch = 0;
  return cell;
}

Cell Prefill(transmla::Engine& engine, int64_t length, int repeats, double bandwidth, bool profile) {
  Cell cell;
  cell.kind = "prefill";
  cell.batch = cell.requested_batch = 1;
  cell.context = length;
  std::vector<int32_t> tokens(static_cast<size_t>(length));
  for (int64_t i = 0; i < length; ++i) tokens[static_cast<size_t>(i)] = static_cast<int32_t>((i * 7919) % 1000 + 1);
  std::vector<double> times;
  for (int r = 0; r < repeats + 1; ++r) {
    auto seq = engine.NewSequence();
    std::vector<std::vector<float>> logits;
    const bool profiled = profile && r == repeats;
    if (profiled) cudaProfilerStart();
    const auto t0 = Clock::now();
    const absl::Status status = engine.Forward({{seq.get(), tokens, false}}, &logits);
    if (profiled) cudaProfilerStop();
    if (!status.ok()) {
      cell.error = std::string(status.message());
      return cell;
    }
    if (r >= 1) times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  cell.seconds = Median(times);
  cell.floor_seconds = static_cast<double>(engine.WeightBytes()) / bandwidth;
  cell.tokens_per_second = static_cast<double>(length) / cell.seconds;
  return cell;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> models;
  std::string batches = "1,8,32", contexts = "1024,8192,32768", prefill = "2048,8192", json_path, dtype = "auto";
  int repeats = 5;
  bool profile = false, host_logits = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--model") models.push_back(value);
    else if (flag == "--batches") batches = value;
    else if (flag == "--contexts") contexts = value;
    else if (flag == "--prefill") prefill = value;
    else if (flag == "--repeats") repeats = std::max(1, std::stoi(value));
    else if (flag == "--gpu-dtype") dtype = value;
    else if (flag == "--json") json_path = value;
    else if (flag == "--profile-last-step") profile = value == "1";
    else if (flag == "--host-logits") host_logits = value == "1";
    else {
      std::fprintf(stderr, "cuda_bench: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  transmla::cuda::RegisterCudaBackend();
  std::string why;
  if (!transmla::cuda::CudaDeviceAvailable(&why)) {
    std::fprintf(stderr, "cuda_bench: no CUDA device (%s)\n", why.c_str());
    return 1;
  }
  const double bandwidth = CopyBandwidth();
  std::printf("copy bandwidth (read + write): %.0f GB/s\n\n", bandwidth / 1e9);
  std::printf("| model | arch | weights | KV B/token | phase | batch | context | tok/s | ms/step | floor ms | %% of floor |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  nlohmann::json out = {{"copy_bandwidth_bytes_per_second", bandwidth}, {"cells", nlohmann::json::array()}};
  for (const std::string& dir : models) {
    transmla::EngineOptions options;
    options.device = "cuda";
    options.gpu_dtype = dtype;
    absl::StatusOr<transmla::LoadedModel> model = transmla::LoadModel(dir, options);
    if (!model.ok()) {
      std::fprintf(stderr, "cuda_bench: %s: %s\n", dir.c_str(), std::string(model.status().message()).c_str());
      return 1;
    }
    transmla::Engine& engine = *model->engine;
    const std::string arch =
        engine.config().architecture == transmla::Architecture::kDeepseekV3 ? "deepseek_v3 (MLA)" : "llama (GQA)";
    std::vector<Cell> cells;
    for (int64_t length : IntList(prefill)) cells.push_back(Prefill(engine, length, repeats, bandwidth, profile));
    for (int64_t context : IntList(contexts)) {
      for (int64_t batch : IntList(batches)) {
        cells.push_back(Decode(engine, batch, context, repeats, bandwidth, profile, host_logits));
      }
    }
    for (const Cell& c : cells) {
      const std::string batch = c.batch == c.requested_batch ? std::to_string(c.batch)
                                                             : fmt::format("{} (of {})", c.batch, c.requested_batch);
      if (!c.error.empty() || c.batch == 0) {
        std::printf("| %s | %s | %s | %lld | %s | %s | %lld | - | - | - | %s |\n", dir.c_str(), arch.c_str(),
                    engine.WeightDType().c_str(), static_cast<long long>(engine.KvBytesPerToken()), c.kind.c_str(),
                    batch.c_str(), static_cast<long long>(c.context), c.error.empty() ? "does not fit" : c.error.c_str());
      } else {
        std::printf("| %s | %s | %s | %lld | %s | %s | %lld | %.1f | %.2f | %.2f | %.0f%% |\n", dir.c_str(), arch.c_str(),
                    engine.WeightDType().c_str(), static_cast<long long>(engine.KvBytesPerToken()), c.kind.c_str(),
                    batch.c_str(), static_cast<long long>(c.context), c.tokens_per_second, c.seconds * 1e3,
                    c.floor_seconds * 1e3, 100.0 * c.floor_seconds / c.seconds);
      }
      std::fflush(stdout);
      out["cells"].push_back({{"model", dir}, {"arch", arch}, {"phase", c.kind}, {"batch", c.batch},
                              {"requested_batch", c.requested_batch}, {"context", c.context},
                              {"tokens_per_second", c.tokens_per_second}, {"seconds", c.seconds},
                              {"floor_seconds", c.floor_seconds}, {"kv_bytes_per_token", engine.KvBytesPerToken()},
                              {"weight_bytes", engine.WeightBytes()},
                              {"weight_bytes_read_per_step", engine.WeightBytesReadPerStep()}, {"error", c.error}});
    }
  }
  if (!json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
  return 0;
}
