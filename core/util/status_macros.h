#ifndef TRANSMLA_CORE_UTIL_STATUS_MACROS_H_
#define TRANSMLA_CORE_UTIL_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::absl::Status transmla_status_ = (expr);        \
    if (!transmla_status_.ok()) return transmla_status_; \
  } while (0)

#define TRANSMLA_CONCAT_INNER_(a, b) a##b
#define TRANSMLA_CONCAT_(a, b) TRANSMLA_CONCAT_INNER_(a, b)

// `lhs` = value of `rexpr` (an absl::StatusOr<T>), or return its error.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  TRANSMLA_ASSIGN_OR_RETURN_IMPL_(TRANSMLA_CONCAT_(transmla_statusor_, __LINE__), lhs, rexpr)

#define TRANSMLA_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                    \
  if (!statusor.ok()) return std::move(statusor).status();    \
  lhs = std::move(statusor).value()

#endif  // TRANSMLA_CORE_UTIL_STATUS_MACROS_H_
