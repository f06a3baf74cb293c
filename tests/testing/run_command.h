#ifndef TRANSMLA_TESTS_TESTING_RUN_COMMAND_H_
#define TRANSMLA_TESTS_TESTING_RUN_COMMAND_H_

#include <string>
#include <vector>

namespace transmla::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] a path) with no shell, capturing stdout and stderr.
CommandResult RunCommand(const std::vector<std::string>& argv);

}  // namespace transmla::testing

#endif  // TRANSMLA_TESTS_TESTING_RUN_COMMAND_H_
