#ifndef TRANSMLA_SERVER_CONVERSION_JOB_PROTO_H_
#define TRANSMLA_SERVER_CONVERSION_JOB_PROTO_H_

#include "server/conversion/job_queue.h"
#include "transmla/v1/conversion_service.pb.h"

namespace transmla::server {

// The wire form of a job. `with_report` false leaves report_json out (list pages stay small).
transmla::v1::Job JobToProto(const JobView& view, bool with_report);

// The wire form of a log line.
transmla::v1::LogLine LogToProto(const LogEntry& entry);

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_CONVERSION_JOB_PROTO_H_
