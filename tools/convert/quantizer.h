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
#include <string_view>
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

// How a GEMM input's int8 range is chosen from what calibration saw (--calibration).
//  kMinMax      the observed [min, max]: nothing clipped; one outlier sets the step for all.
//  kPercentile  [0.01th, 99.99th] percentile: the rarest values clipped.
//  kMse         the range whose int8 grid has the least mean squared error over the observed
//               values (rounding inside the range plus clipping outside), searched over 49 x 49
//               shrinkings of each end.
//  kAuto        per input: kMse when it at least halves min/max's squared error, else kMinMax
//               (clipping is kept for inputs where it pays clearly, since a calibration set is
//               a sample and clipped values elsewhere cost more than rounding).
enum class CalibrationMethod { kMinMax, kPercentile, kMse, kAuto };
const char* calibration_method_name(CalibrationMethod m);
bool calibration_method_from_name(std::string_view name, CalibrationMethod* m);

// The values one activation point took during calibration, in equal bins over [lo, hi].
struct ActivationHistogram {
  float lo = 0.0f, hi = 0.0f;
  std::vector<double> counts;
};

struct ChosenRange {
  float lo = 0.0f, hi = 0.0f;
  CalibrationMethod method = CalibrationMethod::kMinMax;  // never kAuto
  double mse = 0.0;  // expected squared error per value of the affine int8 grid on [lo, hi]
};

// The range for an asymmetric (affine) int8 GEMM input. kMinMax returns [lo, hi] exactly.
ChosenRange choose_range(const ActivationHistogram& h, CalibrationMethod method);

std::vector<int32_t> quantize_bias(const std::vector<float>& bias, float input_scale,
                                   const std::vector<float>& weight_scales);

}  // namespace encore::convert
