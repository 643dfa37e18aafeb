#include "convert/quantizer.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace encore::convert {

QuantizedRows quantize_rows_symmetric(const std::vector<float>& w, int64_t rows, int64_t cols) {
  QuantizedRows q;
  q.values.resize(w.size());
  q.scales.resize(static_cast<size_t>(rows));
  double signal = 0.0, noise = 0.0;
  // A row of zeros gets the mean scale of the others, so no scale is 0 and requantization
  // scales stay in XNNPACK's accepted range.
  double scale_sum = 0.0;
  int64_t nonzero_rows = 0;
  for (int64_t r = 0; r < rows; ++r) {
    float max_abs = 0.0f;
    for (int64_t c = 0; c < cols; ++c) max_abs = std::max(max_abs, std::fabs(w[static_cast<size_t>(r * cols + c)]));
    q.scales[static_cast<size_t>(r)] = max_abs / 127.0f;
    if (max_abs > 0.0f) {
      scale_sum += max_abs / 127.0;
      ++nonzero_rows;
    }
  }
  const float fallback = nonzero_rows ? static_cast<float>(scale_sum / nonzero_rows) : 1.0f;
  for (int64_t r = 0; r < rows; ++r) {
    float& s = q.scales[static_cast<size_t>(r)];
    if (!(s > 0.0f)) s = fallback;
    for (int64_t c = 0; c < cols; ++c) {
      const size_t i = static_cast<size_t>(r * cols + c);
      const float v = std::nearbyint(w[i] / s);
      q.values[i] = static_cast<int8_t>(std::clamp(v, -127.0f, 127.0f));
      const double err = double(w[i]) - double(s) * q.values[i];
      signal += double(w[i]) * w[i];
      noise += err * err;
    }
  }
  q.sqnr_db = noise > 0.0 ? 10.0 * std::log10(signal / noise) : std::numeric_limits<double>::infinity();
  return q;
}

ActivationRecord activation_params(std::string name, float lo, float hi, bool symmetric) {
  ActivationRecord a;
  a.name = std::move(name);
  a.observed_min = lo;
  a.observed_max = hi;
  // A degenerate range still needs a usable positive scale.
  constexpr float kMinRange = 1e-6f;
  if (symmetric) {
    const float m = std::max({std::fabs(lo), std::fabs(hi), kMinRange});
    a.scale = m / 127.0f;
    a.zero_point = 0;
    return a;
  }
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  if (hi - lo < kMinRange) hi = lo + kMinRange;
  a.scale = (hi - lo) / 255.0f;
  const float zp = std::nearbyint(-128.0f - lo / a.scale);
  a.zero_point = static_cast<int32_t>(std::clamp(zp, -128.0f, 127.0f));
  return a;
}

std::vector<int32_t> quantize_bias(const std::vector<float>& bias, float input_scale,
                                   const std::vector<float>& weight_scales) {
  std::vector<int32_t> q(bias.size());
  for (size_t i = 0; i < bias.size(); ++i) {
    const double v = std::nearbyint(double(bias[i]) / (double(input_scale) * weight_scales[i]));
    q[i] = static_cast<int32_t>(std::clamp(v, double(std::numeric_limits<int32_t>::min()),
                                           double(std::numeric_limits<int32_t>::max())));
  }
  return q;
}

}  // namespace encore::convert

namespace encore::convert {

const char* calibration_method_name(CalibrationMethod m) {
  switch (m) {
    case CalibrationMethod::kMinMax: return "minmax";
    case CalibrationMethod::kPercentile: return "percentile";
    case CalibrationMethod::kMse: return "mse";
    case CalibrationMethod::kAuto: return "auto";
  }
  return "?";
}

bool calibration_method_from_name(std::string_view name, CalibrationMethod* m) {
  for (CalibrationMethod c : {CalibrationMethod::kMinMax, CalibrationMethod::kPercentile, CalibrationMethod::kMse,
                              CalibrationMethod::kAuto}) {
    if (name == calibration_method_name(c)) {
      *m = c;
      return true;
    }
  }
  return false;
}

namespace {

double bin_center(const ActivationHistogram& h, size_t i) {
  const double width = (double(h.hi) - double(h.lo)) / double(h.counts.size());
  return double(h.lo) + (double(i) + 0.5) * width;
}

// Mean squared error per value of activation_params' affine grid on [lo, hi] (widened to 0
// as it is): values inside round (step^2 / 12 each), values outside clip to the nearer end.
double grid_mse(const ActivationHistogram& h, float lo, float hi) {
  const ActivationRecord a = activation_params("", lo, hi, false);
  const double qlo = double(a.scale) * (-128 - a.zero_point), qhi = double(a.scale) * (127 - a.zero_point);
  const double rounding = double(a.scale) * a.scale / 12.0;
  double err = 0.0, total = 0.0;
  for (size_t i = 0; i < h.counts.size(); ++i) {
    if (h.counts[i] == 0.0) continue;
    const double x = bin_center(h, i);
    const double d = x < qlo ? qlo - x : x > qhi ? x - qhi : 0.0;
    err += h.counts[i] * (d > 0.0 ? d * d : rounding);
    total += h.counts[i];
  }
  return total > 0.0 ? err / total : 0.0;
}

// The value below which `fraction` of the histogram's mass lies (bin edges, linear inside a bin).
float quantile(const ActivationHistogram& h, double fraction) {
  double total = 0.0;
  for (double c : h.counts) total += c;
  const double target = fraction * total, width = (double(h.hi) - double(h.lo)) / double(h.counts.size());
  double seen = 0.0;
  for (size_t i = 0; i < h.counts.size(); ++i) {
    if (seen + h.counts[i] >= target && h.counts[i] > 0.0) {
      return static_cast<float>(double(h.lo) + width * (double(i) + (target - seen) / h.counts[i]));
    }
    seen += h.counts[i];
  }
  return h.hi;
}

}  // namespace

ChosenRange choose_range(const ActivationHistogram& h, CalibrationMethod method) {
  ChosenRange minmax{h.lo, h.hi, CalibrationMethod::kMinMax, 0.0};
  if (h.counts.empty() || !(h.hi > h.lo)) return minmax;
  minmax.mse = grid_mse(h, h.lo, h.hi);
  if (method == CalibrationMethod::kMinMax) return minmax;
  if (method == CalibrationMethod::kPercentile) {
    const float lo = quantile(h, 1e-4), hi = quantile(h, 1.0 - 1e-4);
    return ChosenRange{lo, hi, CalibrationMethod::kPercentile, grid_mse(h, lo, hi)};
  }
  ChosenRange best{h.lo, h.hi, CalibrationMethod::kMse, minmax.mse};
  constexpr int kSteps = 64, kFirst = 16;
  for (int i = kFirst; i <= kSteps; ++i) {
    for (int j = kFirst; j <= kSteps; ++j) {
      const float lo = h.lo * float(i) / kSteps, hi = h.hi * float(j) / kSteps;
      const double e = grid_mse(h, lo, hi);
      if (e < best.mse) best = ChosenRange{lo, hi, CalibrationMethod::kMse, e};
    }
  }
  if (method == CalibrationMethod::kAuto && !(best.mse * 2.0 <= minmax.mse)) return minmax;
  return best;
}

}  // namespace encore::convert
