#include "encore/config.h"

namespace encore {

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::kGeluErf: return "gelu";
    case Activation::kGeluTanh: return "gelu_tanh";
    case Activation::kRelu: return "relu";
  }
  return "unknown";
}

}  // namespace encore
