#ifndef TRANSMLA_SERVER_CONVERSION_SQLITE_STATEMENT_H_
#define TRANSMLA_SERVER_CONVERSION_SQLITE_STATEMENT_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "fmt/format.h"

namespace transmla::server {

// A prepared SQLite statement with 1-based positional binds, finalized on destruction.
class SqliteStatement {
 public:
  SqliteStatement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      status_ = absl::InternalError(fmt::format("sqlite prepare: {}: {}", sqlite3_errmsg(db), sql));
    }
  }
  ~SqliteStatement() { sqlite3_finalize(stmt_); }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  SqliteStatement& Bind(int index, int64_t value) {
    if (stmt_) sqlite3_bind_int64(stmt_, index, value);
    return *this;
  }
  SqliteStatement& Bind(int index, const std::string& value) {
    // SQLITE_TRANSIENT: SQLite copies, so temporaries may be passed.
    if (stmt_) sqlite3_bind_blob(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    return *this;
  }

  // Advances; true while a row is available. Errors are kept in status().
  bool Step() {
    if (!status_.ok()) return false;
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) status_ = absl::InternalError(fmt::format("sqlite step: {}", sqlite3_errmsg(db_)));
    return false;
  }
  // Runs a statement that returns no rows.
  absl::Status Run() {
    while (Step()) {
    }
    return status_;
  }

  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string Text(int column) const {
    const void* data = sqlite3_column_blob(stmt_, column);
    return data ? std::string(static_cast<const char*>(data), sqlite3_column_bytes(stmt_, column)) : std::string();
  }
  const absl::Status& status() const { return status_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  absl::Status status_;
};

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_CONVERSION_SQLITE_STATEMENT_H_
