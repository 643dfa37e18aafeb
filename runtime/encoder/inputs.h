// A run's inputs on their way in and its result on the way out: validation against the model,
// packing the rows to each sequence's real tokens, and moving the result back to [batch, seq].
#pragma once

#include <cstddef>

#include "encore/config.h"
#include "encore/session.h"
#include "encore/status.h"
#include "encoder/activation_arena.h"

namespace encore::internal {

// Shapes, the 2^24 token limit, ids and token types in range, mask values 0 or 1; the error
// names the first bad element ("input_ids[1][7] = 40000 is outside the vocabulary [0, 30522)").
Status validate_inputs(const Inputs& in, const EncoderConfig& c);

// Fills b.token_source and b.seq_rows with the rows to compute: each sequence up to its last
// unmasked token. Trailing padding cannot influence those tokens (its keys are masked), so
// skipping it changes no result; a sequence with no unmasked token keeps every position, as it
// would unpacked. Returns the packed row count.
size_t pack_rows(const Inputs& in, const ActivationBuffers& b);

// The position embedding row of every packed row into b.positions: its place in the sequence,
// or for RoBERTa-family models the count of non-pad tokens up to it after pad_token_id (a pad
// token gets pad_token_id), as Hugging Face derives positions from the ids.
void fill_positions(const Inputs& in, const EncoderConfig& c, const ActivationBuffers& b);

// Query x key pairs over the batch of packed sequences (attention's work).
uint64_t packed_score_count(const Inputs& in, const ActivationBuffers& b);

// Moves the packed rows of b.hidden ([rows, hidden]) to their [batch, seq, hidden] places and
// zeroes the positions that were not computed.
void unpack_hidden(const Inputs& in, size_t hidden, const ActivationBuffers& b);

// The same for any [rows, width] buffer of packed rows (the per-token heads' logits).
void unpack_rows(const Inputs& in, size_t width, float* data, const ActivationBuffers& b);

}  // namespace encore::internal
