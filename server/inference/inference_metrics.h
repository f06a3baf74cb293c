#ifndef TRANSMLA_SERVER_INFERENCE_INFERENCE_METRICS_H_
#define TRANSMLA_SERVER_INFERENCE_INFERENCE_METRICS_H_

#include <string>

#include "server/common/metrics.h"
#include "server/inference/serving_loop.h"

namespace transmla::server {

// The inference service's Prometheus metrics (names are a contract with deploy/'s HPA):
//   transmla_inference_requests_waiting{model}            gauge: queued behind the batch
//   transmla_inference_requests_running{model}            gauge: decoding in the batch
//   transmla_inference_kv_cache_bytes{model}              gauge: KV cache held by live sequences
//   transmla_inference_generated_tokens_total{model}      counter
//   transmla_inference_time_to_first_token_seconds{model} histogram (arrival to first token)
//   transmla_inference_model_ready{model}                 gauge: 1 when READY
//   transmla_rpc_errors_total{method,code}                counter
class InferenceMetrics : public MetricsEndpoint {
 public:
  InferenceMetrics();

  // An observer that feeds this model's series from its serving loop.
  ServingObserver ObserverFor(const std::string& model);
  void SetReady(const std::string& model, bool ready);
  void RpcError(const std::string& method, const std::string& code);

 private:
  prometheus::Family<prometheus::Gauge>& waiting_;
  prometheus::Family<prometheus::Gauge>& running_;
  prometheus::Family<prometheus::Gauge>& kv_bytes_;
  prometheus::Family<prometheus::Counter>& tokens_;
  prometheus::Family<prometheus::Histogram>& first_token_;
  prometheus::Family<prometheus::Gauge>& ready_;
  prometheus::Family<prometheus::Counter>& rpc_errors_;
};

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_INFERENCE_INFERENCE_METRICS_H_
