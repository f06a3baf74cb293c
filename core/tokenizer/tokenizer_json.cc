// LoadTokenizer: reads HF tokenizer.json (+ tokenizer_config.json) into a PipelineTokenizer.

#include <cctype>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "core/tokenizer/bpe_model.h"
#include "core/tokenizer/pipeline_tokenizer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace transmla {
namespace {

using json = nlohmann::json;

absl::Status Unsupported(const char* stage, const std::string& type) {
  return absl::InvalidArgumentError(fmt::format("unsupported tokenizer {} type '{}'", stage, type));
}

std::string TypeOf(const json& node) {
  auto it = node.find("type");
  return it != node.end() && it->is_string() ? it->get<std::string>() : std::string("<missing>");
}

// The pattern of a Replace/Split: {"String": s} literally, {"Regex": r} as a regex. Returns the
// string and whether it is a regex.
std::pair<std::string, bool> PatternOf(const json& node) {
  const json& pattern = node.at("pattern");
  if (pattern.contains("Regex")) return {pattern.at("Regex").get<std::string>(), true};
  return {pattern.at("String").get<std::string>(), false};
}

// Escapes ASCII punctuation so PCRE2 matches `literal` verbatim.
std::string QuoteRegex(const std::string& literal) {
  std::string out;
  for (char c : literal) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x80 && !std::isalnum(b) && c != ' ') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

absl::Status ParseNormalizer(const json& node, std::vector<NormalizerStep>* steps) {
  if (node.is_null()) return absl::OkStatus();
  const std::string type = TypeOf(node);
  if (type == "Sequence") {
    for (const json& child : node.at("normalizers")) RETURN_IF_ERROR(ParseNormalizer(child, steps));
  } else if (type == "Prepend") {
    steps->push_back({NormalizerStep::Kind::kPrepend, "", node.at("prepend").get<std::string>()});
  } else if (type == "Replace") {
    auto [pattern, is_regex] = PatternOf(node);
    if (is_regex) return Unsupported("normalizer", "Replace with a Regex pattern");
    steps->push_back({NormalizerStep::Kind::kReplace, pattern, node.at("content").get<std::string>()});
  } else {
    return Unsupported("normalizer", type);
  }
  return absl::OkStatus();
}

absl::Status ParsePreTokenizer(const json& node, std::vector<PreTokenizerStep>* steps) {
  if (node.is_null()) return absl::OkStatus();
  const std::string type = TypeOf(node);
  PreTokenizerStep step;
  if (type == "Sequence") {
    for (const json& child : node.at("pretokenizers")) RETURN_IF_ERROR(ParsePreTokenizer(child, steps));
    return absl::OkStatus();
  } else if (type == "Split") {
    const std::string behavior = node.value("behavior", "Isolated");
    if (behavior != "Isolated" || node.value("invert", false)) {
      return Unsupported("pre-tokenizer", fmt::format("Split (behavior {}, invert {})", behavior,
                                                      node.value("invert", false)));
    }
    auto [pattern, is_regex] = PatternOf(node);
    step.kind = PreTokenizerStep::Kind::kSplit;
    ASSIGN_OR_RETURN(step.regex, RegexSplitter::Create(is_regex ? pattern : QuoteRegex(pattern)));
  } else if (type == "ByteLevel") {
    step.kind = PreTokenizerStep::Kind::kByteLevel;
    step.add_prefix_space = node.value("add_prefix_space", true);
    if (node.value("use_regex", true)) {
      ASSIGN_OR_RETURN(step.regex, RegexSplitter::Create(kGpt2SplitPattern));
    }
  } else if (type == "Metaspace") {
    step.kind = PreTokenizerStep::Kind::kMetaspace;
    step.replacement = node.value("replacement", "\xE2\x96\x81");
    step.split = node.value("split", true);
    const std::string scheme =
        node.value("prepend_scheme", node.value("add_prefix_space", true) ? "always" : "never");
    if (scheme == "always") step.prepend = PreTokenizerStep::Prepend::kAlways;
    else if (scheme == "first") step.prepend = PreTokenizerStep::Prepend::kFirst;
    else if (scheme == "never") step.prepend = PreTokenizerStep::Prepend::kNever;
    else return Unsupported("Metaspace prepend_scheme", scheme);
  } else {
    return Unsupported("pre-tokenizer", type);
  }
  steps->push_back(std::move(step));
  return absl::OkStatus();
}

absl::Status ParseDecoder(const json& node, std::vector<DecoderStep>* steps) {
  if (node.is_null()) return absl::OkStatus();
  const std::string type = TypeOf(node);
  DecoderStep step;
  if (type == "Sequence") {
    for (const json& child : node.at("decoders")) RETURN_IF_ERROR(ParseDecoder(child, steps));
    return absl::OkStatus();
  } else if (type == "Replace") {
    auto [pattern, is_regex] = PatternOf(node);
    if (is_regex) return Unsupported("decoder", "Replace with a Regex pattern");
    step.kind = DecoderStep::Kind::kReplace;
    step.pattern = pattern;
    step.content = node.at("content").get<std::string>();
  } else if (type == "ByteFallback") {
    step.kind = DecoderStep::Kind::kByteFallback;
  } else if (type == "Fuse") {
    step.kind = DecoderStep::Kind::kFuse;
  } else if (type == "Strip") {
    step.kind = DecoderStep::Kind::kStrip;
    step.content = node.at("content").get<std::string>();
    step.start = node.value("start", 0);
    step.stop = node.value("stop", 0);
  } else if (type == "ByteLevel") {
    step.kind = DecoderStep::Kind::kByteLevel;
  } else if (type == "Metaspace") {
    step.kind = DecoderStep::Kind::kMetaspace;
    step.pattern = node.value("replacement", "\xE2\x96\x81");
    const std::string scheme =
        node.value("prepend_scheme", node.value("add_prefix_space", true) ? "always" : "never");
    step.prepend = scheme != "never";
  } else {
    return Unsupported("decoder", type);
  }
  steps->push_back(std::move(step));
  return absl::OkStatus();
}

std::vector<std::pair<std::string, std::string>> ParseMerges(const json& merges) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges.size());
  for (const json& merge : merges) {
    if (merge.is_array()) {
      out.emplace_back(merge.at(0).get<std::string>(), merge.at(1).get<std::string>());
      continue;
    }
    const std::string text = merge.get<std::string>();
    const size_t space = text.find(' ');
    if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
      throw std::invalid_argument(fmt::format("merge '{}' is not two tokens separated by one space", text));
    }
    out.emplace_back(text.substr(0, space), text.substr(space + 1));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<SubwordModel>> ParseModel(const json& model) {
  std::string type = TypeOf(model);
  if (type == "<missing>" && model.contains("merges")) type = "BPE";  // files written before "type"
  if (type != "BPE") return Unsupported("model", type);
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && !model[key].is_null() && !model[key].get<std::string>().empty()) {
      return Unsupported("BPE option", key);
    }
  }
  if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"].get<double>() > 0) {
    return Unsupported("BPE option", "dropout");
  }
  Vocab vocab;
  for (const auto& [piece, id] : model.at("vocab").items()) vocab.Set(id.get<int32_t>(), piece);
  BpeOptions options;
  options.byte_fallback = model.value("byte_fallback", false);
  options.fuse_unk = model.value("fuse_unk", false);
  options.ignore_merges = model.value("ignore_merges", false);
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    options.unk_id = vocab.Find(model["unk_token"].get<std::string>());
  }
  ASSIGN_OR_RETURN(BpeModel bpe, BpeModel::Create(std::move(vocab), ParseMerges(model.at("merges")), options));
  return std::make_unique<BpeModel>(std::move(bpe));
}

std::vector<AddedToken> ParseAddedTokens(const json& node) {
  std::vector<AddedToken> tokens;
  if (node.is_null()) return tokens;
  for (const json& entry : node) {
    AddedToken token;
    token.id = entry.at("id").get<int32_t>();
    token.content = entry.at("content").get<std::string>();
    token.special = entry.value("special", false);
    token.lstrip = entry.value("lstrip", false);
    token.rstrip = entry.value("rstrip", false);
    token.single_word = entry.value("single_word", false);
    tokens.push_back(std::move(token));
  }
  return tokens;
}

// The first special token of the post-processor's single-sequence template (Llama's <s>).
std::optional<std::string> TemplateBos(const json& post_processor) {
  if (!post_processor.is_object() || TypeOf(post_processor) != "TemplateProcessing") return std::nullopt;
  const json& single = post_processor.value("single", json::array());
  if (single.empty() || !single[0].contains("SpecialToken")) return std::nullopt;
  return single[0]["SpecialToken"].at("id").get<std::string>();
}

// bos_token / eos_token of tokenizer_config.json: a string or {"content": ...}.
std::optional<std::string> ConfigToken(const json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content")) return it->at("content").get<std::string>();
  return std::nullopt;
}

absl::StatusOr<json> ReadJson(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("cannot open {}", path.string()));
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    return json::parse(buffer.str());
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(fmt::format("{} is not valid JSON: {}", path.string(), e.what()));
  }
}

absl::StatusOr<TokenizerStages> ParseStages(const json& root) {
  TokenizerStages stages;
  ASSIGN_OR_RETURN(stages.model, ParseModel(root.at("model")));
  stages.added_tokens = AddedTokens(ParseAddedTokens(root.value("added_tokens", json())));
  RETURN_IF_ERROR(ParseNormalizer(root.value("normalizer", json()), &stages.normalizer));
  RETURN_IF_ERROR(ParsePreTokenizer(root.value("pre_tokenizer", json()), &stages.pre_tokenizer));
  RETURN_IF_ERROR(ParseDecoder(root.value("decoder", json()), &stages.decoder));
  return stages;
}

// Fills bos/eos: from tokenizer_config.json when it names them, else from the post-processor
// template (BOS) and well-known spellings.
void ResolveBosEos(const json& root, const json& config, TokenizerStages* stages) {
  auto lookup = [stages](const std::string& name) -> std::optional<int32_t> {
    if (const AddedToken* added = stages->added_tokens.FindByContent(name)) return added->id;
    return stages->model->vocab().Find(name);
  };
  auto first_known = [&](std::initializer_list<std::optional<std::string>> names) -> std::optional<int32_t> {
    for (const auto& name : names) {
      if (name) {
        if (std::optional<int32_t> id = lookup(*name)) return id;
      }
    }
    return std::nullopt;
  };
  if (std::optional<std::string> bos = ConfigToken(config, "bos_token")) {
    stages->bos_id = lookup(*bos);
  } else if (!config.contains("bos_token")) {
    stages->bos_id = first_known({TemplateBos(root.value("post_processor", json())), "<s>", "<|begin_of_text|>", "<bos>"});
  }
  if (std::optional<std::string> eos = ConfigToken(config, "eos_token")) {
    stages->eos_id = lookup(*eos);
  } else if (!config.contains("eos_token")) {
    stages->eos_id = first_known({"</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>"});
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::filesystem::path& path) {
  const std::filesystem::path file = std::filesystem::is_directory(path) ? path / "tokenizer.json" : path;
  ASSIGN_OR_RETURN(json root, ReadJson(file));
  json config = json::object();
  const std::filesystem::path config_path = file.parent_path() / "tokenizer_config.json";
  if (std::filesystem::exists(config_path)) {
    ASSIGN_OR_RETURN(config, ReadJson(config_path));
  }
  try {
    ASSIGN_OR_RETURN(TokenizerStages stages, ParseStages(root));
    ResolveBosEos(root, config, &stages);
    return std::make_unique<PipelineTokenizer>(std::move(stages));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(fmt::format("{}: malformed tokenizer: {}", file.string(), e.what()));
  }
}

}  // namespace transmla
