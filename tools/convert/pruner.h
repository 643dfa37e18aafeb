// Structured pruning: removes whole attention heads and FFN neurons from converted model
// contents, producing a smaller model the runtime runs with per-layer widths
// (EncoderConfig::layer_heads / layer_intermediate_sizes, format version 2).
//
// Removing head h of a layer drops its rows of Q, K and V (weights and biases) and its columns
// of the output projection. Nothing is re-quantized or re-calibrated: kept rows keep their
// per-channel weight scales and int32 biases, and every activation keeps its scale. So a model
// with heads removed computes what the unpruned one computes with those heads masked
// (Session::set_head_masked): in int8 bit for bit (the removed terms are exact integer zeros),
// in f32 up to summation order.
//
// Removing FFN neuron j drops row j of the up projection (and its bias) and column j of the
// down projection. With the neuron's mean activation known (PrunePlan::neuron_means), its
// average contribution, mean_j x down column j, is folded into the down projection's bias
// (in int8: round(sum_j q[r, j] mean_j / input_scale) accumulator units), so the neuron is
// replaced by its mean rather than by zero: what it did on average survives, only its
// variation is lost. Without means it is replaced by zero.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "convert/hf_checkpoint.h"
#include "convert/model_writer.h"
#include "encore/model.h"
#include "encore/status.h"

namespace encore::convert {

// What each layer keeps, by original index, ascending, at least one of each per layer.
struct PrunePlan {
  std::vector<std::vector<int32_t>> heads;    // [layer] -> kept heads
  std::vector<std::vector<int32_t>> neurons;  // [layer] -> kept FFN neurons
  // [layer][neuron]: mean activation of every original neuron, folded into ffn_down's bias for
  // the removed ones; empty: removed neurons contribute zero.
  std::vector<std::vector<double>> neuron_means;
};

// The plan that keeps everything.
PrunePlan keep_everything(const EncoderConfig& config);

// Slices unpruned contents (f32 or int8, as f32_contents / int8_contents make them) to the
// plan. kInvalidArgument for a plan that does not fit the config or removes every head or
// neuron of a layer; kInvalidModel for contents that are already pruned or lack a tensor.
Result<ModelContents> prune_contents(const ModelContents& in, const PrunePlan& plan);

// Parses an explicit head list "L:H,L:H,..." (layer and head indices to remove) into `plan`.
Status remove_listed_heads(const std::string& list, const EncoderConfig& config, PrunePlan* plan);

// FFN activation statistics over real tokens: per layer and neuron, the mean and the mean
// square of the activation output (ffn_down's input) of the f32 model, over each sequence's
// tokens up to its last unmasked one (trailing padding is never computed; the rare masked
// token inside a sequence counts).
struct FfnStatistics {
  std::vector<std::vector<double>> mean, mean_square;
  int64_t tokens = 0;
};
// ids / mask: [n, seq] (mask null: every token is real).
Result<FfnStatistics> ffn_statistics(std::shared_ptr<const Model> f32_model, const int32_t* ids, const int32_t* mask,
                                     int64_t n, int64_t seq, int threads);

// FFN neuron importance: the standard deviation of its activation x the L2 norm of its
// down-projection column, i.e. the typical size of what replacing the neuron by its mean
// changes in the residual stream. Per layer, the neurons in order of increasing importance.
std::vector<std::vector<int32_t>> neurons_by_importance(const FloatCheckpoint& ck, const FfnStatistics& stats);

// Keeps, per layer, all but the floor(fraction x width) least important neurons (at least one)
// and records the means for compensation. fraction in [0, 1).
Status keep_important_neurons(const std::vector<std::vector<int32_t>>& order, const FfnStatistics& stats,
                              double fraction, PrunePlan* plan);
// Keeps all but the first `removed` neurons of `order` (one layer's), ascending.
std::vector<int32_t> kept_neurons(const std::vector<int32_t>& order, size_t removed);

// "layer 0: heads 0, 1, 3 of 4; FFN 128 of 256" lines for reports.
std::string describe_plan(const EncoderConfig& config, const PrunePlan& plan);

}  // namespace encore::convert
