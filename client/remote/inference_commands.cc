#include <cstdio>
#include <iostream>
#include <thread>

#include "client/command.h"
#include "client/generation_summary.h"
#include "client/sampling_flags.h"
#include "client/remote/proto_json.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"
#include "transmla/v1/inference_service.grpc.pb.h"

namespace transmla::cli {
namespace {

namespace v1 = transmla::v1;

using InferenceConnection = Connection<v1::InferenceService>;

v1::SamplingParams SamplingToProto(const SamplingParams& p) {
  v1::SamplingParams out;
  out.set_temperature(p.temperature);
  out.set_top_p(p.top_p);
  out.set_top_k(p.top_k);
  out.set_max_tokens(p.max_tokens);
  out.set_repetition_penalty(p.repetition_penalty);
  if (p.seed) out.set_seed(*p.seed);
  for (const std::string& s : p.stop) out.add_stop(s);
  for (int32_t id : p.stop_token_ids) out.add_stop_token_ids(id);
  out.set_ignore_eos(p.ignore_eos);
  return out;
}

std::string StateName(v1::ModelState state) {
  std::string name = v1::ModelState_Name(state).substr(std::string("MODEL_STATE_").size());
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

void PrintModel(const v1::Model& m) {
  std::printf("%-20s %-9s %-12s %12lld %-6s %-7s %10lld %8d %8d  %s\n", m.name().c_str(), StateName(m.state()).c_str(),
              m.architecture().c_str(), static_cast<long long>(m.parameters()), m.dtype().c_str(), m.device().c_str(),
              static_cast<long long>(m.kv_bytes_per_token()), m.requests_running(), m.requests_waiting(),
              m.state() == v1::MODEL_STATE_FAILED ? m.failure_reason().c_str() : m.path().c_str());
}

void PrintModelHeader() {
  std::printf("%-20s %-9s %-12s %12s %-6s %-7s %10s %8s %8s  %s\n", "MODEL", "STATE", "ARCH", "PARAMS", "DTYPE",
              "DEVICE", "KV B/TOK", "RUNNING", "WAITING", "PATH");
}

absl::StatusOr<v1::Model> GetModel(InferenceConnection& c, const std::string& name) {
  v1::GetModelRequest request;
  request.set_name(name);
  v1::Model model;
  const std::unique_ptr<grpc::ClientContext> context = NewCallContext(c.options);
  RETURN_IF_ERROR(FromGrpc(c.stub->GetModel(context.get(), request, &model), "GetModel"));
  return model;
}

absl::Status RunList(const Flags& flags) {
  ASSIGN_OR_RETURN(InferenceConnection c, Connect<v1::InferenceService>(flags));
  v1::ListModelsResponse response;
  const std::unique_ptr<grpc::ClientContext> context = NewCallContext(c.options);
  RETURN_IF_ERROR(FromGrpc(c.stub->ListModels(context.get(), {}, &response), "ListModels"));
  if (flags.Bool("json")) {
    std::cout << ProtoToJson(response) << "\n";
    return absl::OkStatus();
  }
  PrintModelHeader();
  for (const v1::Model& m : response.models()) PrintModel(m);
  return absl::OkStatus();
}

absl::Status RunGet(const Flags& flags) {
  ASSIGN_OR_RETURN(InferenceConnection c, Connect<v1::InferenceService>(flags));
  ASSIGN_OR_RETURN(const std::string name, flags.Required("id"));
  ASSIGN_OR_RETURN(const v1::Model model, GetModel(c, name));
  if (flags.Bool("json")) {
    std::cout << ProtoToJson(model) << "\n";
  } else {
    PrintModelHeader();
    PrintModel(model);
  }
  return absl::OkStatus();
}

absl::Status RunLoad(const Flags& flags) {
  ASSIGN_OR_RETURN(InferenceConnection c, Connect<v1::InferenceService>(flags));
  v1::LoadModelRequest request;
  ASSIGN_OR_RETURN(*request.mutable_name(), flags.Required("id"));
  ASSIGN_OR_RETURN(*request.mutable_path(), flags.Required("path"));
  v1::Model model;
  const std::unique_ptr<grpc::ClientContext> context = NewCallContext(c.options);
  RETURN_IF_ERROR(FromGrpc(c.stub->LoadModel(context.get(), request, &model), "LoadModel"));
  if (!flags.Bool("no-wait")) {
    while (model.state() == v1::MODEL_STATE_LOADING) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      ASSIGN_OR_RETURN(model, GetModel(c, request.name()));
    }
    if (model.state() == v1::MODEL_STATE_FAILED) {
      return absl::FailedPreconditionError(fmt::format("model {} failed to load: {}", model.name(), model.failure_reason()));
    }
  }
  PrintModelHeader();
  PrintModel(model);
  return absl::OkStatus();
}

absl::Status RunUnload(const Flags& flags) {
  ASSIGN_OR_RETURN(InferenceConnection c, Connect<v1::InferenceService>(flags));
  v1::UnloadModelRequest request;
  ASSIGN_OR_RETURN(*request.mutable_name(), flags.Required("id"));
  v1::UnloadModelResponse response;
  const std::unique_ptr<grpc::ClientContext> context = NewCallContext(c.options);
  RETURN_IF_ERROR(FromGrpc(c.stub->UnloadModel(context.get(), request, &response), "UnloadModel"));
  std::printf("model %s unloaded\n", request.name().c_str());
  return absl::OkStatus();
}

Command ModelCommand(const std::string& verb, const std::string& summary, const std::string& usage,
                     std::set<std::string> value_flags, std::set<std::string> bool_flags,
                     std::function<absl::Status(const Flags&)> run) {
  value_flags.insert(RemoteValueFlags().begin(), RemoteValueFlags().end());
  return {"models " + verb, summary, "transmla models " + verb + " " + usage + " " + RemoteUsage(), value_flags,
          bool_flags, std::move(run)};
}

}  // namespace

absl::Status RunRemoteGenerate(const Flags& flags) {
  ASSIGN_OR_RETURN(InferenceConnection c, Connect<v1::InferenceService>(flags));
  ASSIGN_OR_RETURN(const SamplingParams params, ReadSamplingFlags(flags));
  v1::GenerateRequest request;
  ASSIGN_OR_RETURN(*request.mutable_model(), flags.Required("model"));
  request.set_prompt(flags.Get("prompt").value_or(""));
  *request.mutable_sampling() = SamplingToProto(params);
  const bool json = flags.Bool("json");
  const std::unique_ptr<grpc::ClientContext> context = NewCallContext(c.options, /*with_deadline=*/true);
  std::unique_ptr<grpc::ClientReader<v1::GenerateChunk>> reader = c.stub->GenerateStream(context.get(), request);
  GenerationSummary summary;
  v1::GenerateChunk chunk;
  while (reader->Read(&chunk)) {
    if (!json) {
      std::fwrite(chunk.text().data(), 1, chunk.text().size(), stdout);
      std::fflush(stdout);
    }
    summary.text += chunk.text();
    summary.token_ids.insert(summary.token_ids.end(), chunk.token_ids().begin(), chunk.token_ids().end());
    if (!chunk.finish_reason().empty()) {
      summary.finish_reason = chunk.finish_reason();
      summary.prompt_tokens = static_cast<size_t>(chunk.usage().prompt_tokens());
      summary.time_to_first_token_s = chunk.timing().time_to_first_token_seconds();
      summary.tokens_per_s = chunk.timing().decode_tokens_per_second();
    }
  }
  RETURN_IF_ERROR(FromGrpc(reader->Finish(), "GenerateStream"));
  PrintGenerationSummary(json, summary);
  return absl::OkStatus();
}

std::vector<Command> ModelsCommands() {
  return {
      ModelCommand("list", "models on an inference server with state, size, device and load", "[--json]", {},
                   {"json"}, RunList),
      ModelCommand("get", "one model's state, KV bytes/token and load", "NAME [--json]", {"id"}, {"json"}, RunGet),
      ModelCommand("load", "load a model (a path inside the server's model roots) and wait until READY",
                   "NAME --path PATH [--no-wait]", {"id", "path"}, {"no-wait"}, RunLoad),
      ModelCommand("unload", "unload a model (its running requests end with ABORTED)", "NAME", {"id"}, {}, RunUnload),
  };
}

}  // namespace transmla::cli
