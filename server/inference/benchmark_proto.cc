#include "server/inference/benchmark_proto.h"

#include "server/inference/request_conversion.h"

namespace transmla::server {
namespace {

namespace v1 = transmla::v1;

void LatencyToProto(const LatencyStats& s, v1::LatencyPercentiles* out) {
  out->set_p50_seconds(s.p50);
  out->set_p90_seconds(s.p90);
  out->set_p99_seconds(s.p99);
}

void ModelToProto(const ModelBenchmark& m, v1::ModelBenchmark* out) {
  out->set_model(m.name);
  out->set_architecture(m.architecture);
  out->set_prefill_tokens_per_second(m.prefill_tokens_per_s);
  out->set_decode_tokens_per_second(m.decode_tokens_per_s);
  LatencyToProto(m.step_latency, out->mutable_step_latency());
  LatencyToProto(m.time_to_first_token, out->mutable_time_to_first_token());
  out->set_kv_bytes_per_token(m.kv_bytes_per_token);
  out->set_peak_kv_bytes(m.peak_kv_bytes);
  out->set_peak_memory_bytes(m.peak_memory_bytes);
  out->set_perplexity(m.perplexity);
  for (const ContextPoint& c : m.contexts) {
    v1::ContextPoint* point = out->add_contexts();
    point->set_context_length(c.context_length);
    point->set_decode_tokens_per_second(c.decode_tokens_per_s);
    LatencyToProto(c.step_latency, point->mutable_step_latency());
  }
}

}  // namespace

absl::StatusOr<AbBenchmarkSpec> BenchmarkSpecFromProto(const v1::BenchmarkRequest& request) {
  AbBenchmarkSpec spec;
  spec.prompts.assign(request.prompts().begin(), request.prompts().end());
  if (request.batch() != 0) spec.batch = request.batch();
  if (request.prompt_length() != 0) spec.prompt_length = request.prompt_length();
  if (request.output_length() != 0) spec.output_length = request.output_length();
  absl::StatusOr<SamplingParams> sampling = SamplingFromProto(request.sampling());
  if (!sampling.ok()) return sampling.status();
  spec.sampling = *sampling;
  spec.context_lengths.assign(request.context_lengths().begin(), request.context_lengths().end());
  spec.quality_text = request.quality_text();
  if (request.has_quality_documents()) {
    if (request.quality_documents() < 1) return absl::InvalidArgumentError("quality_documents must be >= 1");
    spec.quality_documents = request.quality_documents();
  }
  return spec;
}

v1::BenchmarkResult BenchmarkResultToProto(const AbBenchmarkResult& result) {
  v1::BenchmarkResult out;
  ModelToProto(result.a, out.mutable_a());
  ModelToProto(result.b, out.mutable_b());
  out.set_mean_kl(result.mean_kl);
  out.set_top1_agreement(result.top1_agreement);
  out.set_positions(result.positions);
  return out;
}

}  // namespace transmla::server
