#include "analyze/ablation.h"

#include <algorithm>
#include <cstdio>

#include "core/str.h"

namespace encore::analyze {

namespace {

Ablation compare(int layer, int head, const EvalResult& r, const EvalResult& baseline) {
  return Ablation{layer, head, r, 100.0 * (r.accuracy - baseline.accuracy), r.mean_loss - baseline.mean_loss};
}

}  // namespace

Result<std::vector<Ablation>> head_importance(Session& session, const EvalSet& set, const EvalResult& baseline,
                                              int64_t batch_size, std::ostream* progress) {
  const EncoderConfig& c = session.model().config();
  Evaluator eval(session, set, batch_size);
  std::vector<Ablation> heads;
  session.clear_ablation();
  for (int l = 0; l < c.layer_count; ++l) {
    for (int h = 0; h < c.heads_in_layer(l); ++h) {
      ENCORE_RETURN_IF_ERROR(session.set_head_masked(l, h, true));
      auto r = eval.run();
      session.clear_ablation();
      if (!r.ok()) return r.status();
      heads.push_back(compare(l, h, *r, baseline));
      if (progress) *progress << "  layer " << l << " head " << c.original_head(l, h) << " masked\n" << std::flush;
    }
  }
  return heads;
}

Result<AblationReport> run_ablation(Session& session, const EvalSet& set, int64_t batch_size, std::ostream* progress) {
  const EncoderConfig& c = session.model().config();
  Evaluator eval(session, set, batch_size);
  AblationReport report;
  report.eval_name = set.name;
  session.clear_ablation();
  auto step = [&](const std::string& what) {
    if (progress) *progress << "  " << what << "\n" << std::flush;
  };
  ENCORE_ASSIGN_OR_RETURN(report.baseline, eval.run());
  step("baseline");
  ENCORE_ASSIGN_OR_RETURN(report.heads, head_importance(session, set, report.baseline, batch_size, progress));
  for (int l = 0; l < c.layer_count; ++l) {
    ENCORE_RETURN_IF_ERROR(session.set_ffn_bypassed(l, true));
    auto r = eval.run();
    session.clear_ablation();
    if (!r.ok()) return r.status();
    report.ffn.push_back(compare(l, -1, *r, report.baseline));
    step(cat("layer ", l, " FFN bypassed"));
  }
  for (int l = 0; l < c.layer_count; ++l) {
    if (c.heads_in_layer(l) < 2) continue;
    // The most important head: the largest loss increase when masked alone.
    const Ablation* best = nullptr;
    for (const Ablation& a : report.heads) {
      if (a.layer == l && (!best || a.loss_change > best->loss_change)) best = &a;
    }
    for (int h = 0; h < c.heads_in_layer(l); ++h) {
      if (h != best->head) ENCORE_RETURN_IF_ERROR(session.set_head_masked(l, h, true));
    }
    auto r = eval.run();
    session.clear_ablation();
    if (!r.ok()) return r.status();
    report.best_head_only.push_back(compare(l, best->head, *r, report.baseline));
    step(cat("layer ", l, " only head ", c.original_head(l, best->head), " kept"));
  }
  if (c.total_heads() < 2) return report;
  for (int keep_l = 0; keep_l < c.layer_count; ++keep_l) {
    for (int keep_h = 0; keep_h < c.heads_in_layer(keep_l); ++keep_h) {
      for (int l = 0; l < c.layer_count; ++l) {
        for (int h = 0; h < c.heads_in_layer(l); ++h) {
          if (l != keep_l || h != keep_h) ENCORE_RETURN_IF_ERROR(session.set_head_masked(l, h, true));
        }
      }
      auto r = eval.run();
      session.clear_ablation();
      if (!r.ok()) return r.status();
      report.single_head.push_back(compare(keep_l, keep_h, *r, report.baseline));
      step(cat("only layer ", keep_l, " head ", c.original_head(keep_l, keep_h), " kept in the whole model"));
    }
  }
  return report;
}

Result<HeadSearch> search_heads_to_remove(Session& session, const EvalSet& tune, const std::vector<Ablation>& heads,
                                          const EvalResult& reference, double max_drop_points, double sigmas,
                                          int64_t batch_size, std::ostream* progress) {
  const EncoderConfig& c = session.model().config();
  std::vector<Ablation> order = heads;
  std::stable_sort(order.begin(), order.end(),
                   [](const Ablation& a, const Ablation& b) { return a.loss_change < b.loss_change; });
  HeadSearch search;
  search.removed.resize(static_cast<size_t>(c.layer_count));
  std::vector<int> remaining(static_cast<size_t>(c.layer_count));
  for (int l = 0; l < c.layer_count; ++l) remaining[static_cast<size_t>(l)] = c.heads_in_layer(l);
  Evaluator eval(session, tune, batch_size);
  session.clear_ablation();
  ENCORE_ASSIGN_OR_RETURN(search.result, eval.run());
  for (const Ablation& a : order) {
    if (remaining[static_cast<size_t>(a.layer)] == 1) continue;  // the layer's last head stays
    ENCORE_RETURN_IF_ERROR(session.set_head_masked(a.layer, a.head, true));
    auto r = eval.run();
    if (!r.ok()) {
      session.clear_ablation();
      return r.status();
    }
    const double bound = accuracy_drop_bound(reference, *r, sigmas);
    const bool within = bound <= max_drop_points;
    search.steps.push_back({a.layer, a.head, *r, within});
    if (within) {
      search.removed[static_cast<size_t>(a.layer)].push_back(a.head);
      --remaining[static_cast<size_t>(a.layer)];
      search.result = *r;
    } else {
      ENCORE_RETURN_IF_ERROR(session.set_head_masked(a.layer, a.head, false));
    }
    if (progress) {
      char line[160];
      std::snprintf(line, sizeof line,
                    "  mask layer %d head %d: tuning accuracy %.2f%% (%+.2f points; drop bound %.2f): %s\n", a.layer,
                    c.original_head(a.layer, a.head), 100.0 * r->accuracy, 100.0 * (r->accuracy - reference.accuracy),
                    bound, within ? "removed" : "kept");
      *progress << line << std::flush;
    }
  }
  session.clear_ablation();
  for (auto& r : search.removed) std::sort(r.begin(), r.end());
  return search;
}

std::string ablation_table(const AblationReport& report, const EncoderConfig& c) {
  std::string out;
  char line[200];
  std::snprintf(line, sizeof line, "baseline on %s: accuracy %.2f%% (%lld of %lld), mean loss %.4f\n",
                report.eval_name.c_str(), 100.0 * report.baseline.accuracy,
                static_cast<long long>(report.baseline.correct), static_cast<long long>(report.baseline.count),
                report.baseline.mean_loss);
  out += line;
  out += "\nablation                        accuracy   change (points)   mean loss   change\n";
  auto row = [&](const std::string& what, const Ablation& a) {
    std::snprintf(line, sizeof line, "%-30s %8.2f%%   %+15.2f   %9.4f   %+.4f\n", what.c_str(), 100.0 * a.result.accuracy,
                  a.accuracy_change, a.result.mean_loss, a.loss_change);
    out += line;
  };
  for (const Ablation& a : report.heads) row(cat("layer ", a.layer, " head ", c.original_head(a.layer, a.head), " masked"), a);
  for (const Ablation& a : report.ffn) row(cat("layer ", a.layer, " FFN bypassed"), a);
  for (const Ablation& a : report.best_head_only) {
    row(cat("layer ", a.layer, " only head ", c.original_head(a.layer, a.head), " kept"), a);
  }
  for (const Ablation& a : report.single_head) {
    row(cat("model keeps only ", a.layer, ":", c.original_head(a.layer, a.head)), a);
  }
  return out;
}

}  // namespace encore::analyze
