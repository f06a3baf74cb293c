#ifndef TRANSMLA_CLIENT_REMOTE_PROTO_JSON_H_
#define TRANSMLA_CLIENT_REMOTE_PROTO_JSON_H_

#include <string>

#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"

namespace transmla::cli {

// A message as one line of JSON with the .proto field names (what --json prints).
inline std::string ProtoToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

}  // namespace transmla::cli

#endif  // TRANSMLA_CLIENT_REMOTE_PROTO_JSON_H_
