#include <cstdio>

#include "client/command.h"
#include "core/io/deepseek_gguf.h"
#include "core/io/dtype.h"
#include "core/util/status_macros.h"

namespace transmla::cli {
namespace {

absl::Status RunExportGguf(const Flags& flags) {
  ASSIGN_OR_RETURN(const std::string model, flags.Required("model"));
  ASSIGN_OR_RETURN(const std::string out, flags.Required("out"));
  ASSIGN_OR_RETURN(const DType dtype, ParseFloatDTypeOption(flags.Get("dtype").value_or("f32")));
  ASSIGN_OR_RETURN(const std::filesystem::path written, ExportDeepseekGguf(model, out, dtype));
  std::printf("wrote %s\n", written.string().c_str());
  return absl::OkStatus();
}

}  // namespace

Command ExportGgufCommand() {
  return {"export-gguf",
          "write a converted model as a GGUF for llama.cpp (deepseek2 architecture)",
          "transmla export-gguf --model CONVERTED_DIR --out FILE.gguf [--dtype f32|f16]",
          {"model", "out", "dtype"},
          {},
          RunExportGguf};
}

}  // namespace transmla::cli
