// encore-bench: load time, first-run time and steady-state latency per shape, with an
// optional per-layer x per-step profile, JSON report and Chrome trace; with --tokenizer, the
// throughput of a tokenizer on English texts, and with a model too, tokenization next to that
// model's inference on the same texts.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_report.h"
#include "bench/tokenizer_bench.h"
#include "common/cli_parse.h"
#include "core/cpu_description.h"
#include "encore/session.h"
#include "io/atomic_file.h"

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;  // Linux reports KiB
}

struct Shape {
  int64_t batch, seq;
  std::vector<int32_t> ids;
  std::vector<int32_t> mask;  // empty: no padding
  int64_t real_tokens = 0;
};

// Token ids drawn uniformly from the vocabulary (fixed seed). Without `ragged` there is no
// padding: every position is real work. With it, sequence i of the batch has
// ceil(seq * (i + 1) / batch) real tokens and the rest is padding, as in a batch of texts
// padded to the longest.
Shape make_shape(int64_t batch, int64_t seq, int32_t vocab, bool ragged) {
  Shape s{batch, seq, std::vector<int32_t>(static_cast<size_t>(batch * seq)), {}, batch * seq};
  if (ragged) {
    s.mask.assign(s.ids.size(), 0);
    s.real_tokens = 0;
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t length = (seq * (b + 1) + batch - 1) / batch;
      for (int64_t p = 0; p < length; ++p) s.mask[static_cast<size_t>(b * seq + p)] = 1;
      s.real_tokens += length;
    }
  }
  std::mt19937 rng(static_cast<uint32_t>(batch * 7919 + seq));
  std::uniform_int_distribution<int32_t> d(0, vocab - 1);
  for (auto& v : s.ids) v = d(rng);
  return s;
}

encore::Status write_text(const std::string& path, const std::string& text) {
  ENCORE_ASSIGN_OR_RETURN(auto f, encore::io::AtomicFile::create(path));
  ENCORE_RETURN_IF_ERROR(f.write(text.data(), text.size()));
  return f.commit();
}

// Runs `shape` until both `runs` and `min_time_s` are satisfied; returns per-run ms.
encore::Result<std::vector<double>> time_runs(encore::Session& s, const Shape& shape, int runs, double min_time_s,
                                              std::vector<std::vector<encore::ProfileRecord>>* profiles) {
  encore::Inputs in{shape.batch, shape.seq, shape.ids.data(), shape.mask.empty() ? nullptr : shape.mask.data(),
                    nullptr};
  encore::Outputs out;
  std::vector<double> ms;
  const auto start = Clock::now();
  while (static_cast<int>(ms.size()) < runs || ms_since(start) < 1000.0 * min_time_s) {
    const auto t0 = Clock::now();
    ENCORE_RETURN_IF_ERROR(s.run(in, &out));
    ms.push_back(ms_since(t0));
    if (profiles) profiles->push_back(s.profile());
    if (ms.size() >= 100000) break;
  }
  return ms;
}

struct TokenizerBench {
  std::string tokenizer_path, texts_path, write_texts, corpus_dir = "/usr/share/common-licenses";
  size_t words = 100, tokens = 0, max_texts = 0;
};

// --tokenizer: the tokenizer alone on the corpus, then (with a model) the model's inference on
// the same texts and the ratio of the two.
int tokenizer_main(const TokenizerBench& b, const std::string& model_path, int threads, int runs, double min_time,
                   const std::string& int8_gemm, const std::string& json_path) {
  auto fail = [](const encore::Status& st) {
    std::cerr << "encore-bench: error: " << st.message() << "\n";
    return 1;
  };
  auto tok = encore::bench::load_tokenizer(b.tokenizer_path);
  if (!tok.ok()) return fail(tok.status());
  const encore::TextTokenizer& tokenizer = *tok->tokenizer;
  auto texts = b.texts_path.empty() ? encore::bench::license_corpus(b.corpus_dir, b.words)
                                    : encore::bench::read_texts(b.texts_path);
  if (!texts.ok()) return fail(texts.status());
  if (b.max_texts && texts->size() > b.max_texts) texts->resize(b.max_texts);
  if (b.tokens) {
    auto fitted = encore::bench::fit_to_tokens(tokenizer, *texts, b.tokens);
    if (!fitted.ok()) return fail(fitted.status());
    *texts = std::move(fitted).value();
  }
  if (!b.write_texts.empty()) {
    std::string all;
    for (const auto& t : *texts) all += t + "\n";
    encore::Status st = write_text(b.write_texts, all);
    if (!st.ok()) return fail(st);
  }

  const std::string cpu = encore::to_string(encore::describe_cpu());
  std::printf("cpu: %s\n", cpu.c_str());
  const std::string corpus = b.texts_path.empty() ? b.corpus_dir + " in " + std::to_string(b.words) + "-word paragraphs"
                                                   : b.texts_path;
  auto timing = encore::bench::time_tokenizer(tokenizer, *texts, runs, min_time);
  if (!timing.ok()) return fail(timing.status());
  const auto& t = *timing;
  std::printf("tokenizer %s (%s); texts: %s%s\n", b.tokenizer_path.c_str(), tok->kind.c_str(), corpus.c_str(),
              b.tokens ? (", each cut to at most " + std::to_string(b.tokens) + " tokens").c_str() : "");
  std::printf("%zu texts, %.1f KB, %zu tokens with special tokens (%.1f per text)\n", t.texts, double(t.bytes) / 1e3,
              t.tokens, double(t.tokens) / double(std::max<size_t>(t.texts, 1)));
  std::printf("tokenize, 1 thread, one text at a time: %zu passes in %.2f s (cpu share %.2f); median pass %.3f ms "
              "(min %.3f, max %.3f): %.0f texts/s, %.2f MB/s, %.0f tokens/s, %.2f us per text\n",
              t.passes.runs, t.total_s, t.cpu_share, t.passes.median_ms, t.passes.min_ms, t.passes.max_ms,
              t.texts_per_s(), t.mb_per_s(), t.tokens_per_s(), t.us_per_text());
  nlohmann::json report = {{"cpu", cpu},
                           {"tokenizer",
                            {{"path", b.tokenizer_path},
                             {"kind", tok->kind},
                             {"corpus", corpus},
                             {"max_tokens", b.tokens},
                             {"timing", encore::bench::to_json(t)}}}};

  if (!model_path.empty()) {
    auto model = encore::Model::load(model_path);
    if (!model.ok()) return fail(model.status());
    encore::SessionOptions so;
    so.threads = threads;
    so.int8_gemm = int8_gemm == "own"       ? encore::Int8Gemm::kOwn
                   : int8_gemm == "xnnpack" ? encore::Int8Gemm::kXnnpack
                                            : encore::Int8Gemm::kAuto;
    auto session = encore::Session::create(model.value(), so);
    if (!session.ok()) return fail(session.status());
    const auto& c = (*model)->config();
    size_t truncated = 0;
    auto inf = encore::bench::time_inference(**session, tokenizer, *texts, c.max_positions, runs, min_time, &truncated);
    if (!inf.ok()) return fail(inf.status().with_context(model_path));
    const double ratio = inf->us_per_text() > 0 ? t.us_per_text() / inf->us_per_text() : 0.0;
    std::printf("inference %s (%s, %d layers, hidden %d), %d thread%s, each text alone: %zu passes in %.2f s; "
                "%.1f tokens per text%s; cpu share %.2f; %.2f us per text, %.1f texts/s\n",
                model_path.c_str(), (*model)->is_quantized() ? "int8" : "f32", c.layer_count, c.hidden_size, threads,
                threads == 1 ? "" : "s", inf->passes.runs, inf->total_s, double(inf->tokens) / double(inf->texts),
                truncated ? (" (" + std::to_string(truncated) + " texts truncated to " +
                             std::to_string(c.max_positions) + ")").c_str()
                          : "",
                inf->cpu_share, inf->us_per_text(), inf->texts_per_s());
    std::printf("tokenization / inference: %.2f%%\n", 100.0 * ratio);
    report["inference"] = encore::bench::to_json(*inf);
    report["inference"]["model"] = model_path;
    report["inference"]["quantized"] = (*model)->is_quantized();
    report["inference"]["threads"] = threads;
    report["inference"]["truncated_texts"] = truncated;
    report["tokenization_over_inference"] = ratio;
  }
  if (!json_path.empty()) {
    encore::Status st = write_text(json_path, report.dump(2) + "\n");
    if (!st.ok()) return fail(st);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"encore-bench: latency, throughput, memory and a per-layer profile of an .encore model"};
  std::string model_path, json_path, trace_path;
  std::vector<int64_t> seqs = {16, 128};
  int64_t batch = 1;
  int threads = 1, warmup = 3, runs = 10;
  double min_time = 1.0;
  bool profile = false, ragged = false;
  std::string int8_gemm = "auto";
  TokenizerBench tb;
  app.add_option("model", model_path,
                 "the .encore model (with --tokenizer: also time its inference on the same texts)");
  auto* seq_opt =
      app.add_option("--seq", seqs, "sequence lengths, comma separated")->delimiter(',')->check(CLI::PositiveNumber);
  auto* batch_opt = app.add_option("--batch", batch, "sequences per run")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "threads")->check(CLI::Range(1, 1024));
  auto* warmup_opt =
      app.add_option("--warmup", warmup, "untimed runs per shape before timing")->check(CLI::NonNegativeNumber);
  app.add_option("--runs", runs, "minimum timed runs per shape")->check(CLI::PositiveNumber);
  app.add_option("--min-time", min_time, "minimum seconds of timed runs per shape")->check(CLI::NonNegativeNumber);
  auto* ragged_opt =
      app.add_flag("--ragged", ragged,
                   "pad the batch: sequence i keeps ceil(seq * (i + 1) / batch) real tokens, the rest is masked");
  auto* profile_opt = app.add_flag("--profile", profile, "time every step of every layer (a second, profiled session)");
  app.add_option("--int8-gemm", int8_gemm,
                 "int8 linear layers: auto (encore's dot-product GEMM on x86 VNNI CPUs, else XNNPACK), "
                 "xnnpack, or own (encore's GEMM, best kernel for this CPU)")
      ->check(CLI::IsMember({"auto", "xnnpack", "own"}));
  app.add_option("--json", json_path, "write the whole report as JSON");
  auto* trace_opt =
      app.add_option("--trace", trace_path, "write a Chrome/Perfetto trace of one profiled run (implies --profile)");
  auto* tok_opt = app.add_option("--tokenizer", tb.tokenizer_path,
                                 "time this tokenizer (a tokenizer.json, or an .encore model's own) on English texts, "
                                 "one at a time on one thread, after one untimed pass; --runs is then the minimum "
                                 "number of passes over the texts (default 3)")
                      ->excludes(seq_opt, batch_opt, ragged_opt, profile_opt, trace_opt, warmup_opt);
  app.add_option("--texts", tb.texts_path, "with --tokenizer: texts, one per line (default: the built-in corpus)")
      ->needs(tok_opt);
  app.add_option("--corpus-dir", tb.corpus_dir,
                 "with --tokenizer: the built-in corpus's directory, every regular file in it split into paragraphs")
      ->needs(tok_opt);
  app.add_option("--words", tb.words, "with --tokenizer: words per paragraph of the built-in corpus")
      ->needs(tok_opt)
      ->check(CLI::PositiveNumber);
  app.add_option("--tokens", tb.tokens,
                 "with --tokenizer: cut each text to its longest word prefix of at most this many tokens")
      ->needs(tok_opt)
      ->check(CLI::PositiveNumber);
  app.add_option("--max-texts", tb.max_texts, "with --tokenizer: use only the first N texts")
      ->needs(tok_opt)
      ->check(CLI::PositiveNumber);
  app.add_option("--write-texts", tb.write_texts, "with --tokenizer: write the texts measured, one per line")
      ->needs(tok_opt);
  if (auto code = encore::tools::parse_command_line(app, argc, argv, "encore-bench")) return *code;
  if (!tb.tokenizer_path.empty()) {
    return tokenizer_main(tb, model_path, threads, app.count("--runs") ? runs : 3, min_time, int8_gemm, json_path);
  }
  if (model_path.empty()) {
    std::cerr << "encore-bench: error: give a model, or --tokenizer FILE (see encore-bench --help)\n";
    return 2;
  }
  if (!trace_path.empty()) profile = true;
  auto fail = [](const encore::Status& st) {
    std::cerr << "encore-bench: error: " << st.message() << "\n";
    return 1;
  };

  // Load: open + map + verify + validate, then session creation (operators, packed weights).
  const auto t_load = Clock::now();
  auto model = encore::Model::load(model_path);
  if (!model.ok()) return fail(model.status());
  const double open_ms = ms_since(t_load);
  encore::SessionOptions so;
  so.threads = threads;
  so.int8_gemm = int8_gemm == "own"       ? encore::Int8Gemm::kOwn
                 : int8_gemm == "xnnpack" ? encore::Int8Gemm::kXnnpack
                                          : encore::Int8Gemm::kAuto;
  const auto t_prep = Clock::now();
  auto session = encore::Session::create(model.value(), so);
  if (!session.ok()) return fail(session.status());
  const double prepare_ms = ms_since(t_prep);
  std::unique_ptr<encore::Session> profiled;
  if (profile) {
    so.profile = true;
    auto p = encore::Session::create(model.value(), so);
    if (!p.ok()) return fail(p.status());
    profiled = std::move(p).value();
  }
  const auto& c = (*model)->config();
  for (int64_t s : seqs) {
    if (s > c.max_positions) {
      return fail(encore::out_of_range("--seq " + std::to_string(s) + " exceeds the model's maximum of " +
                                       std::to_string(c.max_positions)));
    }
  }

  const std::string cpu = encore::to_string(encore::describe_cpu());
  std::printf("cpu: %s\n", cpu.c_str());
  std::printf("model %s: %s, %d layers, hidden %d, %d heads, ffn %d, %.1f MB mapped\n", model_path.c_str(),
              (*model)->is_quantized() ? "int8" : "f32", c.layer_count, c.hidden_size, c.head_count,
              c.intermediate_size, double((*model)->file_size()) / 1e6);
  std::printf("load: open+verify %.2f ms, prepare (operators, weight packing) %.2f ms; threads %d, batch %lld\n",
              open_ms, prepare_ms, threads, static_cast<long long>(batch));

  nlohmann::json report = {{"model", model_path},
                           {"cpu", cpu},
                           {"quantized", (*model)->is_quantized()},
                           {"config",
                            {{"layers", c.layer_count},
                             {"hidden", c.hidden_size},
                             {"heads", c.head_count},
                             {"intermediate", c.intermediate_size}}},
                           {"threads", threads},
                           {"int8_gemm", int8_gemm},
                           {"batch", batch},
                           {"model_mapped_mb", double((*model)->file_size()) / 1e6},
                           {"load", {{"open_verify_ms", open_ms}, {"prepare_ms", prepare_ms}}},
                           {"shapes", nlohmann::json::array()}};
  nlohmann::json trace;
  for (int64_t seq : seqs) {
    Shape shape = make_shape(batch, seq, c.vocab_size, ragged);
    encore::Inputs in{shape.batch, shape.seq, shape.ids.data(), shape.mask.empty() ? nullptr : shape.mask.data(),
                      nullptr};
    encore::Outputs out;
    // First run of a shape: arena allocation and first touch of its pages.
    const auto t_first = Clock::now();
    encore::Status st = (*session)->run(in, &out);
    if (!st.ok()) return fail(st);
    const double first_ms = ms_since(t_first);
    for (int i = 0; i < warmup; ++i) {
      if (!(st = (*session)->run(in, &out)).ok()) return fail(st);
    }
    auto ms = time_runs(**session, shape, runs, min_time, nullptr);
    if (!ms.ok()) return fail(ms.status());
    const encore::bench::TimingStats t = encore::bench::summarize(*ms);
    const double tokens = double(shape.real_tokens);  // padding is not counted as throughput
    if (ragged) std::printf("\nragged batch: %lld real tokens of %lld", static_cast<long long>(shape.real_tokens),
                            static_cast<long long>(batch * seq));
    std::printf("\nseq %lld x batch %lld: first run %.3f ms; steady %zu runs: median %.3f ms, p90 %.3f, p99 %.3f, "
                "min %.3f, max %.3f; %.1f seq/s, %.0f tokens/s\n",
                static_cast<long long>(seq), static_cast<long long>(batch), first_ms, t.runs, t.median_ms, t.p90_ms,
                t.p99_ms, t.min_ms, t.max_ms, 1000.0 * double(batch) / t.median_ms, 1000.0 * tokens / t.median_ms);
    nlohmann::json js = {{"seq", seq},
                         {"batch", batch},
                         {"real_tokens", shape.real_tokens},
                         {"first_run_ms", first_ms},
                         {"steady", encore::bench::to_json(t)},
                         {"sequences_per_s", 1000.0 * double(batch) / t.median_ms},
                         {"tokens_per_s", 1000.0 * tokens / t.median_ms}};
    if (profiled) {
      for (int i = 0; i < warmup + 1; ++i) {
        if (!(st = profiled->run(in, &out)).ok()) return fail(st);
      }
      std::vector<std::vector<encore::ProfileRecord>> records;
      auto pms = time_runs(*profiled, shape, runs, min_time, &records);
      if (!pms.ok()) return fail(pms.status());
      const auto summary = encore::bench::summarize_profile(records, *pms);
      const double overhead = 100.0 * (summary.run_median_ms / t.median_ms - 1.0);
      std::printf("profile (median of %zu profiled runs; profiled median %.3f ms vs unprofiled %.3f ms: %+.1f%%)\n%s",
                  records.size(), summary.run_median_ms, t.median_ms, overhead,
                  encore::bench::profile_table(summary).c_str());
      js["profile"] = encore::bench::to_json(summary);
      js["profile"]["unprofiled_median_ms"] = t.median_ms;
      if (trace.is_null()) {
        // The run whose total is the median, so the timeline is a typical one.
        std::vector<size_t> order(pms->size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return (*pms)[a] < (*pms)[b]; });
        trace = encore::bench::trace_events(records[order[order.size() / 2]],
                                            "encore " + model_path + " seq " + std::to_string(seq) + " batch " +
                                                std::to_string(batch));
      }
    }
    report["shapes"].push_back(js);
  }
  const double rss = peak_rss_mb();
  std::printf("\npeak resident memory %.1f MB (model mapped %.1f MB)\n", rss, double((*model)->file_size()) / 1e6);
  report["peak_rss_mb"] = rss;
  if (!json_path.empty()) {
    encore::Status st = write_text(json_path, report.dump(2) + "\n");
    if (!st.ok()) return fail(st);
  }
  if (!trace_path.empty()) {
    encore::Status st = write_text(trace_path, trace.dump() + "\n");
    if (!st.ok()) return fail(st);
  }
  return 0;
}
