// Self-contained HTML reports: one file, no network resources (inline CSS and JavaScript,
// data embedded as JSON, figures drawn as SVG by the page's own script).
//
//  - attention maps: a layers x heads grid of heatmaps (query rows, key columns) labelled with
//    the tokens (encore-inspect attention, encore-analyze --text);
//  - ablation: per-head importance grid and bar charts of the accuracy change when each head
//    is masked, each FFN bypassed, each layer keeps only its most important head, and the
//    whole model keeps one head, with the full table (encore-analyze --html); with an attention
//    probe, a layers x heads grid of where the query word's attention goes, and its table.
// Every heatmap and chart is an <svg class="heatmap"> / <svg class="chart"> element the script
// creates; when it has drawn them it sets data-rendered="N" (their count) on <body>, which the
// browser test reads from the rendered DOM.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyze/ablation.h"
#include "analyze/attention_probe.h"
#include "encore/session.h"
#include "encore/status.h"

namespace encore::analyze {

// One sequence's attention probabilities, per layer and head, on its real tokens.
struct AttentionMaps {
  std::string source;               // the text (or "token ids")
  std::vector<std::string> tokens;  // [seq]
  struct Head {
    int32_t index = 0;              // the head's original index (pruned models keep gaps)
    bool masked = false;
    std::vector<float> probs;       // [seq, seq]
  };
  std::vector<std::vector<Head>> layers;
};

// Runs one sequence (`ids`, all real tokens) through a session created with
// SessionOptions::attention_probabilities and collects its maps.
Result<AttentionMaps> capture_attention(Session& session, const std::vector<int32_t>& ids,
                                        const std::vector<std::string>& tokens, const std::string& source);

// The maps as JSON: {"source", "tokens", "layers": [{"layer", "heads": [{"head", "masked",
// "probs": [[...], ...]}]}]}, probabilities rounded to 4 decimals.
nlohmann::json attention_maps_json(const AttentionMaps& maps);

// `title` heads the page; `model_line` describes the model.
std::string attention_html(const std::string& title, const std::string& model_line, const AttentionMaps& maps);
// `maps` and `probe` may be null.
std::string ablation_html(const std::string& title, const std::string& model_line, const EncoderConfig& config,
                          const AblationReport& report, const AttentionMaps* maps, const ProbeReport* probe = nullptr);

}  // namespace encore::analyze
