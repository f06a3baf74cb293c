#ifndef TRANSMLA_CLIENT_CONVERT_SUMMARY_H_
#define TRANSMLA_CLIENT_CONVERT_SUMMARY_H_

#include "nlohmann/json.hpp"

namespace transmla::cli {

// The table printed after a conversion (in-process or through the ConversionService), from its
// conversion_report.json.
void PrintConversionSummary(const nlohmann::json& report);

}  // namespace transmla::cli

#endif  // TRANSMLA_CLIENT_CONVERT_SUMMARY_H_
