// libFuzzer target: bytes as a .encore model. Whatever loads must also run: a session is
// created and one short sequence (with mask and token types) goes through every layer, so a
// shape or offset the loader let through that the kernels then trust shows up here.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "encore/model.h"
#include "encore/session.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto model = encore::Model::load_from_memory(std::vector<uint8_t>(data, data + size));
  if (!model.ok()) return 0;
  const encore::EncoderConfig& cfg = (*model)->config();
  auto session = encore::Session::create(*model);
  if (!session.ok()) return 0;
  const int64_t seq = cfg.max_positions < 3 ? cfg.max_positions : 3;
  std::vector<int32_t> ids(static_cast<size_t>(seq)), mask(ids.size(), 1), types(ids.size(), 0);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i % static_cast<size_t>(cfg.vocab_size));
  if (!mask.empty()) mask.back() = 0;
  encore::Inputs in;
  in.seq_len = seq;
  in.input_ids = ids.data();
  in.attention_mask = mask.data();
  in.token_type_ids = types.data();
  encore::Outputs out;
  (void)(*session)->run(in, &out);
  return 0;
}
