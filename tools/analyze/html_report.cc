#include "analyze/html_report.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/str.h"

namespace encore::analyze {

namespace {

std::string escape_html(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += ch;
    }
  }
  return out;
}

// JSON inside <script>: "</" would end the element, so it is written "<\/" (the same string
// to a JSON parser). Invalid UTF-8 in tokens is replaced rather than thrown on.
std::string script_json(const nlohmann::json& j) {
  std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<' && i + 1 < s.size() && s[i + 1] == '/') {
      out += "<\\/";
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

double round4(double v) { return std::round(v * 1e4) / 1e4; }

}  // namespace

nlohmann::json attention_maps_json(const AttentionMaps& maps) {
  nlohmann::json layers = nlohmann::json::array();
  for (size_t l = 0; l < maps.layers.size(); ++l) {
    nlohmann::json heads = nlohmann::json::array();
    const size_t n = maps.tokens.size();
    for (const auto& h : maps.layers[l]) {
      nlohmann::json rows = nlohmann::json::array();
      for (size_t i = 0; i < n; ++i) {
        nlohmann::json row = nlohmann::json::array();
        for (size_t j = 0; j < n; ++j) row.push_back(round4(h.probs[i * n + j]));
        rows.push_back(std::move(row));
      }
      heads.push_back({{"head", h.index}, {"masked", h.masked}, {"probs", std::move(rows)}});
    }
    layers.push_back({{"layer", l}, {"heads", std::move(heads)}});
  }
  return {{"source", maps.source}, {"tokens", maps.tokens}, {"layers", std::move(layers)}};
}

namespace {

nlohmann::json ablation_json(const EncoderConfig& c, const AblationReport& r) {
  auto item = [&](const Ablation& a) {
    return nlohmann::json{{"layer", a.layer},
                          {"head", a.head >= 0 ? c.original_head(a.layer, a.head) : -1},
                          {"accuracy", round4(100.0 * a.result.accuracy)},
                          {"accuracy_change", round4(a.accuracy_change)},
                          {"loss_change", round4(a.loss_change)}};
  };
  nlohmann::json heads = nlohmann::json::array(), ffn = nlohmann::json::array(), best = nlohmann::json::array();
  for (const auto& a : r.heads) heads.push_back(item(a));
  for (const auto& a : r.ffn) ffn.push_back(item(a));
  for (const auto& a : r.best_head_only) best.push_back(item(a));
  nlohmann::json single = nlohmann::json::array();
  for (const auto& a : r.single_head) single.push_back(item(a));
  return {{"eval", r.eval_name},
          {"baseline", {{"accuracy", round4(100.0 * r.baseline.accuracy)}, {"loss", round4(r.baseline.mean_loss)}}},
          {"heads", heads},
          {"ffn", ffn},
          {"best_head_only", best},
          {"single_head", single}};
}

nlohmann::json probe_json(const EncoderConfig& c, const ProbeReport& r) {
  nlohmann::json heads = nlohmann::json::array();
  for (const auto& a : r.heads) {
    heads.push_back({{"layer", a.layer},
                     {"head", c.original_head(a.layer, a.head)},
                     {"masked", a.masked},
                     {"to_target", round4(a.to_target)},
                     {"to_contrast", round4(a.to_contrast)},
                     {"target_share", round4(100.0 * a.target_share)}});
  }
  return {{"name", r.name}, {"query", r.query_word}, {"count", r.count}, {"heads", heads}};
}

const char* kStyle = R"(
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1b1f24; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 8px; }
p.model { color: #57606a; margin: 0 0 16px; }
.layer { display: flex; align-items: flex-start; gap: 12px; margin-bottom: 12px; }
.layer-label { width: 64px; font-weight: 600; padding-top: 18px; }
.heads { display: flex; flex-wrap: wrap; gap: 14px; }
svg text { font: 11px system-ui, sans-serif; fill: #1b1f24; }
svg .title { font-weight: 600; }
table { border-collapse: collapse; margin-top: 8px; }
td, th { padding: 2px 10px; text-align: right; border-bottom: 1px solid #d0d7de; }
td:first-child, th:first-child { text-align: left; }
.note { color: #57606a; font-size: 12px; }
)";

// Draws every figure from the embedded data; sets data-rendered on <body> when done.
const char* kScript = R"(
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('encore-data').textContent);
  var NS = 'http://www.w3.org/2000/svg';
  var figures = document.getElementById('figures');
  var drawn = 0;
  function el(name, attrs, parent, text) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function html(name, cls, parent, text) {
    var e = document.createElement(name);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    parent.appendChild(e);
    return e;
  }
  function blue(p) {
    var t = Math.max(0, Math.min(1, p));
    return 'rgb(' + Math.round(255 - 247 * t) + ',' + Math.round(255 - 207 * t) + ',' + Math.round(255 - 148 * t) + ')';
  }
  // Diverging around 50%: green when the target gets more attention, purple when the contrast does.
  function share(pct) {
    var t = Math.max(-1, Math.min(1, (pct - 50) / 50));
    return t >= 0 ? 'rgb(' + Math.round(255 - 210 * t) + ',' + Math.round(255 - 95 * t) + ',' + Math.round(255 - 175 * t) + ')'
                  : 'rgb(' + Math.round(255 + 95 * t) + ',' + Math.round(255 + 175 * t) + ',' + Math.round(255 + 45 * t) + ')';
  }
  function orange(t) {
    t = Math.max(0, Math.min(1, t));
    return 'rgb(255,' + Math.round(255 - 140 * t) + ',' + Math.round(255 - 215 * t) + ')';
  }
  function fmt(v, digits) { return (v > 0 ? '+' : '') + v.toFixed(digits); }

  function heatmap(parent, tokens, head, layer) {
    var n = tokens.length;
    var cell = Math.max(8, Math.min(26, Math.floor(260 / n)));
    var longest = 0;
    tokens.forEach(function (t) { longest = Math.max(longest, t.length); });
    var pad = Math.min(120, 8 + 6.5 * longest);
    var top = 18 + Math.min(100, 6 + 5.5 * longest);
    var w = pad + n * cell + 4, h = top + n * cell + 4;
    var svg = el('svg', {'class': 'heatmap', width: w, height: h, viewBox: '0 0 ' + w + ' ' + h,
                         'data-layer': layer, 'data-head': head.head}, parent);
    el('text', {x: pad, y: 12, 'class': 'title'}, svg,
       'layer ' + layer + ' \u00b7 head ' + head.head + (head.masked ? ' (masked)' : ''));
    for (var i = 0; i < n; ++i) {
      el('text', {x: pad - 4, y: top + i * cell + cell / 2 + 4, 'text-anchor': 'end'}, svg, tokens[i]);
      var cx = pad + i * cell + cell / 2, cy = top - 4;
      el('text', {x: cx, y: cy, transform: 'rotate(-60 ' + cx + ' ' + cy + ')'}, svg, tokens[i]);
      for (var j = 0; j < n; ++j) {
        var p = head.probs[i][j];
        var r = el('rect', {x: pad + j * cell, y: top + i * cell, width: cell, height: cell, fill: blue(p)}, svg);
        el('title', {}, r, tokens[i] + ' \u2192 ' + tokens[j] + ': ' + p.toFixed(4));
      }
    }
    el('rect', {x: pad, y: top, width: n * cell, height: n * cell, fill: 'none', stroke: '#8c959f'}, svg);
    ++drawn;
  }

  function attention(a) {
    html('h2', '', figures, 'Attention maps');
    html('p', 'note', figures, 'Input: ' + a.source + '. Each heatmap is one head: row = query token, ' +
         'column = key token, darker = more attention (rows sum to 1).');
    a.layers.forEach(function (layer) {
      var row = html('div', 'layer', figures);
      html('div', 'layer-label', row, 'layer ' + layer.layer);
      var heads = html('div', 'heads', row);
      layer.heads.forEach(function (head) { heatmap(heads, a.tokens, head, layer.layer); });
    });
  }

  // Horizontal bars around zero; items: {label, value, note}.
  function bars(parent, title, items, unit) {
    var limit = 0.5;
    items.forEach(function (it) { limit = Math.max(limit, Math.abs(it.value)); });
    var label = 150, half = 220, row = 20, top = 22;
    var w = label + 2 * half + 70, h = top + items.length * row + 8;
    var svg = el('svg', {'class': 'chart', width: w, height: h, viewBox: '0 0 ' + w + ' ' + h}, parent);
    el('text', {x: 0, y: 14, 'class': 'title'}, svg, title);
    var zero = label + half;
    items.forEach(function (it, i) {
      var y = top + i * row;
      var len = half * Math.abs(it.value) / limit;
      el('text', {x: label - 6, y: y + 14, 'text-anchor': 'end'}, svg, it.label);
      var r = el('rect', {x: it.value < 0 ? zero - len : zero, y: y + 3, width: Math.max(len, 0.5), height: row - 6,
                          fill: it.value < 0 ? '#cf222e' : '#2da44e'}, svg);
      el('title', {}, r, it.label + ': ' + fmt(it.value, 2) + ' ' + unit + (it.note ? ' (' + it.note + ')' : ''));
      // The value sits on the other side of the axis, clear of the bar and the labels.
      el('text', {x: it.value < 0 ? zero + 6 : zero - 6, y: y + 14,
                  'text-anchor': it.value < 0 ? 'start' : 'end'}, svg, fmt(it.value, 2));
    });
    el('line', {x1: zero, x2: zero, y1: top, y2: h - 4, stroke: '#57606a'}, svg);
    ++drawn;
  }

  // Layers x heads grid coloured by the loss increase when the head is masked alone.
  function importance(parent, heads) {
    var layers = {}, maxHeads = 0, maxLoss = 1e-9;
    heads.forEach(function (h) {
      (layers[h.layer] = layers[h.layer] || []).push(h);
      maxLoss = Math.max(maxLoss, h.loss_change);
    });
    var keys = Object.keys(layers);
    keys.forEach(function (k) { maxHeads = Math.max(maxHeads, layers[k].length); });
    var cw = 96, ch = 40, left = 64, top = 42;
    var w = Math.max(560, left + maxHeads * cw + 4), h = top + keys.length * ch + 4;
    var svg = el('svg', {'class': 'chart', width: w, height: h, viewBox: '0 0 ' + w + ' ' + h}, parent);
    el('text', {x: 0, y: 14, 'class': 'title'}, svg, 'Head importance: change when masked alone');
    el('text', {x: 0, y: 30}, svg, '(accuracy points / mean loss; darker = larger loss increase)');
    keys.forEach(function (k, r) {
      el('text', {x: 0, y: top + r * ch + ch / 2 + 4}, svg, 'layer ' + k);
      layers[k].forEach(function (hd, c) {
        var x = left + c * cw, y = top + r * ch;
        var rect = el('rect', {x: x, y: y, width: cw - 4, height: ch - 4, fill: orange(hd.loss_change / maxLoss),
                               stroke: '#d0d7de'}, svg);
        el('title', {}, rect, 'layer ' + k + ' head ' + hd.head + ': accuracy ' + fmt(hd.accuracy_change, 2) +
           ' points, loss ' + fmt(hd.loss_change, 4));
        el('text', {x: x + 6, y: y + 14}, svg, 'head ' + hd.head);
        el('text', {x: x + 6, y: y + 29}, svg, fmt(hd.accuracy_change, 2) + ' / ' + fmt(hd.loss_change, 3));
      });
    });
    ++drawn;
  }

  function ablation(a) {
    html('h2', '', figures, 'What each part is worth');
    html('p', 'note', figures, 'Evaluation set: ' + a.eval + '; baseline accuracy ' + a.baseline.accuracy.toFixed(2) +
         '%, mean loss ' + a.baseline.loss.toFixed(4) + '. Bars: accuracy change in percentage points.');
    importance(figures, a.heads);
    html('div', '', figures);
    bars(figures, 'Each head masked alone', a.heads.map(function (h) {
      return {label: 'layer ' + h.layer + ' head ' + h.head, value: h.accuracy_change,
              note: 'loss ' + fmt(h.loss_change, 4)};
    }), 'points');
    bars(figures, 'Each layer\'s FFN bypassed (residual kept)', a.ffn.map(function (f) {
      return {label: 'layer ' + f.layer + ' FFN', value: f.accuracy_change, note: 'loss ' + fmt(f.loss_change, 4)};
    }), 'points');
    if (a.best_head_only.length) {
      bars(figures, 'Each layer keeps only its most important head', a.best_head_only.map(function (b) {
        return {label: 'layer ' + b.layer + ' only head ' + b.head, value: b.accuracy_change,
                note: 'loss ' + fmt(b.loss_change, 4)};
      }), 'points');
    }
    if (a.single_head && a.single_head.length) {
      bars(figures, 'The whole model keeps one head (every other head masked)', a.single_head.map(function (b) {
        return {label: 'only layer ' + b.layer + ' head ' + b.head, value: b.accuracy_change,
                note: 'accuracy ' + b.accuracy.toFixed(2) + '%, loss ' + fmt(b.loss_change, 4)};
      }), 'points');
    }
  }

  // Layers x heads grid of where the query word's attention goes: share of texts in which the
  // target gets more than the contrast (colour), and the mean attention to each.
  function probe(p) {
    var q = p.query ? '"' + p.query + '"' : 'the query word';
    html('h2', '', figures, 'Where ' + q + ' looks');
    html('p', 'note', figures, 'Probe set: ' + p.name + '. Each cell is one head: the share of texts in which ' + q +
         ' pays more attention to the target than to the contrast word (green above 50%, purple below), and the ' +
         'mean attention to each (target / contrast).');
    var layers = {}, maxHeads = 0;
    p.heads.forEach(function (h) { (layers[h.layer] = layers[h.layer] || []).push(h); });
    var keys = Object.keys(layers);
    keys.forEach(function (k) { maxHeads = Math.max(maxHeads, layers[k].length); });
    var cw = 110, ch = 40, left = 64, top = 24;
    var w = Math.max(560, left + maxHeads * cw + 4), h = top + keys.length * ch + 4;
    var svg = el('svg', {'class': 'chart probe', width: w, height: h, viewBox: '0 0 ' + w + ' ' + h}, figures);
    el('text', {x: 0, y: 14, 'class': 'title'}, svg, 'Attention from ' + q + ': target vs contrast');
    keys.forEach(function (k, r) {
      el('text', {x: 0, y: top + r * ch + ch / 2 + 4}, svg, 'layer ' + k);
      layers[k].forEach(function (hd, c) {
        var x = left + c * cw, y = top + r * ch;
        var rect = el('rect', {x: x, y: y, width: cw - 4, height: ch - 4,
                               fill: hd.masked ? '#eaeef2' : share(hd.target_share), stroke: '#d0d7de'}, svg);
        el('title', {}, rect, 'layer ' + k + ' head ' + hd.head + (hd.masked ? ': masked' :
           ': target gets more in ' + hd.target_share.toFixed(1) + '% of texts; mean attention ' +
           hd.to_target.toFixed(4) + ' to the target, ' + hd.to_contrast.toFixed(4) + ' to the contrast'));
        el('text', {x: x + 6, y: y + 14}, svg, 'head ' + hd.head + (hd.masked ? ' (masked)' :
           ': ' + hd.target_share.toFixed(1) + '%'));
        if (!hd.masked) el('text', {x: x + 6, y: y + 29}, svg, hd.to_target.toFixed(3) + ' / ' + hd.to_contrast.toFixed(3));
      });
    });
    ++drawn;
  }

  if (data.probe) probe(data.probe);
  if (data.ablation) ablation(data.ablation);
  if (data.attention) attention(data.attention);
  document.body.setAttribute('data-rendered', String(drawn));
})();
)";

std::string page(const std::string& title, const std::string& model_line, const std::string& static_body,
                 const nlohmann::json& data) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
                    escape_html(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n<h1>" +
                    escape_html(title) + "</h1>\n<p class=\"model\">" + escape_html(model_line) + "</p>\n" +
                    "<noscript><p>This report draws its figures with JavaScript; the table below has every number.</p>"
                    "</noscript>\n<div id=\"figures\"></div>\n" +
                    static_body + "<script type=\"application/json\" id=\"encore-data\">" + script_json(data) +
                    "</script>\n<script>" + kScript + "</script>\n</body>\n</html>\n";
  return out;
}

}  // namespace

Result<AttentionMaps> capture_attention(Session& session, const std::vector<int32_t>& ids,
                                        const std::vector<std::string>& tokens, const std::string& source) {
  const EncoderConfig& c = session.model().config();
  if (ids.empty() || ids.size() != tokens.size()) return invalid_argument("capture_attention: ids and tokens differ");
  Inputs in{1, static_cast<int64_t>(ids.size()), ids.data(), nullptr, nullptr};
  Outputs out;
  ENCORE_RETURN_IF_ERROR(session.run(in, &out));
  AttentionMaps maps;
  maps.source = source;
  maps.tokens = tokens;
  const size_t n = ids.size();
  for (int l = 0; l < c.layer_count; ++l) {
    const float* p = session.attention_probabilities(l);
    if (!p) return invalid_argument("the session does not keep attention probabilities (SessionOptions)");
    auto& heads = maps.layers.emplace_back();
    for (int h = 0; h < c.heads_in_layer(l); ++h) {
      AttentionMaps::Head head;
      head.index = c.original_head(l, h);
      head.masked = session.head_masked(l, h);
      head.probs.assign(p + static_cast<size_t>(h) * n * n, p + static_cast<size_t>(h + 1) * n * n);
      heads.push_back(std::move(head));
    }
  }
  return maps;
}

std::string attention_html(const std::string& title, const std::string& model_line, const AttentionMaps& maps) {
  return page(title, model_line, "", {{"attention", attention_maps_json(maps)}, {"ablation", nullptr}});
}

std::string ablation_html(const std::string& title, const std::string& model_line, const EncoderConfig& config,
                          const AblationReport& report, const AttentionMaps* maps, const ProbeReport* probe) {
  std::string table = "<h2>Table</h2>\n<table>\n<tr><th>ablation</th><th>accuracy</th><th>change (points)</th>"
                      "<th>mean loss</th><th>change</th></tr>\n";
  char buf[256];
  auto row = [&](const std::string& what, const EvalResult& r, double dacc, double dloss) {
    std::snprintf(buf, sizeof buf, "<td>%.2f%%</td><td>%+.2f</td><td>%.4f</td><td>%+.4f</td></tr>\n", 100.0 * r.accuracy,
                  dacc, r.mean_loss, dloss);
    table += "<tr><td>" + escape_html(what) + "</td>" + buf;
  };
  row("baseline", report.baseline, 0.0, 0.0);
  for (const auto& a : report.heads) {
    row(cat("layer ", a.layer, " head ", config.original_head(a.layer, a.head), " masked"), a.result, a.accuracy_change,
        a.loss_change);
  }
  for (const auto& a : report.ffn) row(cat("layer ", a.layer, " FFN bypassed"), a.result, a.accuracy_change, a.loss_change);
  for (const auto& a : report.best_head_only) {
    row(cat("layer ", a.layer, " only head ", config.original_head(a.layer, a.head), " kept"), a.result,
        a.accuracy_change, a.loss_change);
  }
  for (const auto& a : report.single_head) {
    row(cat("the model keeps only layer ", a.layer, " head ", config.original_head(a.layer, a.head)), a.result,
        a.accuracy_change, a.loss_change);
  }
  table += "</table>\n";
  if (probe) {
    table += "<h2>Attention probe</h2>\n<table class=\"probe\">\n<tr><th>layer</th><th>head</th><th>to target</th>"
             "<th>to contrast</th><th>target gets more</th></tr>\n";
    for (const auto& a : probe->heads) {
      if (a.masked) {
        std::snprintf(buf, sizeof buf, "<tr><td>%d</td><td>%d</td><td colspan=\"3\">masked</td></tr>\n", a.layer,
                      config.original_head(a.layer, a.head));
      } else {
        std::snprintf(buf, sizeof buf, "<tr><td>%d</td><td>%d</td><td>%.4f</td><td>%.4f</td><td>%.1f%%</td></tr>\n",
                      a.layer, config.original_head(a.layer, a.head), a.to_target, a.to_contrast, 100.0 * a.target_share);
      }
      table += buf;
    }
    table += "</table>\n";
  }
  nlohmann::json data = {{"ablation", ablation_json(config, report)},
                         {"attention", maps ? attention_maps_json(*maps) : nlohmann::json(nullptr)},
                         {"probe", probe ? probe_json(config, *probe) : nlohmann::json(nullptr)}};
  return page(title, model_line, table, data);
}

}  // namespace encore::analyze
