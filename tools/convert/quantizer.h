// The converter's quantization arithmetic.
//
// Weights: symmetric per output row, scale = max|w_row| / 127, q = round(w / scale).
// Activations: affine per tensor from the calibrated range widened to include 0,
//   scale = (max - min) / 255, zero_point = round(-128 - min / scale); symmetric points
//   (Q, K, V) use scale = max(|min|, |max|) / 127 and zero point 0.
// Biases: int32 in accumulator units, round(b / (input_scale * weight_scale[row])).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "convert/model_writer.h"

namespace encore::convert {

struct QuantizedRows {
  std::vector<int8_t> values;
  std::vector<float> scales;  // one per row
  double sqnr_db = 0.0;       // 10 log10(sum w^2 / sum (w - dequant(q))^2); +inf when exact
};

QuantizedRows quantize_rows_symmetric(const std::vector<float>& w, int64_t rows, int64_t cols);

ActivationRecord activation_params(std::string name, float observed_min, float observed_max, bool symmetric);

std::vector<int32_t> quantize_bias(const std::vector<float>& bias, float input_scale,
                                   const std::vector<float>& weight_scales);

}  // namespace encore::convert
