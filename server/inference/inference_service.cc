#include "server/inference/inference_service.h"

#include "core/eval/perplexity.h"
#include "fmt/format.h"
#include "server/common/server_setup.h"
#include "server/common/status_mapping.h"
#include "server/inference/benchmark_proto.h"
#include "server/inference/request_conversion.h"
#include "spdlog/spdlog.h"

namespace transmla::server {
namespace {

namespace v1 = transmla::v1;

// How often a waiting handler re-checks its client (cancel, deadline) when nothing arrives.
constexpr absl::Duration kClientPoll = absl::Milliseconds(50);

void FillUsageAndTiming(const GenerationResult& r, v1::Usage* usage, v1::Timing* timing) {
  usage->set_prompt_tokens(static_cast<int32_t>(r.prompt_ids.size()));
  usage->set_completion_tokens(static_cast<int32_t>(r.token_ids.size()));
  usage->set_total_tokens(static_cast<int32_t>(r.prompt_ids.size() + r.token_ids.size()));
  timing->set_time_to_first_token_seconds(r.time_to_first_token_s);
  timing->set_total_seconds(r.total_time_s);
  const double decode_s = r.total_time_s - r.time_to_first_token_s;
  timing->set_decode_tokens_per_second(r.token_ids.size() > 1 && decode_s > 0 ? (r.token_ids.size() - 1) / decode_s
                                                                              : 0.0);
}

}  // namespace

grpc::Status InferenceServiceImpl::Done(const char* method, const std::string& request_id, const std::string& model,
                                        const absl::Status& status) {
  const std::string shown = model.empty() ? "-" : model;
  if (status.ok()) {
    spdlog::debug("[rpc {} req={} model={}] OK", method, request_id, shown);
  } else {
    spdlog::info("[rpc {} req={} model={}] {}", method, request_id, shown, status.ToString());
    if (metrics_) metrics_->RpcError(method, absl::StatusCodeToString(status.code()));
  }
  return ToGrpcStatus(status);
}

absl::Status InferenceServiceImpl::CheckCall(grpc::ServerContext* context) const {
  if (absl::Status s = auth_->Check(*context); !s.ok()) return s;
  if (draining_.load()) return absl::UnavailableError("the server is shutting down");
  return absl::OkStatus();
}

grpc::Status InferenceServiceImpl::LoadModel(grpc::ServerContext* context, const v1::LoadModelRequest* request,
                                             v1::Model* response) {
  const std::string id = BeginCall(context);
  absl::Status status = CheckCall(context);
  if (status.ok()) {
    absl::StatusOr<ModelInfo> info = registry_->Load(request->name(), request->path());
    if (info.ok()) *response = ModelToProto(*info);
    status = info.status();
  }
  return Done("LoadModel", id, request->name(), status);
}

grpc::Status InferenceServiceImpl::UnloadModel(grpc::ServerContext* context, const v1::UnloadModelRequest* request,
                                               v1::UnloadModelResponse*) {
  const std::string id = BeginCall(context);
  absl::Status status = auth_->Check(*context);
  if (status.ok()) status = registry_->Unload(request->name());
  return Done("UnloadModel", id, request->name(), status);
}

grpc::Status InferenceServiceImpl::ListModels(grpc::ServerContext* context, const v1::ListModelsRequest*,
                                              v1::ListModelsResponse* response) {
  const std::string id = BeginCall(context);
  const absl::Status status = auth_->Check(*context);
  if (status.ok()) {
    for (const ModelInfo& info : registry_->List()) *response->add_models() = ModelToProto(info);
  }
  return Done("ListModels", id, "", status);
}

grpc::Status InferenceServiceImpl::GetModel(grpc::ServerContext* context, const v1::GetModelRequest* request,
                                            v1::Model* response) {
  const std::string id = BeginCall(context);
  absl::Status status = auth_->Check(*context);
  if (status.ok()) {
    absl::StatusOr<std::shared_ptr<HostedModel>> model = registry_->Find(request->name());
    if (model.ok()) *response = ModelToProto((*model)->Info());
    status = model.status();
  }
  return Done("GetModel", id, request->name(), status);
}

absl::StatusOr<GenerationResult> InferenceServiceImpl::RunGeneration(
    grpc::ServerContext* context, const v1::GenerateRequest& request,
    const std::function<bool(const GenerationChunk&)>& emit) {
  if (absl::Status s = CheckCall(context); !s.ok()) return s;
  if (request.model().empty()) return absl::InvalidArgumentError("model is required");
  absl::StatusOr<std::shared_ptr<HostedModel>> model = registry_->Find(request.model());
  if (!model.ok()) return model.status();
  absl::StatusOr<ServingLoop*> loop = (*model)->Loop();
  if (!loop.ok()) return loop.status();
  absl::StatusOr<SamplingParams> params = SamplingFromProto(request.sampling());
  if (!params.ok()) return params.status();
  const LoadedModel& loaded = (*model)->loaded();
  absl::StatusOr<std::vector<int32_t>> prompt =
      PromptIds(request, *loaded.tokenizer, loaded.engine->config().vocab_size);
  if (!prompt.ok()) return prompt.status();

  auto serving = std::make_shared<ServingRequest>(*std::move(prompt), *std::move(params));
  if (absl::Status s = (*loop)->Submit(serving); !s.ok()) return s;
  std::optional<absl::StatusOr<GenerationResult>> outcome;
  while (!outcome.has_value()) {
    std::vector<GenerationChunk> chunks;
    serving->Wait(kClientPoll, &chunks, &outcome);
    for (const GenerationChunk& chunk : chunks) {
      if (emit && !emit(chunk)) serving->Cancel();
    }
    if (context->IsCancelled()) serving->Cancel();  // client cancel or deadline: the loop frees it
  }
  if (context->IsCancelled() && outcome->ok()) return absl::CancelledError("the client cancelled the request");
  return *std::move(outcome);
}

grpc::Status InferenceServiceImpl::Generate(grpc::ServerContext* context, const v1::GenerateRequest* request,
                                            v1::GenerateResponse* response) {
  const std::string id = BeginCall(context);
  absl::StatusOr<GenerationResult> result = RunGeneration(context, *request, nullptr);
  if (result.ok()) {
    response->set_text(result->text);
    response->mutable_token_ids()->Add(result->token_ids.begin(), result->token_ids.end());
    response->set_finish_reason(result->finish_reason);
    FillUsageAndTiming(*result, response->mutable_usage(), response->mutable_timing());
  }
  return Done("Generate", id, request->model(), result.status());
}

grpc::Status InferenceServiceImpl::GenerateStream(grpc::ServerContext* context, const v1::GenerateRequest* request,
                                                  grpc::ServerWriter<v1::GenerateChunk>* writer) {
  const std::string id = BeginCall(context);
  absl::StatusOr<GenerationResult> result = RunGeneration(context, *request, [writer](const GenerationChunk& c) {
    v1::GenerateChunk chunk;
    chunk.set_text(c.text);
    chunk.mutable_token_ids()->Add(c.token_ids.begin(), c.token_ids.end());
    return writer->Write(chunk);
  });
  if (result.ok()) {
    v1::GenerateChunk last;
    last.set_finish_reason(result->finish_reason);
    FillUsageAndTiming(*result, last.mutable_usage(), last.mutable_timing());
    writer->Write(last);
  }
  return Done("GenerateStream", id, request->model(), result.status());
}

absl::Status InferenceServiceImpl::RunPerplexity(const v1::PerplexityRequest& request, v1::PerplexityResponse* out) {
  if (request.text().empty() == (request.token_ids_size() == 0)) {
    return absl::InvalidArgumentError(request.text().empty() ? "text or token_ids is required"
                                                             : "give text or token_ids, not both");
  }
  absl::StatusOr<std::shared_ptr<HostedModel>> model = registry_->Find(request.model());
  if (!model.ok()) return model.status();
  absl::StatusOr<ServingLoop*> loop = (*model)->Loop();
  if (!loop.ok()) return loop.status();
  PerplexityOptions options;
  options.max_len = (*model)->loaded().engine->config().max_position_embeddings;
  if (request.has_max_length()) {
    if (request.max_length() < 2) {
      return absl::InvalidArgumentError(fmt::format("max_length must be >= 2, got {}", request.max_length()));
    }
    options.max_len = request.max_length();
  }
  absl::StatusOr<PerplexityResult> result = absl::InternalError("not run");
  (*loop)->RunExclusive([&](LoadedModel& m) {
    if (!request.text().empty()) {
      result = ComputePerplexity(*m.engine, *m.tokenizer, request.text(), options);
    } else {
      result = ComputePerplexity(*m.engine, {{request.token_ids().begin(), request.token_ids().end()}}, options);
    }
  });
  if (!result.ok()) return result.status();
  out->set_perplexity(result->ppl);
  out->set_mean_nll(result->mean_nll);
  out->set_tokens(result->tokens);
  out->set_documents(result->sequences);
  return absl::OkStatus();
}

grpc::Status InferenceServiceImpl::Perplexity(grpc::ServerContext* context, const v1::PerplexityRequest* request,
                                              v1::PerplexityResponse* response) {
  const std::string id = BeginCall(context);
  absl::Status status = CheckCall(context);
  if (status.ok()) status = RunPerplexity(*request, response);
  return Done("Perplexity", id, request->model(), status);
}

absl::Status InferenceServiceImpl::RunBenchmark(grpc::ServerContext* context, const v1::BenchmarkRequest& request,
                                                grpc::ServerWriter<v1::BenchmarkEvent>* writer) {
  absl::StatusOr<AbBenchmarkSpec> spec = BenchmarkSpecFromProto(request);
  if (!spec.ok()) return spec.status();
  absl::StatusOr<std::shared_ptr<HostedModel>> a = registry_->Find(request.model_a());
  if (!a.ok()) return a.status();
  absl::StatusOr<std::shared_ptr<HostedModel>> b = registry_->Find(request.model_b());
  if (!b.ok()) return b.status();
  absl::StatusOr<ServingLoop*> loop_a = (*a)->Loop();
  if (!loop_a.ok()) return loop_a.status();
  absl::StatusOr<ServingLoop*> loop_b = (*b)->Loop();
  if (!loop_b.ok()) return loop_b.status();
  absl::StatusOr<AbBenchmarkResult> result = absl::InternalError("not run");
  auto progress = [&](const AbBenchmarkProgress& p) {
    v1::BenchmarkEvent event;
    event.set_stage(p.stage);
    event.set_done(p.done);
    event.set_total(p.total);
    return !context->IsCancelled() && writer->Write(event);
  };
  // Both engines to the benchmark alone, so the numbers are not mixed with live traffic.
  (*loop_a)->RunExclusive([&](LoadedModel& model_a) {
    auto run = [&](LoadedModel& model_b) {
      result = RunAbBenchmark(model_a, request.model_a(), model_b, request.model_b(), *spec, progress);
    };
    if (*loop_a == *loop_b) {
      run(model_a);
    } else {
      (*loop_b)->RunExclusive(run);
    }
  });
  if (!result.ok()) return result.status();
  v1::BenchmarkEvent last;
  last.set_stage("done");
  *last.mutable_result() = BenchmarkResultToProto(*result);
  writer->Write(last);
  return absl::OkStatus();
}

grpc::Status InferenceServiceImpl::Benchmark(grpc::ServerContext* context, const v1::BenchmarkRequest* request,
                                             grpc::ServerWriter<v1::BenchmarkEvent>* writer) {
  const std::string id = BeginCall(context);
  absl::Status status = CheckCall(context);
  if (status.ok()) status = RunBenchmark(context, *request, writer);
  return Done("Benchmark", id, request->model_a() + "," + request->model_b(), status);
}

}  // namespace transmla::server
