#pragma once
// Forwarding header: LayerNorm and residual_layer_norm are declared in kernels/norm.h.
#include "kernels/norm.h"
