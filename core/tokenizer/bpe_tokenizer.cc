#include "core/tokenizer/bpe_tokenizer.h"

#include "absl/status/status.h"
#include "core/tokenizer/bpe_model.h"
#include "core/tokenizer/pipeline_tokenizer.h"
#include "core/tokenizer/spm_score_model.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla {
namespace {

constexpr char kMetaSpace[] = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

absl::Status CheckId(const SentencePieceVocab& vocab, std::optional<int32_t> id, const char* what) {
  if (id && (*id < 0 || static_cast<size_t>(*id) >= vocab.pieces.size())) {
    return absl::InvalidArgumentError(
        fmt::format("{} id {} is outside the vocabulary of {} pieces", what, *id, vocab.pieces.size()));
  }
  return absl::OkStatus();
}

DecoderStep MakeStep(DecoderStep::Kind kind, std::string pattern = "", std::string content = "", int start = 0) {
  DecoderStep step;
  step.kind = kind;
  step.pattern = std::move(pattern);
  step.content = std::move(content);
  step.start = start;
  return step;
}

// Everything but the model: added tokens, "▁" normalization, and the decoder that undoes it.
absl::StatusOr<TokenizerStages> SentencePieceStages(const SentencePieceVocab& vocab) {
  RETURN_IF_ERROR(CheckId(vocab, vocab.bos_id, "BOS"));
  RETURN_IF_ERROR(CheckId(vocab, vocab.eos_id, "EOS"));
  RETURN_IF_ERROR(CheckId(vocab, vocab.unk_id, "UNK"));
  std::vector<AddedToken> added;
  for (const auto* ids : {&vocab.special_ids, &vocab.user_defined_ids}) {
    const bool special = ids == &vocab.special_ids;
    for (int32_t id : *ids) {
      RETURN_IF_ERROR(CheckId(vocab, id, special ? "special token" : "user-defined token"));
      AddedToken token;
      token.id = id;
      token.content = vocab.pieces[id];
      token.special = special;
      added.push_back(std::move(token));
    }
  }
  TokenizerStages stages;
  stages.added_tokens = AddedTokens(std::move(added));
  if (vocab.add_space_prefix) {
    stages.normalizer.push_back({NormalizerStep::Kind::kPrepend, "", kMetaSpace});
  }
  stages.normalizer.push_back({NormalizerStep::Kind::kReplace, " ", kMetaSpace});
  stages.decoder = {
      MakeStep(DecoderStep::Kind::kReplace, kMetaSpace, " "),
      MakeStep(DecoderStep::Kind::kByteFallback),
      MakeStep(DecoderStep::Kind::kFuse),
  };
  // SentencePiece's dummy prefix comes back as one leading space; drop it.
  if (vocab.add_space_prefix) stages.decoder.push_back(MakeStep(DecoderStep::Kind::kStrip, "", " ", 1));
  stages.bos_id = vocab.bos_id;
  stages.eos_id = vocab.eos_id;
  return stages;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> MakeSentencePieceBpeTokenizer(
    SentencePieceVocab vocab, const std::vector<std::pair<std::string, std::string>>& merges) {
  ASSIGN_OR_RETURN(TokenizerStages stages, SentencePieceStages(vocab));
  BpeOptions options;
  options.byte_fallback = true;
  options.fuse_unk = true;
  options.unk_id = vocab.unk_id;
  ASSIGN_OR_RETURN(BpeModel model, BpeModel::Create(Vocab(std::move(vocab.pieces)), merges, options));
  stages.model = std::make_unique<BpeModel>(std::move(model));
  return std::make_unique<PipelineTokenizer>(std::move(stages));
}

absl::StatusOr<std::unique_ptr<Tokenizer>> MakeSentencePieceScoreTokenizer(SentencePieceVocab vocab,
                                                                           std::vector<float> scores) {
  ASSIGN_OR_RETURN(TokenizerStages stages, SentencePieceStages(vocab));
  ASSIGN_OR_RETURN(SpmScoreModel model,
                   SpmScoreModel::Create(Vocab(std::move(vocab.pieces)), std::move(scores), vocab.unk_id));
  stages.model = std::make_unique<SpmScoreModel>(std::move(model));
  return std::make_unique<PipelineTokenizer>(std::move(stages));
}

}  // namespace transmla
