// The contract of residual_layer_norm, checked on any implementation of it (the dispatching
// function, the portable loops, the AVX-512 kernel and its intrinsic stand-in version).
#pragma once

#include <cstddef>

#include "kernels/norm.h"

namespace encore::test {

using ResidualNormFn = void (*)(size_t, size_t, float*, const float*, const float*, float, const ResidualNormQs8&);
void check_residual_layer_norm(ResidualNormFn fn);

}  // namespace encore::test
