#pragma once
// Forwarding header: the int8 GEMM is declared in kernels/gemm.h, the attention steps in kernels/attention.h.
#include "kernels/attention.h"
#include "kernels/gemm.h"
