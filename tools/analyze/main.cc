// encore-analyze MODEL --eval EVAL [--labels LABELS.npy] [--mask MASK.npy] [--json OUT.json]
//                [--html OUT.html] [--text TEXT] [--attention-probe PROBE.tsv] [--threads N]
//                [--batch-size N]
// What each attention head and each FFN is worth to a classifier on a labelled set: accuracy
// and mean loss with each head masked alone, each layer's FFN bypassed, each layer keeping
// only its most important head, and the whole model keeping one head; with --attention-probe,
// where a query word's attention goes in every head (attention_probe.h). Tables on stdout,
// progress on stderr.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <optional>
#include <nlohmann/json.hpp>

#include "analyze/ablation.h"
#include "analyze/attention_probe.h"
#include "analyze/eval_set.h"
#include "analyze/html_report.h"
#include "common/cli_parse.h"
#include "common/model_text.h"
#include "core/str.h"
#include "io/atomic_file.h"

namespace {

using encore::Status;
using encore::cat;
namespace analyze = encore::analyze;

// Output files are created (as temporaries) before the analysis, so a path that cannot be
// written fails at once rather than after every evaluation.
Status commit_text(std::optional<encore::io::AtomicFile>& file, const std::string& text) {
  ENCORE_RETURN_IF_ERROR(file->write(text.data(), text.size()));
  return file->commit();
}

std::string model_line(const std::string& path, const encore::Model& m) {
  const auto& c = m.config();
  std::string heads;
  for (int l = 0; l < c.layer_count; ++l) heads += cat(l ? "/" : "", c.heads_in_layer(l));
  return cat(path, ": ", m.is_quantized() ? "int8" : "f32", ", ", c.layer_count, " layers, hidden ", c.hidden_size,
             ", heads per layer ", heads, c.is_pruned() ? " (pruned)" : "", ", ", c.labels.size(), " labels");
}

nlohmann::json to_json(const analyze::AblationReport& r, const encore::EncoderConfig& c, const std::string& model) {
  auto result = [](const analyze::EvalResult& e) {
    return nlohmann::json{{"accuracy", e.accuracy}, {"correct", e.correct}, {"count", e.count}, {"mean_loss", e.mean_loss}};
  };
  auto item = [&](const analyze::Ablation& a) {
    nlohmann::json j = {{"layer", a.layer}};
    if (a.head >= 0) j["head"] = c.original_head(a.layer, a.head);
    j["result"] = result(a.result);
    j["accuracy_change_points"] = a.accuracy_change;
    j["loss_change"] = a.loss_change;
    return j;
  };
  nlohmann::json heads = nlohmann::json::array(), ffn = nlohmann::json::array(), best = nlohmann::json::array(),
                 single = nlohmann::json::array();
  for (const auto& a : r.heads) heads.push_back(item(a));
  for (const auto& a : r.ffn) ffn.push_back(item(a));
  for (const auto& a : r.best_head_only) best.push_back(item(a));
  for (const auto& a : r.single_head) single.push_back(item(a));
  return {{"model", model},    {"eval", r.eval_name}, {"baseline", result(r.baseline)},
          {"heads", heads},    {"ffn_bypassed", ffn}, {"best_head_only", best},
          {"single_head", single}};
}

nlohmann::json to_json(const analyze::ProbeReport& r, const encore::EncoderConfig& c) {
  nlohmann::json heads = nlohmann::json::array();
  for (const auto& a : r.heads) {
    nlohmann::json j = {{"layer", a.layer}, {"head", c.original_head(a.layer, a.head)}, {"masked", a.masked}};
    if (!a.masked) {
      j["to_target"] = a.to_target;
      j["to_contrast"] = a.to_contrast;
      j["target_share"] = a.target_share;
    }
    heads.push_back(std::move(j));
  }
  return {{"probe", r.name}, {"query", r.query_word}, {"count", r.count}, {"heads", heads}};
}

Status analyze_model(const std::string& model_path, const analyze::EvalSource& source, const std::string& json_path,
                     const std::string& html_path, const std::string& text, const std::string& probe_path, int threads,
                     int batch_size) {
  ENCORE_ASSIGN_OR_RETURN(auto model, encore::Model::load(model_path));
  const auto& c = model->config();
  ENCORE_ASSIGN_OR_RETURN(analyze::EvalSet set, analyze::load_eval_set(source, *model));
  std::optional<analyze::ProbeSet> probe_set;
  if (!probe_path.empty()) {
    ENCORE_ASSIGN_OR_RETURN(auto p, analyze::load_probe_set(probe_path, *model));
    probe_set.emplace(std::move(p));
  }
  std::optional<encore::io::AtomicFile> json_file, html_file;
  if (!json_path.empty()) {
    ENCORE_ASSIGN_OR_RETURN(auto f, encore::io::AtomicFile::create(json_path));
    json_file.emplace(std::move(f));
  }
  if (!html_path.empty()) {
    ENCORE_ASSIGN_OR_RETURN(auto f, encore::io::AtomicFile::create(html_path));
    html_file.emplace(std::move(f));
  }
  encore::SessionOptions so;
  so.threads = threads;
  ENCORE_ASSIGN_OR_RETURN(auto session, encore::Session::create(model, so));
  std::cerr << "encore-analyze: " << set.name << ", " << c.total_heads() << " heads, " << c.layer_count << " FFNs\n";
  ENCORE_ASSIGN_OR_RETURN(analyze::AblationReport report, analyze::run_ablation(*session, set, batch_size, &std::cerr));
  std::cout << model_line(model_path, *model) << "\n" << analyze::ablation_table(report, c);
  std::cout.flush();
  std::optional<analyze::ProbeReport> probe;
  if (probe_set) {
    encore::SessionOptions po = so;
    po.attention_probabilities = true;
    ENCORE_ASSIGN_OR_RETURN(auto capture, encore::Session::create(model, po));
    ENCORE_ASSIGN_OR_RETURN(auto p, analyze::run_attention_probe(*capture, *probe_set, &std::cerr));
    probe.emplace(std::move(p));
    std::cout << "\n" << analyze::probe_table(*probe, c);
    std::cout.flush();
  }
  if (json_file) {
    nlohmann::json j = to_json(report, c, model_path);
    if (probe) j["attention_probe"] = to_json(*probe, c);
    ENCORE_RETURN_IF_ERROR(commit_text(json_file, j.dump(2) + "\n"));
  }
  if (html_file) {
    analyze::AttentionMaps maps;
    if (!text.empty()) {
      std::vector<int32_t> ids;
      std::vector<std::string> tokens;
      ENCORE_RETURN_IF_ERROR(encore::tools::encode_text(*model, text, &ids, &tokens));
      so.attention_probabilities = true;
      ENCORE_ASSIGN_OR_RETURN(auto capture, encore::Session::create(model, so));
      ENCORE_ASSIGN_OR_RETURN(maps, analyze::capture_attention(*capture, ids, tokens, "\"" + text + "\""));
    }
    ENCORE_RETURN_IF_ERROR(commit_text(html_file, analyze::ablation_html("encore-analyze: heads and FFNs",
                                                                         model_line(model_path, *model), c, report,
                                                                         text.empty() ? nullptr : &maps,
                                                                         probe ? &*probe : nullptr)));
  }
  return Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, json_path, html_path, text, probe_path;
  analyze::EvalSource source;
  int threads = 1, batch_size = 64;
  CLI::App app{"Measure what each attention head and each FFN of a classifier is worth on a labelled set."};
  app.add_option("model", model, ".encore model file (with a classifier head)")->required();
  app.add_option("--eval", source.path, "labelled set: .tsv (text<TAB>label) or .npy token ids [N, S]")->required();
  app.add_option("--labels", source.labels_path, "with .npy ids: label indices [N] (.npy)");
  app.add_option("--mask", source.mask_path, "with .npy ids: attention mask [N, S] (default: ids != pad_token_id)");
  app.add_option("--json", json_path, "write the results as JSON");
  app.add_option("--html", html_path, "write a self-contained HTML report with charts");
  app.add_option("--text", text, "with --html: also show the attention maps of this text");
  app.add_option("--attention-probe", probe_path,
                 "TSV of text<TAB>query<TAB>target<TAB>contrast words: per head, the query's attention to each");
  app.add_option("--threads", threads, "threads")->check(CLI::Range(1, 256))->capture_default_str();
  app.add_option("--batch-size", batch_size, "sequences per run")->check(CLI::Range(1, 4096))->capture_default_str();
  if (auto code = encore::tools::parse_command_line(app, argc, argv, "encore-analyze")) return *code;
  const Status st = analyze_model(model, source, json_path, html_path, text, probe_path, threads, batch_size);
  if (!st.ok()) {
    std::cerr << "encore-analyze: error: " << st.message() << "\n";
    return 1;
  }
  return 0;
}
