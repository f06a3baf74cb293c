#ifndef TRANSMLA_SERVER_INFERENCE_BENCHMARK_PROTO_H_
#define TRANSMLA_SERVER_INFERENCE_BENCHMARK_PROTO_H_

#include "absl/status/statusor.h"
#include "core/eval/ab_benchmark.h"
#include "transmla/v1/inference_service.pb.h"

namespace transmla::server {

// The workload of a Benchmark request (InvalidArgument naming the field for bad sampling).
absl::StatusOr<AbBenchmarkSpec> BenchmarkSpecFromProto(const transmla::v1::BenchmarkRequest& request);

transmla::v1::BenchmarkResult BenchmarkResultToProto(const AbBenchmarkResult& result);

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_INFERENCE_BENCHMARK_PROTO_H_
