#include "convert/sentencepiece_model.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/str.h"

namespace encore::convert {
namespace {

template <typename T>
Status ok_or(const Result<T>& r) {
  return r.ok() ? Status::Ok() : r.status();
}

// Protobuf wire format: (field << 3 | wire type) varint keys; 0 varint, 1 fixed64, 2 length-
// delimited, 5 fixed32. Groups (3, 4) do not occur in ModelProto.
class WireReader {
 public:
  WireReader(std::string_view data, std::string name) : data_(data), name_(std::move(name)) {}
  bool done() const { return pos_ >= data_.size(); }

  Result<uint64_t> varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return error("truncated varint");
      const uint8_t b = static_cast<uint8_t>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    return error("varint longer than 10 bytes");
  }
  Result<std::string_view> bytes(size_t n) {
    if (n > data_.size() - pos_) return error("truncated field");
    std::string_view s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  Result<std::string_view> length_delimited() {
    ENCORE_ASSIGN_OR_RETURN(uint64_t n, varint());
    if (n > data_.size() - pos_) return error("truncated field");
    return bytes(static_cast<size_t>(n));
  }
  Status skip(int wire_type) {
    if (wire_type == 0) return ok_or(varint());
    if (wire_type == 1) return ok_or(bytes(8));
    if (wire_type == 2) return ok_or(length_delimited());
    if (wire_type == 5) return ok_or(bytes(4));
    return error(cat("wire type ", wire_type, " is not supported"));
  }
  Status error(const std::string& what) const { return invalid_model(cat(name_, ": not a SentencePiece model (", what, " at byte ", pos_, ")")); }

 private:
  std::string_view data_;
  std::string name_;
  size_t pos_ = 0;
};


Result<SpmPiece> parse_piece(std::string_view data, const std::string& name) {
  SpmPiece p;
  WireReader r(data, name);
  while (!r.done()) {
    ENCORE_ASSIGN_OR_RETURN(uint64_t key, r.varint());
    const uint64_t field = key >> 3;
    const int wt = static_cast<int>(key & 7);
    if (field == 1 && wt == 2) {
      ENCORE_ASSIGN_OR_RETURN(std::string_view s, r.length_delimited());
      p.piece = std::string(s);
    } else if (field == 2 && wt == 5) {
      ENCORE_ASSIGN_OR_RETURN(std::string_view s, r.bytes(4));
      uint32_t bits = 0;
      for (int i = 3; i >= 0; --i) bits = (bits << 8) | static_cast<uint8_t>(s[static_cast<size_t>(i)]);  // little-endian
      std::memcpy(&p.score, &bits, 4);
    } else if (field == 3 && wt == 0) {
      ENCORE_ASSIGN_OR_RETURN(uint64_t t, r.varint());
      p.type = static_cast<int>(std::min<uint64_t>(t, 1000));
    } else {
      ENCORE_RETURN_IF_ERROR(r.skip(wt));
    }
  }
  return p;
}

}  // namespace

// ModelProto: 1 pieces (piece 1, score 2, type 3), 2 trainer_spec (model_type 3, byte_fallback
// 35), 3 normalizer_spec (precompiled_charsmap 2); everything else is skipped.
Result<SpmModel> parse_spm(std::string_view data, const std::string& name) {
  SpmModel m;
  WireReader r(data, name);
  while (!r.done()) {
    ENCORE_ASSIGN_OR_RETURN(uint64_t key, r.varint());
    const uint64_t field = key >> 3;
    const int wt = static_cast<int>(key & 7);
    if ((field == 1 || field == 2 || field == 3) && wt == 2) {
      ENCORE_ASSIGN_OR_RETURN(std::string_view sub, r.length_delimited());
      if (field == 1) {
        ENCORE_ASSIGN_OR_RETURN(SpmPiece p, parse_piece(sub, name));
        m.pieces.push_back(std::move(p));
        continue;
      }
      WireReader s(sub, name);
      while (!s.done()) {
        ENCORE_ASSIGN_OR_RETURN(uint64_t k, s.varint());
        const uint64_t f = k >> 3;
        const int w = static_cast<int>(k & 7);
        if (field == 2 && (f == 3 || f == 35) && w == 0) {
          ENCORE_ASSIGN_OR_RETURN(uint64_t v, s.varint());
          if (f == 3) m.model_type = static_cast<int>(std::min<uint64_t>(v, 1000));
          if (f == 35) m.byte_fallback = v != 0;
        } else if (field == 3 && f == 2 && w == 2) {
          ENCORE_ASSIGN_OR_RETURN(std::string_view cm, s.length_delimited());
          m.precompiled_charsmap = std::string(cm);
        } else {
          ENCORE_RETURN_IF_ERROR(s.skip(w));
        }
      }
    } else {
      ENCORE_RETURN_IF_ERROR(r.skip(wt));
    }
  }
  if (m.pieces.size() < 4) return invalid_model(cat(name, ": ", m.pieces.size(), " pieces; a SentencePiece model has at least <unk> <s> </s> and one more"));
  for (size_t i = 0; i < m.pieces.size(); ++i) {
    if (m.pieces[i].piece.empty()) return invalid_model(cat(name, ": piece ", i, " is empty"));
    if (!std::isfinite(m.pieces[i].score)) return invalid_model(cat(name, ": piece ", i, " has a non-finite score"));
  }
  return m;
}

}  // namespace encore::convert
