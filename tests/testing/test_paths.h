#ifndef TRANSMLA_TESTS_TESTING_TEST_PATHS_H_
#define TRANSMLA_TESTS_TESTING_TEST_PATHS_H_

#include <filesystem>
#include <string>

namespace transmla::testing {

// The read-only shared test data: $TRANSMLA_SHARED, else <source>/../shared. Fails the current
// test (ADD_FAILURE with the path it looked at) and returns an empty path when it is missing.
std::filesystem::path SharedDir();

// The project's source tree.
std::filesystem::path SourceDir();

// The model committed with the project (stories260K in HF layout) and the bundled text slice.
std::filesystem::path BundledModelDir();
std::filesystem::path BundledTextFile();

// The built `transmla` CLI binary.
std::filesystem::path CliBinary();

// The built `make_synthetic_model` tool.
std::filesystem::path MakeSyntheticModelBinary();

// A fresh empty directory under the build tree, unique per call; removed by the caller or left for
// inspection on failure.
std::filesystem::path MakeTempDir(const std::string& tag);

}  // namespace transmla::testing

#endif  // TRANSMLA_TESTS_TESTING_TEST_PATHS_H_
