#include "server/conversion/job_proto.h"

#include "google/protobuf/util/time_util.h"

namespace transmla::server {
namespace {

using google::protobuf::util::TimeUtil;

void SetTime(int64_t ms, google::protobuf::Timestamp* out) { *out = TimeUtil::MillisecondsToTimestamp(ms); }

}  // namespace

transmla::v1::Job JobToProto(const JobView& view, bool with_report) {
  const JobRecord& r = view.record;
  transmla::v1::Job job;
  job.set_job_id(r.job_id);
  job.set_state(static_cast<transmla::v1::JobState>(static_cast<int>(r.state)));
  job.mutable_request()->ParseFromString(r.request);
  SetTime(r.create_time_ms, job.mutable_create_time());
  if (r.start_time_ms > 0) SetTime(r.start_time_ms, job.mutable_start_time());
  if (r.end_time_ms > 0) SetTime(r.end_time_ms, job.mutable_end_time());
  transmla::v1::JobProgress* p = job.mutable_progress();
  p->set_stage(r.state == JobState::kQueued ? "queued" : view.progress.stage);
  p->set_layer(view.progress.layer);
  p->set_layers(view.progress.layers);
  p->set_bytes_written(view.progress.bytes_written);
  p->set_elapsed_seconds(view.progress.elapsed_seconds);
  p->set_eta_seconds(r.state == JobState::kRunning ? view.progress.eta_seconds : (IsTerminal(r.state) ? 0 : -1));
  job.set_error_code(r.error_code);
  job.set_error_message(r.error_message);
  if (with_report) job.set_report_json(r.report_json);
  job.set_attempts(r.attempts);
  job.set_cancel_requested(r.state == JobState::kRunning && view.progress.cancel_requested);
  return job;
}

transmla::v1::LogLine LogToProto(const LogEntry& entry) {
  transmla::v1::LogLine line;
  SetTime(entry.time_ms, line.mutable_time());
  line.set_level(entry.level);
  line.set_message(entry.message);
  return line;
}

}  // namespace transmla::server
