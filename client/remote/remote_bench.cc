#include "client/command.h"
#include "client/progress_bar.h"
#include "core/util/status_macros.h"
#include "transmla/v1/inference_service.grpc.pb.h"

namespace transmla::cli {
namespace {

namespace v1 = transmla::v1;

LatencyStats LatencyFromProto(const v1::LatencyPercentiles& p) { return {p.p50_seconds(), p.p90_seconds(), p.p99_seconds()}; }

ModelBenchmark ModelFromProto(const v1::ModelBenchmark& m) {
  ModelBenchmark out;
  out.name = m.model();
  out.architecture = m.architecture();
  out.prefill_tokens_per_s = m.prefill_tokens_per_second();
  out.decode_tokens_per_s = m.decode_tokens_per_second();
  out.step_latency = LatencyFromProto(m.step_latency());
  out.time_to_first_token = LatencyFromProto(m.time_to_first_token());
  out.kv_bytes_per_token = m.kv_bytes_per_token();
  out.peak_kv_bytes = m.peak_kv_bytes();
  out.peak_memory_bytes = m.peak_memory_bytes();
  out.perplexity = m.perplexity();
  for (const v1::ContextPoint& c : m.contexts()) {
    out.contexts.push_back({c.context_length(), c.decode_tokens_per_second(), LatencyFromProto(c.step_latency())});
  }
  return out;
}

}  // namespace

absl::StatusOr<AbBenchmarkResult> RunRemoteBench(const Flags& flags, const AbBenchmarkSpec& spec) {
  ASSIGN_OR_RETURN(Connection<v1::InferenceService> connection, Connect<v1::InferenceService>(flags));
  v1::BenchmarkRequest request;
  ASSIGN_OR_RETURN(*request.mutable_model_a(), flags.Required("model-a"));
  ASSIGN_OR_RETURN(*request.mutable_model_b(), flags.Required("model-b"));
  for (const std::string& p : spec.prompts) request.add_prompts(p);
  request.set_batch(spec.batch);
  request.set_prompt_length(spec.prompt_length);
  request.set_output_length(spec.output_length);
  v1::SamplingParams* sampling = request.mutable_sampling();
  sampling->set_temperature(spec.sampling.temperature);
  sampling->set_top_p(spec.sampling.top_p);
  sampling->set_top_k(spec.sampling.top_k);
  sampling->set_repetition_penalty(spec.sampling.repetition_penalty);
  if (spec.sampling.seed) sampling->set_seed(*spec.sampling.seed);
  for (int length : spec.context_lengths) request.add_context_lengths(length);
  request.set_quality_text(spec.quality_text);
  request.set_quality_documents(spec.quality_documents);
  const std::unique_ptr<grpc::ClientContext> context = NewCallContext(connection.options, /*with_deadline=*/false);
  auto reader = connection.stub->Benchmark(context.get(), request);
  ProgressBar bar("bench");
  v1::BenchmarkEvent event;
  std::optional<v1::BenchmarkResult> result;
  while (reader->Read(&event)) {
    if (event.has_result()) {
      result = event.result();
    } else {
      bar.Update(event.done(), event.total(), event.stage());
    }
  }
  bar.Finish();
  RETURN_IF_ERROR(FromGrpc(reader->Finish(), "Benchmark"));
  if (!result) return absl::DataLossError("Benchmark: the stream ended without a result");
  AbBenchmarkResult out;
  out.a = ModelFromProto(result->a());
  out.b = ModelFromProto(result->b());
  out.has_quality = !spec.quality_text.empty();
  out.mean_kl = result->mean_kl();
  out.top1_agreement = result->top1_agreement();
  out.positions = result->positions();
  return out;
}

}  // namespace transmla::cli
