#include "convert/pruning_pass.h"

#include <algorithm>
#include <cstdio>
#include <tuple>

#include "analyze/ablation.h"
#include "analyze/evaluate.h"
#include "convert/pruner.h"
#include "core/str.h"
#include "encore/session.h"

namespace encore::convert {

namespace {

struct Loaded {
  std::shared_ptr<const Model> model;
  uint64_t bytes = 0;
};

Result<Loaded> load(const ModelContents& contents) {
  ENCORE_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, serialize_model(contents));
  const uint64_t size = bytes.size();
  auto model = Model::load_from_memory(std::move(bytes));
  if (!model.ok()) return model.status().with_context("internal error: the pruned model does not load");
  return Loaded{model.value(), size};
}

Result<analyze::EvalResult> evaluate(const std::shared_ptr<const Model>& model, const analyze::EvalSet& set,
                                     const PruneOptions& o) {
  SessionOptions so;
  so.threads = o.threads;
  ENCORE_ASSIGN_OR_RETURN(auto session, Session::create(model, so));
  analyze::Evaluator eval(*session, set, o.batch_size);
  return eval.run();
}

std::string accuracy_line(const char* what, const std::string& name, const analyze::EvalResult& before,
                          const analyze::EvalResult& after) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "  %-9s accuracy %.2f%% -> %.2f%% (%+.2f points), mean loss %.4f -> %.4f  [%s]\n", what,
                100.0 * before.accuracy, 100.0 * after.accuracy, 100.0 * (after.accuracy - before.accuracy),
                before.mean_loss, after.mean_loss, name.c_str());
  return buf;
}

}  // namespace

Status check_prune_options(const PruneOptions& o, const EncoderConfig& c) {
  if (c.is_modernbert() && o.any()) {
    return unsupported("--prune-heads / --prune-ffn are not supported for modernbert models (a gated FFN, rotary heads)");
  }
  if (o.heads == "auto" && o.eval.path.empty()) {
    return invalid_argument("--prune-heads auto needs --eval EVAL: a labelled set to keep the accuracy drop within bounds");
  }
  if (o.ffn_auto && o.eval.path.empty()) {
    return invalid_argument("--prune-ffn auto needs --eval EVAL: a labelled set to keep the accuracy drop within bounds");
  }
  if (!(o.max_accuracy_drop >= 0.0)) return invalid_argument("--max-accuracy-drop must be >= 0 (percentage points)");
  if (!(o.ffn_fraction >= 0.0 && o.ffn_fraction < 1.0)) {
    return invalid_argument(cat("--prune-ffn ", o.ffn_fraction, " is outside [0, 1)"));
  }
  if (!o.heads.empty() && o.heads != "auto") {
    PrunePlan plan = keep_everything(c);
    ENCORE_RETURN_IF_ERROR(remove_listed_heads(o.heads, c, &plan));
  }
  if ((!o.heldout.path.empty()) && o.eval.path.empty()) return invalid_argument("--heldout needs --eval");
  if (!c.has_classifier() && !o.eval.path.empty()) {
    return invalid_argument("--eval needs a classifier model (labels to predict); this checkpoint has no classifier");
  }
  return Status::Ok();
}

Result<ModelContents> prune_model(const PruneOptions& o, const PruneInputs& in, const ModelContents& unpruned,
                                  std::ostream& out, std::ostream& err) {
  const EncoderConfig& c = unpruned.config;
  ENCORE_RETURN_IF_ERROR(check_prune_options(o, c));
  ENCORE_ASSIGN_OR_RETURN(Loaded before, load(unpruned));

  // Tuning and held-out sets.
  analyze::EvalSet tune, held;
  const bool evaluated = !o.eval.path.empty();
  if (evaluated) {
    ENCORE_ASSIGN_OR_RETURN(analyze::EvalSet all, analyze::load_eval_set(o.eval, *before.model));
    if (!o.heldout.path.empty()) {
      tune = std::move(all);
      ENCORE_ASSIGN_OR_RETURN(held, analyze::load_eval_set(o.heldout, *before.model));
    } else if (o.any()) {
      if (all.count < 2) return invalid_argument(cat(o.eval.path, ": needs at least 2 rows to split into tuning and held-out"));
      std::tie(tune, held) = analyze::split_even_odd(all);
    } else {
      tune = std::move(all);
    }
  }
  if (!o.any()) {
    ENCORE_ASSIGN_OR_RETURN(auto r, evaluate(before.model, tune, o));
    char buf[160];
    std::snprintf(buf, sizeof buf, "  accuracy %.2f%% (%lld of %lld), mean loss %.4f [%s]\n", 100.0 * r.accuracy,
                  static_cast<long long>(r.correct), static_cast<long long>(r.count), r.mean_loss, tune.name.c_str());
    out << buf;
    return unpruned;
  }

  analyze::EvalResult tune_before, held_before;
  if (evaluated) {
    ENCORE_ASSIGN_OR_RETURN(tune_before, evaluate(before.model, tune, o));
    if (held.count > 0) {
      ENCORE_ASSIGN_OR_RETURN(held_before, evaluate(before.model, held, o));
    }
    out << "  tuning set: " << tune.name << "; held out: " << (held.count > 0 ? held.name : std::string("none")) << "\n";
  }
  if (o.ffn_auto && !evaluated) {
    return invalid_argument("--prune-ffn auto needs --eval EVAL: a labelled set to keep the accuracy drop within bounds");
  }

  PrunePlan plan = keep_everything(c);
  std::vector<std::vector<int32_t>> order;  // FFN neurons by increasing importance, per layer
  if (o.ffn_fraction > 0.0 || o.ffn_auto) {
    FfnStatistics stats;
    if (evaluated) {
      ENCORE_ASSIGN_OR_RETURN(stats, ffn_statistics(in.f32_model, tune.ids.data(), tune.mask.data(), tune.count,
                                                    tune.seq, o.threads));
    } else {
      ENCORE_ASSIGN_OR_RETURN(stats, ffn_statistics(in.f32_model, in.calibration_ids->data(), in.calibration_mask,
                                                    in.calibration_sequences, in.calibration_length, o.threads));
    }
    order = neurons_by_importance(*in.checkpoint, stats);
    plan.neuron_means = stats.mean;
    out << "  FFN neuron importance: std of activation x down-projection column norm over " << stats.tokens
        << " tokens of " << (evaluated ? "the tuning set" : "the calibration data")
        << "; a removed neuron's mean contribution is folded into the down-projection bias\n";
    if (o.ffn_fraction > 0.0) ENCORE_RETURN_IF_ERROR(keep_important_neurons(order, stats, o.ffn_fraction, &plan));
  }
  if (o.heads == "auto") {
    ENCORE_ASSIGN_OR_RETURN(ModelContents narrowed, prune_contents(unpruned, plan));
    ENCORE_ASSIGN_OR_RETURN(Loaded m1, load(narrowed));
    SessionOptions so;
    so.threads = o.threads;
    ENCORE_ASSIGN_OR_RETURN(auto session, Session::create(m1.model, so));
    analyze::Evaluator eval(*session, tune, o.batch_size);
    ENCORE_ASSIGN_OR_RETURN(analyze::EvalResult start, eval.run());
    err << "encore-convert: head importance on the tuning set (" << c.layer_count * c.head_count << " heads)\n";
    ENCORE_ASSIGN_OR_RETURN(auto importance, analyze::head_importance(*session, tune, start, o.batch_size, &err));
    err << "encore-convert: greedy head removal, drop bound within " << o.max_accuracy_drop << " points of "
        << 100.0 * tune_before.accuracy << "%\n";
    ENCORE_ASSIGN_OR_RETURN(analyze::HeadSearch search,
                            analyze::search_heads_to_remove(*session, tune, importance, tune_before,
                                                            o.max_accuracy_drop, o.margin_sigmas, o.batch_size, &err));
    int removed = 0;
    for (int l = 0; l < c.layer_count; ++l) {
      for (int32_t h : search.removed[static_cast<size_t>(l)]) {
        auto& kept = plan.heads[static_cast<size_t>(l)];
        kept.erase(std::find(kept.begin(), kept.end(), h));
        ++removed;
      }
    }
    out << "  heads: greedy search, least important first, each kept out only if the tuning accuracy stays within "
        << o.max_accuracy_drop << " points (drop + " << o.margin_sigmas << " standard errors): " << removed << " of "
        << c.layer_count * c.head_count << " removed\n";
  } else if (!o.heads.empty()) {
    ENCORE_RETURN_IF_ERROR(remove_listed_heads(o.heads, c, &plan));
  }
  if (o.ffn_auto) {
    const size_t width = static_cast<size_t>(c.intermediate_size), chunk = std::max<size_t>(1, width / 16);
    std::vector<size_t> removed(static_cast<size_t>(c.layer_count), 0);
    std::vector<bool> growing(removed.size(), true);
    err << "encore-convert: FFN neurons in chunks of " << chunk << " per layer, drop bound within " << o.max_accuracy_drop
        << " points of " << 100.0 * tune_before.accuracy << "%\n";
    for (bool any = true; any;) {
      any = false;
      for (size_t l = 0; l < removed.size(); ++l) {
        if (!growing[l] || removed[l] + chunk >= width) {
          growing[l] = false;
          continue;
        }
        PrunePlan trial = plan;
        trial.neurons[l] = kept_neurons(order[l], removed[l] + chunk);
        ENCORE_ASSIGN_OR_RETURN(ModelContents contents, prune_contents(unpruned, trial));
        ENCORE_ASSIGN_OR_RETURN(Loaded m, load(contents));
        ENCORE_ASSIGN_OR_RETURN(auto r, evaluate(m.model, tune, o));
        const double bound = analyze::accuracy_drop_bound(tune_before, r, o.margin_sigmas);
        const bool ok = bound <= o.max_accuracy_drop;
        char line[200];
        std::snprintf(line, sizeof line,
                      "  layer %zu FFN without %zu of %zu neurons: tuning accuracy %.2f%% (%+.2f points; drop bound "
                      "%.2f): %s\n",
                      l, removed[l] + chunk, width, 100.0 * r.accuracy, 100.0 * (r.accuracy - tune_before.accuracy),
                      bound, ok ? "removed" : "kept, layer done");
        err << line << std::flush;
        if (ok) {
          removed[l] += chunk;
          plan = std::move(trial);
          any = true;
        } else {
          growing[l] = false;
        }
      }
    }
    out << "  FFN: chunks of " << chunk << " neurons removed per layer while the tuning accuracy stayed within "
        << o.max_accuracy_drop << " points (drop + " << o.margin_sigmas << " standard errors)\n";
  }
  ENCORE_ASSIGN_OR_RETURN(ModelContents pruned, prune_contents(unpruned, plan));
  ENCORE_ASSIGN_OR_RETURN(Loaded after, load(pruned));
  out << "  pruned model:\n" << describe_plan(c, plan);
  if (evaluated) {
    ENCORE_ASSIGN_OR_RETURN(auto tune_after, evaluate(after.model, tune, o));
    out << accuracy_line("tuning", tune.name, tune_before, tune_after);
    if (held.count > 0) {
      ENCORE_ASSIGN_OR_RETURN(auto held_after, evaluate(after.model, held, o));
      out << accuracy_line("held-out", held.name, held_before, held_after);
      const double drop = 100.0 * (held_before.accuracy - held_after.accuracy);
      if (o.heads == "auto" && drop > o.max_accuracy_drop) {
        err << "encore-convert: warning: the held-out accuracy dropped " << drop << " points, more than the "
            << o.max_accuracy_drop << " allowed on the tuning set\n";
      }
    }
  }
  char buf[128];
  std::snprintf(buf, sizeof buf, "  size: %.3f MB unpruned -> %.3f MB pruned (%.1f%% smaller)\n",
                double(before.bytes) / 1e6, double(after.bytes) / 1e6,
                100.0 * (1.0 - double(after.bytes) / double(before.bytes)));
  out << buf;
  return pruned;
}

}  // namespace encore::convert
