// The one place that owns XNNPACK: process-wide init, and linear layers as RAII operators.
//
// A LinearOp is created once (XNNPACK packs the weights into its own layout then) and set up
// again only when the row count or the buffers change, so a steady-state run is one
// xnn_run_operator call: no allocation, no operator creation.
#pragma once

#include <pthreadpool.h>
#include <xnnpack.h>

#include <cstddef>
#include <cstdint>

#include <memory>

#include "encore/status.h"
#include "kernels/gemm.h"
#include "model/model_weights.h"

namespace encore::internal {

// Initialises XNNPACK once per process; later calls return the first result.
Status xnnpack_initialize();

// "what: XNNPACK <call> failed: <status name>"; without "what: " when what is "" (the caller
// adds the context, as the session's step loop does). The same holds for every LinearOp error.
Status xnn_error(enum xnn_status status, const char* call, const char* what);

class LinearOp {
 public:
  // f32: y[rows, out] = x[rows, in] * W^T + b.
  static Result<LinearOp> create_f32(int64_t out, int64_t in, const float* weight, const float* bias,
                                     const char* what);
  // int8 with per-output-channel weights (an XNNPACK qc8 1x1 convolution): the input is
  // int8 with (input.scale, input.zero_point); output row r is requantized to
  // output_scales[r] with one shared output_zero_point. Different output scales per row
  // (e.g. separate Q, K and V scales in the fused QKV layer) are folded into the per-channel
  // kernel scales XNNPACK applies: kernel_scale[r] = weight_scale[r] / output_scales[r], with
  // the operator's own output scale 1.
  //
  // own_kernel: run encore's own GEMM with that kernel instead of XNNPACK (same int8 results;
  // see kernels/gemm.h); null = XNNPACK.
  static Result<LinearOp> create_qc8(const LinearWeights& w, ActivationQuant input,
                                     const float* output_scales, int32_t output_zero_point,
                                     const char* what, const Qs8GemmKernel* own_kernel = nullptr);

  LinearOp() = default;
  LinearOp(LinearOp&& o) noexcept : op_(o.op_), own_(std::move(o.own_)), what_(o.what_), int8_(o.int8_) {
    o.op_ = nullptr;
  }
  LinearOp& operator=(LinearOp&& o) noexcept;
  LinearOp(const LinearOp&) = delete;
  ~LinearOp();

  // Runs on `rows` rows; input/output are contiguous [rows, in] / [rows, out] of the
  // operator's dtype. Re-setup happens only when rows or pointers differ from the last call.
  Status run(size_t rows, const void* input, void* output, pthreadpool_t pool);

  // What runs the layer, for profiles: "xnnpack qc8 conv 1x1", "encore qs8 gemm avx512vnni 4x64", ...
  const char* kernel_name() const;

 private:
  xnn_operator_t op_ = nullptr;
  std::unique_ptr<Qs8GemmWeights> own_;  // set: encore's GEMM runs instead of op_
  const char* what_ = "";
  bool int8_ = false;
  size_t rows_ = 0;
  const void* input_ = nullptr;
  void* output_ = nullptr;
};

}  // namespace encore::internal
