// Load test of a running transmla-inference-server: N concurrent streams (each a client thread
// issuing GenerateStream requests back to back) for T seconds. Prints throughput and request
// latency / time-to-first-token percentiles.
//
//   build/bench/inference_load_test --server 127.0.0.1:50051 --model stories --streams 16 --seconds 10
//       [--max-tokens 64] [--prompt TEXT] [--token T]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "fmt/format.h"
#include "grpcpp/grpcpp.h"
#include "transmla/v1/inference_service.grpc.pb.h"

namespace {

namespace v1 = transmla::v1;
using Clock = std::chrono::steady_clock;

std::string Arg(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return argv[i + 1];
  }
  return fallback;
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
}

struct Totals {
  absl::Mutex mutex;
  std::vector<double> latency, first_token;
  int64_t tokens = 0, requests = 0, errors = 0;
  std::string first_error;
};

void Client(v1::InferenceService::Stub* stub, const v1::GenerateRequest& request, const std::string& token,
            Clock::time_point end, Totals* totals) {
  while (Clock::now() < end) {
    grpc::ClientContext context;
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    const Clock::time_point start = Clock::now();
    auto reader = stub->GenerateStream(&context, request);
    v1::GenerateChunk chunk;
    double first = -1;
    int64_t tokens = 0;
    while (reader->Read(&chunk)) {
      if (first < 0 && chunk.token_ids_size() > 0) first = std::chrono::duration<double>(Clock::now() - start).count();
      tokens += chunk.token_ids_size();
    }
    const grpc::Status status = reader->Finish();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    absl::MutexLock lock(&totals->mutex);
    if (!status.ok()) {
      if (totals->errors++ == 0) totals->first_error = status.error_message();
      continue;
    }
    ++totals->requests;
    totals->tokens += tokens;
    totals->latency.push_back(seconds);
    if (first >= 0) totals->first_token.push_back(first);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string server = Arg(argc, argv, "server", "");
  const std::string model = Arg(argc, argv, "model", "");
  if (server.empty() || model.empty()) {
    std::fprintf(stderr, "usage: inference_load_test --server HOST:PORT --model NAME [--streams N] [--seconds T] "
                         "[--max-tokens N] [--prompt TEXT] [--token T]\n");
    return 2;
  }
  const int streams = std::atoi(Arg(argc, argv, "streams", "8").c_str());
  const double seconds = std::atof(Arg(argc, argv, "seconds", "10").c_str());
  v1::GenerateRequest request;
  request.set_model(model);
  request.set_prompt(Arg(argc, argv, "prompt", "Once upon a time"));
  request.mutable_sampling()->set_max_tokens(std::atoi(Arg(argc, argv, "max-tokens", "64").c_str()));
  request.mutable_sampling()->set_ignore_eos(true);
  auto stub = v1::InferenceService::NewStub(grpc::CreateChannel(server, grpc::InsecureChannelCredentials()));
  Totals totals;
  const Clock::time_point start = Clock::now();
  const Clock::time_point end = start + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
  std::vector<std::thread> clients;
  for (int i = 0; i < streams; ++i) {
    clients.emplace_back(Client, stub.get(), request, Arg(argc, argv, "token", ""), end, &totals);
  }
  for (std::thread& t : clients) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("| streams | requests | errors | tokens/s | requests/s | latency p50 ms | latency p99 ms | TTFT p50 ms | TTFT p99 ms |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  std::printf("| %d | %lld | %lld | %.1f | %.2f | %.1f | %.1f | %.1f | %.1f |\n", streams,
              static_cast<long long>(totals.requests), static_cast<long long>(totals.errors),
              static_cast<double>(totals.tokens) / elapsed, static_cast<double>(totals.requests) / elapsed,
              Percentile(totals.latency, 0.5) * 1e3, Percentile(totals.latency, 0.99) * 1e3,
              Percentile(totals.first_token, 0.5) * 1e3, Percentile(totals.first_token, 0.99) * 1e3);
  if (totals.errors > 0) std::fprintf(stderr, "first error: %s\n", totals.first_error.c_str());
  return totals.errors > 0 ? 1 : 0;
}
