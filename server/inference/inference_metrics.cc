#include "server/inference/inference_metrics.h"

namespace transmla::server {
namespace {

template <typename Builder>
auto& Family(Builder builder, const char* name, const char* help, prometheus::Registry& registry) {
  return builder.Name(name).Help(help).Register(registry);
}

}  // namespace

InferenceMetrics::InferenceMetrics()
    : waiting_(Family(prometheus::BuildGauge(), "transmla_inference_requests_waiting",
                      "Requests queued behind the model's batch", *registry_)),
      running_(Family(prometheus::BuildGauge(), "transmla_inference_requests_running",
                      "Requests decoding in the model's batch", *registry_)),
      kv_bytes_(Family(prometheus::BuildGauge(), "transmla_inference_kv_cache_bytes",
                       "KV-cache bytes held by live sequences", *registry_)),
      tokens_(Family(prometheus::BuildCounter(), "transmla_inference_generated_tokens_total", "Tokens generated",
                     *registry_)),
      first_token_(Family(prometheus::BuildHistogram(), "transmla_inference_time_to_first_token_seconds",
                          "Time from a request's arrival to its first token", *registry_)),
      ready_(Family(prometheus::BuildGauge(), "transmla_inference_model_ready", "1 when the model is READY",
                    *registry_)),
      rpc_errors_(Family(prometheus::BuildCounter(), "transmla_rpc_errors_total",
                         "Calls that ended with a non-OK status", *registry_)) {}

ServingObserver InferenceMetrics::ObserverFor(const std::string& model) {
  prometheus::Gauge& waiting = waiting_.Add({{"model", model}});
  prometheus::Gauge& running = running_.Add({{"model", model}});
  prometheus::Gauge& kv_bytes = kv_bytes_.Add({{"model", model}});
  prometheus::Counter& tokens = tokens_.Add({{"model", model}});
  static const prometheus::Histogram::BucketBoundaries kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                                   0.5,   1,    2.5,   5,    10,  30};
  prometheus::Histogram& first_token = first_token_.Add({{"model", model}}, kBuckets);
  ServingObserver observer;
  observer.on_step = [&waiting, &running, &kv_bytes](const ServingStats& s) {
    waiting.Set(s.waiting);
    running.Set(s.running);
    kv_bytes.Set(static_cast<double>(s.kv_bytes));
  };
  observer.on_first_token = [&first_token](double seconds) { first_token.Observe(seconds); };
  observer.on_tokens = [&tokens](int64_t n) { tokens.Increment(static_cast<double>(n)); };
  return observer;
}

void InferenceMetrics::SetReady(const std::string& model, bool ready) {
  ready_.Add({{"model", model}}).Set(ready ? 1 : 0);
}

void InferenceMetrics::RpcError(const std::string& method, const std::string& code) {
  rpc_errors_.Add({{"method", method}, {"code", code}}).Increment();
}

}  // namespace transmla::server
