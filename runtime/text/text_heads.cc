// TextEncoder's per-token heads: token classification entities, extractive question answering
// over overlapping windows, and fill-mask. The model runs as everywhere else; what Hugging Face's
// pipelines do with its logits is text/heads_text.{h,cc}. This file tokenizes, forms the
// windows, runs and converts offsets.
#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <string_view>
#include <utility>

#include "core/str.h"
#include "text/heads_text.h"
#include "text/text_encoder_impl.h"

namespace encore {

namespace {

// The number of code points in text[0, byte) (text is valid UTF-8: the tokenizer checked).
size_t char_index(std::string_view text, size_t byte) {
  byte = std::min(byte, text.size());
  size_t n = 0;
  for (size_t i = 0; i < byte; ++i) n += (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
  return n;
}

std::vector<text::CharSpan> spans(const std::vector<TokenOffset>& offsets) {
  std::vector<text::CharSpan> out;
  out.reserve(offsets.size());
  for (const TokenOffset& o : offsets) out.push_back({o.begin, o.end});
  return out;
}

// Softmax of one row; returns its argmax and that probability.
std::pair<size_t, float> top_probability(const float* row, int64_t n) {
  const float top = *std::max_element(row, row + n);
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) total += std::exp(double(row[i]) - top);
  const auto best = static_cast<size_t>(std::max_element(row, row + n) - row);
  return {best, static_cast<float>(1.0 / total)};
}

Status need_head(const EncoderConfig& c, HeadKind head, const char* method) {
  if (c.head == head) return Status::Ok();
  return invalid_argument(cat(method, " needs a ", head_kind_name(head), " head; the model has a ",
                              head_kind_name(c.head), " head"));
}

// The id of the first of `names` the tokenizer knows, else -1.
int32_t first_known(const TextTokenizer& t, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (const int32_t id = t.token_to_id(n); id >= 0) return id;
  }
  return -1;
}

// A vocabulary string as it reads in text, for FillMask's `sequence`: a WordPiece
// continuation loses its "##", a ByteLevel "Ġ" or SentencePiece "▁" word start becomes a
// space; anything else is taken as written. (An approximation of the tokenizer's decoder,
// which encore does not implement.)
std::string surface(const std::string& token) {
  if (token.rfind("##", 0) == 0 && token.size() > 2) return token.substr(2);
  if (token.rfind("\xC4\xA0", 0) == 0) return " " + token.substr(2);      // Ġ
  if (token.rfind("\xE2\x96\x81", 0) == 0) return " " + token.substr(3);  // ▁
  return token;
}

}  // namespace

Result<std::vector<TokenClassificationResult>> TextEncoder::classify_tokens(const std::vector<std::string>& texts) {
  Impl& m = *impl_;
  const EncoderConfig& c = m.model->config();
  ENCORE_RETURN_IF_ERROR(need_head(c, HeadKind::kTokenClassification, "classify_tokens"));
  Outputs out;
  ENCORE_RETURN_IF_ERROR(m.run(texts, nullptr, &out));
  const int64_t S = out.seq_len, L = out.token_logit_width;
  std::vector<TokenClassificationResult> results(texts.size());
  for (size_t b = 0; b < texts.size(); ++b) {
    const TextEncoding& e = m.batch->encodings()[b];
    const float* logits = out.token_logits + static_cast<int64_t>(b) * S * L;
    const auto n = static_cast<int64_t>(e.ids.size());
    const std::vector<text::CharSpan> offsets = spans(e.offsets);
    TokenClassificationResult& r = results[b];
    for (text::TokenEntity& g :
         text::group_entities_simple(logits, n, c.labels, offsets.data(), e.special_tokens_mask.data(), texts[b])) {
      TextEntity entity;
      entity.label = std::move(g.label);
      entity.score = g.score;
      entity.start = static_cast<size_t>(g.start);
      entity.end = static_cast<size_t>(g.end);
      entity.char_start = char_index(texts[b], entity.start);
      entity.char_end = char_index(texts[b], entity.end);
      entity.word = std::move(g.word);
      r.entities.push_back(std::move(entity));
    }
    for (int64_t t = 0; t < n; ++t) {
      const bool special = e.special_tokens_mask[static_cast<size_t>(t)] != 0;
      const auto [best, p] = top_probability(logits + t * L, L);
      r.token_labels.push_back(special ? std::string() : c.labels[best]);
      r.token_scores.push_back(special ? 0.0f : p);
    }
    m.take_tokens(b, &r);
  }
  return results;
}

namespace {

// Which context tokens each window of a question-answering input holds, as the fast tokenizer
// forms them for the pipeline's truncation="only_second", max_length, stride,
// return_overflowing_tokens=True (tokenizers/src/utils/truncation.rs truncate_encodings, then
// Encoding::truncate for the direction "right"): when question + context exceed the room left
// beside the special tokens, the context is cut into pieces of `room - question` tokens, the
// piece k starting at k x (that - stride), up to the first piece that reaches the context's end.
struct Windowing {
  size_t per_window = 0;  // context tokens per window (all of them when one window holds it)
  std::vector<std::pair<size_t, size_t>> ranges;  // [begin, end) of the context's tokens
};

Result<Windowing> windows_for(size_t question, size_t context, size_t specials, size_t max_seq_len, size_t stride) {
  Windowing w;
  if (question + context + specials <= max_seq_len) {
    w.per_window = context;
    w.ranges.push_back({0, context});
    return w;
  }
  if (question + specials >= max_seq_len) {
    return invalid_argument(cat("the question has ", question, " tokens, which with the ", specials,
                                " special tokens leaves no room for the context within max_seq_len ", max_seq_len));
  }
  w.per_window = max_seq_len - specials - question;
  if (stride >= w.per_window) {
    return invalid_argument(cat("doc_stride ", stride, " must be less than the ", w.per_window,
                                " context tokens a window holds (max_seq_len ", max_seq_len, " - question ", question,
                                " - special tokens ", specials, ")"));
  }
  for (size_t begin = 0;; begin += w.per_window - stride) {
    const size_t end = std::min(begin + w.per_window, context);
    w.ranges.push_back({begin, end});
    if (end == context) break;
  }
  return w;
}

// Windows run per session call, at most this many at once (a long context makes many).
constexpr size_t kWindowsPerRun = 16;

}  // namespace

Result<QuestionAnswers> TextEncoder::answer(const std::string& question, const std::string& context,
                                            const AnswerOptions& options) {
  Impl& m = *impl_;
  const EncoderConfig& c = m.model->config();
  ENCORE_RETURN_IF_ERROR(need_head(c, HeadKind::kQuestionAnswering, "answer"));
  if (options.top_k < 1) return invalid_argument(cat("top_k ", options.top_k, " must be at least 1"));
  if (options.max_answer_len < 1) {
    return invalid_argument(cat("max_answer_len ", options.max_answer_len, " must be at least 1"));
  }
  // question_answering.py preprocess: max_seq_len = min(model_max_length, 384), doc_stride =
  // min(max_seq_len // 2, 128), and doc_stride > max_seq_len refused.
  const size_t limit = m.batch->max_length();
  const size_t max_seq_len = options.max_seq_len > 0 ? options.max_seq_len : std::min<size_t>(limit, 384);
  if (max_seq_len > limit) {
    return invalid_argument(cat("max_seq_len ", max_seq_len, " is over the model's limit of ", limit, " tokens"));
  }
  const size_t stride = options.doc_stride >= 0 ? static_cast<size_t>(options.doc_stride)
                                                : std::min<size_t>(max_seq_len / 2, 128);
  if (stride > max_seq_len) {
    return invalid_argument(cat("doc_stride ", stride, " is larger than max_seq_len ", max_seq_len));
  }

  // The whole pair, untruncated; its context tokens are one run between the question's and
  // the trailing special tokens, so each window is that encoding with the run cut to its range
  // (what the post-processor makes of each overflow piece).
  TextEncodeOptions eo;
  eo.max_length = std::numeric_limits<size_t>::max() / 2;  // no truncation (0 would apply tokenizer.json's)
  eo.strategy = TruncationStrategy::kOnlySecond;
  eo.special_tokens_as_text = m.text_options.special_tokens_as_text;
  ENCORE_ASSIGN_OR_RETURN(TextEncoding pair, m.batch->tokenizer().encode_pair(question, context, eo));
  const auto total = pair.ids.size();
  size_t first = total, last = 0, question_tokens = 0;
  for (size_t t = 0; t < total; ++t) {
    if (pair.sequence_ids[t] == 0) ++question_tokens;
    if (pair.sequence_ids[t] != 1) continue;
    first = std::min(first, t);
    last = t + 1;
  }
  if (first == total) return invalid_argument("the context has no tokens");
  const size_t context_tokens = last - first;
  for (size_t t = first; t < last; ++t) {
    if (pair.sequence_ids[t] != 1) return internal_error("the tokenizer does not keep the context's tokens together");
  }
  const size_t specials = total - question_tokens - context_tokens;
  ENCORE_ASSIGN_OR_RETURN(Windowing windowing,
                          windows_for(question_tokens, context_tokens, specials, max_seq_len, stride));

  // The pipeline's p_mask leaves the context tokens and the cls token (tokenizer.cls_token_id).
  const int32_t cls = first_known(m.batch->tokenizer(), {"[CLS]", "<s>"});
  const internal::TextBatch& batch = *m.batch;
  const size_t windows = windowing.ranges.size();
  const size_t longest = total - context_tokens + windowing.per_window;
  std::vector<int32_t> ids, mask, types;
  std::vector<float> start_logits(windows * longest, 0.0f), end_logits(windows * longest, 0.0f);
  std::vector<uint8_t> allowed(windows * longest, 0);
  std::vector<text::CharSpan> offsets(windows * longest);
  std::vector<int32_t> words(windows * longest, -1);  // context tokens' words (word_to_chars with sequence_index 1)
  std::vector<size_t> lengths(windows);
  for (size_t w0 = 0; w0 < windows; w0 += kWindowsPerRun) {
    const size_t count = std::min(kWindowsPerRun, windows - w0);
    ids.assign(count * longest, batch.pad_id());
    mask.assign(count * longest, 0);
    types.assign(count * longest, 0);
    for (size_t i = 0; i < count; ++i) {
      const auto [begin, end] = windowing.ranges[w0 + i];
      size_t n = 0;
      auto put = [&](size_t t, bool context_token) {
        const size_t at = i * longest + n, row = (w0 + i) * longest + n;
        ids[at] = pair.ids[t];
        mask[at] = 1;
        types[at] = pair.type_ids[t];
        allowed[row] = context_token || pair.ids[t] == cls;
        offsets[row] = {pair.offsets[t].begin, pair.offsets[t].end};
        if (context_token) words[row] = pair.word_ids[t];
        ++n;
      };
      for (size_t t = 0; t < first; ++t) put(t, false);
      for (size_t t = first + begin; t < first + end; ++t) put(t, true);
      for (size_t t = last; t < total; ++t) put(t, false);
      lengths[w0 + i] = n;
    }
    Outputs out;
    ENCORE_RETURN_IF_ERROR(m.session->run(Inputs{static_cast<int64_t>(count), static_cast<int64_t>(longest), ids.data(),
                                                 mask.data(), batch.has_token_types() ? types.data() : nullptr},
                                          &out));
    for (size_t i = 0; i < count * longest; ++i) {
      start_logits[w0 * longest + i] = out.token_logits[2 * i];
      end_logits[w0 * longest + i] = out.token_logits[2 * i + 1];
    }
  }
  std::vector<text::QaWindow> qa(windows);
  for (size_t w = 0; w < windows; ++w) {
    qa[w] = text::QaWindow{start_logits.data() + w * longest, end_logits.data() + w * longest,
                           static_cast<int64_t>(lengths[w]), allowed.data() + w * longest,
                           offsets.data() + w * longest, options.align_to_words ? words.data() + w * longest : nullptr};
  }
  QuestionAnswers result;
  result.windows = static_cast<int64_t>(windows);
  for (text::QaAnswer& a :
       text::select_answers(qa, context, options.top_k, options.max_answer_len, options.handle_impossible_answer)) {
    TextAnswer answer;
    answer.answer = std::move(a.answer);
    answer.score = a.score;
    answer.start = static_cast<size_t>(a.start);
    answer.end = static_cast<size_t>(a.end);
    answer.char_start = char_index(context, answer.start);
    answer.char_end = char_index(context, answer.end);
    answer.window = a.window;
    result.answers.push_back(std::move(answer));
  }
  return result;
}

Result<std::vector<FillMaskResult>> TextEncoder::fill_mask(const std::vector<std::string>& texts, int top_k) {
  Impl& m = *impl_;
  const EncoderConfig& c = m.model->config();
  ENCORE_RETURN_IF_ERROR(need_head(c, HeadKind::kMaskedLm, "fill_mask"));
  if (top_k < 1) return invalid_argument(cat("top_k ", top_k, " must be at least 1"));
  const TextTokenizer& tokenizer = m.batch->tokenizer();
  // The tokenizer's mask token: BERT's and ELECTRA's [MASK], RoBERTa's and XLM-R's <mask>.
  const int32_t mask_id = first_known(tokenizer, {"[MASK]", "<mask>"});
  if (mask_id < 0) return invalid_argument("the tokenizer has no mask token ([MASK] or <mask>)");
  ENCORE_RETURN_IF_ERROR(m.encode(texts, nullptr));
  for (size_t b = 0; b < texts.size(); ++b) {
    const auto& ids = m.batch->encodings()[b].ids;
    if (std::find(ids.begin(), ids.end(), mask_id) == ids.end()) {
      return invalid_argument(cat("no mask token ", tokenizer.id_to_token(mask_id), " in the text",
                                  m.batch->encodings()[b].truncated ? " (truncation cut it off)" : ""))
          .with_context(cat("text ", b));
    }
  }
  Outputs out;
  ENCORE_RETURN_IF_ERROR(m.session->run(m.batch->inputs(), &out));
  const int64_t S = out.seq_len, V = out.token_logit_width;
  std::vector<FillMaskResult> results(texts.size());
  for (size_t b = 0; b < texts.size(); ++b) {
    const TextEncoding& e = m.batch->encodings()[b];
    FillMaskResult& r = results[b];
    for (size_t t = 0; t < e.ids.size(); ++t) {
      if (e.ids[t] != mask_id) continue;
      MaskPredictions mp;
      mp.position = static_cast<int64_t>(t);
      const float* row = out.token_logits + (static_cast<int64_t>(b) * S + static_cast<int64_t>(t)) * V;
      for (const text::FillMaskCandidate& k : text::fill_mask_top_k(row, V, top_k)) {
        MaskPrediction p;
        p.token_id = k.token_id;
        p.token = tokenizer.id_to_token(k.token_id);
        p.score = k.score;
        const TokenOffset o = e.offsets[t];
        p.sequence = texts[b].substr(0, o.begin) + surface(p.token) + texts[b].substr(std::min<size_t>(o.end, texts[b].size()));
        mp.predictions.push_back(std::move(p));
      }
      r.masks.push_back(std::move(mp));
    }
    m.take_tokens(b, &r);
  }
  return results;
}

}  // namespace encore
