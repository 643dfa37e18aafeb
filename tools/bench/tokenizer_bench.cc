#include "bench/tokenizer_bench.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "encore/model.h"

namespace encore::bench {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

Result<std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return io_error(path + ": cannot open");
  std::ostringstream s;
  s << f.rdbuf();
  if (f.bad()) return io_error(path + ": read failed");
  return s.str();
}

// The "model"."type" of a tokenizer.json text, for the report ("" when absent or unparsable:
// create() has already accepted or refused the document).
std::string model_type(const std::string& json) {
  const auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object()) return "";
  const auto& t = j["model"].value("type", nlohmann::json());
  return t.is_string() ? t.get<std::string>() : "";
}

// CPU time of the whole process, in seconds.
double process_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Timed passes over `texts` with `one(i)` doing the work for text i.
template <typename F>
Status time_passes(size_t count, int min_passes, double min_time_s, CorpusTiming* out, F&& one) {
  std::vector<double> ms;
  const double cpu0 = process_cpu_s();
  const auto start = Clock::now();
  while (static_cast<int>(ms.size()) < min_passes || ms_since(start) < 1000.0 * min_time_s) {
    const auto t0 = Clock::now();
    for (size_t i = 0; i < count; ++i) ENCORE_RETURN_IF_ERROR(one(i));
    ms.push_back(ms_since(t0));
    if (ms.size() >= 100000) break;
  }
  out->total_s = ms_since(start) * 1e-3;
  out->cpu_share = out->total_s > 0 ? (process_cpu_s() - cpu0) / out->total_s : 0.0;
  out->passes = summarize(std::move(ms));
  return Status::Ok();
}

}  // namespace

std::vector<std::string> split_paragraphs(const std::string& text, size_t words) {
  std::vector<std::string> out;
  std::string cur;
  size_t n = 0;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    const size_t b = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (b == i) break;
    if (n) cur += ' ';
    cur.append(text, b, i - b);
    if (++n == words) {
      out.push_back(std::move(cur));
      cur.clear();
      n = 0;
    }
  }
  if (n) out.push_back(std::move(cur));
  return out;
}

Result<std::vector<std::string>> license_corpus(const std::string& dir, size_t words) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_symlink(ec) || !it->is_regular_file(ec)) continue;
    files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> texts;
  for (const auto& f : files) {
    ENCORE_ASSIGN_OR_RETURN(std::string text, read_file(f.string()));
    for (auto& p : split_paragraphs(text, words)) texts.push_back(std::move(p));
  }
  if (texts.empty()) return not_found(dir + ": no texts for the built-in corpus (pass --texts FILE)");
  return texts;
}

Result<std::vector<std::string>> read_texts(const std::string& path) {
  ENCORE_ASSIGN_OR_RETURN(std::string all, read_file(path));
  std::vector<std::string> texts;
  size_t b = 0;
  while (b < all.size()) {
    size_t e = all.find('\n', b);
    if (e == std::string::npos) e = all.size();
    std::string line = all.substr(b, e - b);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    texts.push_back(std::move(line));
    b = e + 1;
  }
  if (texts.empty()) return invalid_argument(path + ": no texts (it is empty)");
  return texts;
}

Result<std::vector<std::string>> fit_to_tokens(const TextTokenizer& tokenizer, const std::vector<std::string>& texts,
                                               size_t max_tokens) {
  std::vector<std::string> out;
  out.reserve(texts.size());
  for (const std::string& text : texts) {
    // Word boundaries (ends of the words) of the text; binary search on how many words fit:
    // more words never give fewer tokens for these pipelines on space-joined words.
    std::vector<size_t> ends;
    for (size_t i = 0; i < text.size(); ++i) {
      if (!is_space(text[i]) && (i + 1 == text.size() || is_space(text[i + 1]))) ends.push_back(i + 1);
    }
    if (ends.empty()) {
      out.push_back(text);
      continue;
    }
    size_t lo = 1, hi = ends.size();  // answer in [lo, hi]
    while (lo < hi) {
      const size_t mid = (lo + hi + 1) / 2;
      ENCORE_ASSIGN_OR_RETURN(auto enc, tokenizer.encode(std::string_view(text).substr(0, ends[mid - 1])));
      if (enc.ids.size() <= max_tokens) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    out.push_back(text.substr(0, ends[lo - 1]));
  }
  return out;
}

Result<LoadedTokenizer> load_tokenizer(const std::string& path) {
  LoadedTokenizer t;
  ENCORE_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
  const size_t first = bytes.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && bytes[first] == '{') {
    auto tok = TextTokenizer::create(bytes);
    if (!tok.ok()) return tok.status().with_context(path);
    t.tokenizer = std::move(tok).value();
    t.kind = model_type(bytes);
    return t;
  }
  ENCORE_ASSIGN_OR_RETURN(auto model, Model::load(path));
  auto tok = TextTokenizer::for_model(*model);
  if (!tok.ok()) return tok.status().with_context(path);
  t.tokenizer = std::move(tok).value();
  const TokenizerInfo& info = model->tokenizer();
  t.kind = info.json.empty() ? "WordPiece" : model_type(info.json);
  return t;
}

Result<CorpusTiming> time_tokenizer(const TextTokenizer& tokenizer, const std::vector<std::string>& texts,
                                    int min_passes, double min_time_s) {
  CorpusTiming t;
  t.texts = texts.size();
  for (const std::string& s : texts) {
    t.bytes += s.size();
    ENCORE_ASSIGN_OR_RETURN(auto enc, tokenizer.encode(s));  // the untimed pass
    t.tokens += enc.ids.size();
  }
  // Each encode returns a fresh TextEncoding, as a caller gets it. The timed passes must give
  // the untimed pass's token count each time.
  size_t sink = 0;
  ENCORE_RETURN_IF_ERROR(time_passes(texts.size(), min_passes, min_time_s, &t, [&](size_t i) -> Status {
    auto enc = tokenizer.encode(texts[i]);
    if (!enc.ok()) return enc.status();
    sink += enc->ids.size();
    return Status::Ok();
  }));
  if (sink != t.tokens * t.passes.runs) return internal_error("token counts changed between passes");
  return t;
}

Result<CorpusTiming> time_inference(Session& session, const TextTokenizer& tokenizer,
                                    const std::vector<std::string>& texts, int64_t max_positions, int min_passes,
                                    double min_time_s, size_t* truncated) {
  CorpusTiming t;
  t.texts = texts.size();
  std::vector<TextEncoding> encodings;
  encodings.reserve(texts.size());
  TextEncodeOptions options;
  options.max_length = static_cast<size_t>(max_positions);
  *truncated = 0;
  for (const std::string& s : texts) {
    t.bytes += s.size();
    ENCORE_ASSIGN_OR_RETURN(auto enc, tokenizer.encode(s, options));
    *truncated += enc.truncated;
    t.tokens += enc.ids.size();
    encodings.push_back(std::move(enc));
  }
  Outputs out;
  auto run = [&](size_t i) -> Status {
    const TextEncoding& e = encodings[i];
    if (e.ids.empty()) return Status::Ok();  // a tokenizer without special tokens on an empty text
    Inputs in{1, static_cast<int64_t>(e.ids.size()), e.ids.data(), nullptr, e.type_ids.data()};
    return session.run(in, &out);
  };
  // Untimed pass: every length once, so the arena has its final size before timing.
  for (size_t i = 0; i < encodings.size(); ++i) {
    Status st = run(i);
    if (!st.ok()) return st.with_context("text " + std::to_string(i + 1));
  }
  ENCORE_RETURN_IF_ERROR(time_passes(texts.size(), min_passes, min_time_s, &t, run));
  return t;
}

nlohmann::json to_json(const CorpusTiming& t) {
  return {{"texts", t.texts},
          {"bytes", t.bytes},
          {"tokens", t.tokens},
          {"passes", to_json(t.passes)},
          {"timed_s", t.total_s},
          {"cpu_share", t.cpu_share},
          {"texts_per_s", t.texts_per_s()},
          {"mb_per_s", t.mb_per_s()},
          {"tokens_per_s", t.tokens_per_s()},
          {"us_per_text", t.us_per_text()}};
}

}  // namespace encore::bench
