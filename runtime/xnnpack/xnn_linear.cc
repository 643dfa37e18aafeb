#include "xnnpack/xnn_linear.h"

#include <cmath>
#include <limits>
#include <mutex>
#include <new>
#include <vector>

#include "core/str.h"

namespace encore::internal {

namespace {
const char* xnn_status_name(enum xnn_status s) {
  switch (s) {
    case xnn_status_success: return "success";
    case xnn_status_uninitialized: return "uninitialized";
    case xnn_status_invalid_parameter: return "invalid parameter";
    case xnn_status_invalid_state: return "invalid state";
    case xnn_status_unsupported_parameter: return "unsupported parameter";
    case xnn_status_unsupported_hardware: return "unsupported hardware";
    case xnn_status_out_of_memory: return "out of memory";
  }
  return "unknown status";
}

std::string prefix(const char* what) { return what[0] ? cat(what, ": ") : std::string(); }
}  // namespace

Status xnn_error(enum xnn_status status, const char* call, const char* what) {
  StatusCode code = status == xnn_status_out_of_memory       ? StatusCode::kResourceExhausted
                    : status == xnn_status_unsupported_hardware ? StatusCode::kUnsupported
                                                                : StatusCode::kInternal;
  return Status(code, cat(prefix(what), "XNNPACK ", call, " failed: ", xnn_status_name(status)));
}

Status xnnpack_initialize() {
  static std::once_flag once;
  static enum xnn_status result = xnn_status_uninitialized;
  std::call_once(once, [] { result = xnn_initialize(/*allocator=*/nullptr); });
  if (result != xnn_status_success) return xnn_error(result, "xnn_initialize", "encore");
  return Status::Ok();
}

Result<LinearOp> LinearOp::create_f32(int64_t out, int64_t in, const float* weight, const float* bias,
                                      const char* what) {
  ENCORE_RETURN_IF_ERROR(xnnpack_initialize());
  LinearOp op;
  op.what_ = what;
  const float inf = std::numeric_limits<float>::infinity();
  enum xnn_status s = xnn_create_fully_connected_nc_f32(
      static_cast<size_t>(in), static_cast<size_t>(out), static_cast<size_t>(in), static_cast<size_t>(out),
      weight, bias, -inf, inf, /*flags=*/0, &op.op_);
  if (s != xnn_status_success) return xnn_error(s, "create_fully_connected_nc_f32", what);
  return op;
}

Result<LinearOp> LinearOp::create_qc8(const LinearWeights& w, ActivationQuant input, const float* output_scales,
                                      int32_t output_zero_point, const char* what, const Qs8GemmKernel* own_kernel) {
  ENCORE_RETURN_IF_ERROR(xnnpack_initialize());
  std::vector<float> kernel_scale(static_cast<size_t>(w.out));
  for (int64_t r = 0; r < w.out; ++r) {
    kernel_scale[static_cast<size_t>(r)] = w.weight_scales[r] / output_scales[r];
    // XNNPACK requires input_scale * kernel_scale / output_scale in [2^-32, 256).
    double requant = double(input.scale) * kernel_scale[static_cast<size_t>(r)];
    if (!(requant >= std::ldexp(1.0, -32) && requant < 256.0)) {
      return unsupported(cat(prefix(what), "requantization scale ", requant, " of row ", r,
                             " is outside XNNPACK's range [2^-32, 256)"));
    }
  }
  LinearOp op;
  op.what_ = what;
  op.int8_ = true;
  if (own_kernel) {
    if (!qs8_gemm_kernel_supported(*own_kernel)) {
      return unsupported(cat(prefix(what), "this CPU cannot run ", qs8_gemm_kernel_name(*own_kernel)));
    }
    try {
      op.own_ = std::make_unique<Qs8GemmWeights>(qs8_gemm_pack(
          *own_kernel, static_cast<size_t>(w.out), static_cast<size_t>(w.in), w.weight_i8, w.bias_i32,
          w.weight_scales, output_scales, input.scale, input.zero_point, output_zero_point));
    } catch (const std::bad_alloc&) {
      return resource_exhausted(cat(prefix(what), "out of memory packing the weights"));
    }
    return op;
  }
  const size_t in = static_cast<size_t>(w.in), out = static_cast<size_t>(w.out);
  enum xnn_status s = xnn_create_convolution2d_nhwc_qc8(
      0, 0, 0, 0, /*kernel=*/1, 1, /*subsampling=*/1, 1, /*dilation=*/1, 1, /*groups=*/1, in, out,
      /*input_channel_stride=*/in, /*output_channel_stride=*/out, static_cast<int8_t>(input.zero_point),
      input.scale, kernel_scale.data(), w.weight_i8, w.bias_i32, static_cast<int8_t>(output_zero_point),
      /*output_scale=*/1.0f, -128, 127, /*flags=*/0, &op.op_);
  if (s != xnn_status_success) return xnn_error(s, "create_convolution2d_nhwc_qc8", what);
  return op;
}

LinearOp& LinearOp::operator=(LinearOp&& o) noexcept {
  if (this != &o) {
    if (op_) xnn_delete_operator(op_);
    op_ = o.op_;
    own_ = std::move(o.own_);
    what_ = o.what_;
    int8_ = o.int8_;
    rows_ = 0;
    input_ = nullptr;
    output_ = nullptr;
    o.op_ = nullptr;
  }
  return *this;
}

LinearOp::~LinearOp() {
  if (op_) xnn_delete_operator(op_);
}

const char* LinearOp::kernel_name() const {
  if (own_) return qs8_gemm_kernel_name(own_->kernel);
  return int8_ ? "xnnpack qc8 conv 1x1" : "xnnpack f32 fully-connected";
}

Status LinearOp::run(size_t rows, const void* input, void* output, pthreadpool_t pool) {
  if (own_) {
    qs8_gemm_run(*own_, rows, static_cast<const int8_t*>(input), static_cast<int8_t*>(output), pool);
    return Status::Ok();
  }
  if (rows != rows_ || input != input_ || output != output_) {
    enum xnn_status s;
    if (int8_) {
      s = xnn_setup_convolution2d_nhwc_qc8(op_, /*batch=*/rows, /*height=*/1, /*width=*/1,
                                           static_cast<const int8_t*>(input), static_cast<int8_t*>(output), pool);
    } else {
      s = xnn_setup_fully_connected_nc_f32(op_, rows, static_cast<const float*>(input),
                                           static_cast<float*>(output), pool);
    }
    if (s != xnn_status_success) return xnn_error(s, "setup", what_);
    rows_ = rows;
    input_ = input;
    output_ = output;
  }
  enum xnn_status s = xnn_run_operator(op_, pool);
  if (s != xnn_status_success) return xnn_error(s, "run_operator", what_);
  return Status::Ok();
}

}  // namespace encore::internal
