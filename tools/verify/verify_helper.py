#!/usr/bin/python3
"""Helper of tools/verify/outputs.sh (numpy only; run with Debian's /usr/bin/python3).

  verify_helper.py make-model minilm|bert-base DIR     a reference-shaped HF BERT dir (fixed seed)
  verify_helper.py inputs MODEL_DIR NAME OUT_DIR        the fixed input sets of one model
  verify_helper.py normalize-model FILE                 zero the created_utc timestamp in place
  verify_helper.py npy-diff A B                         max abs difference of two .npy files

Everything here is deterministic: fixed seeds, numpy's PCG64 (default_rng), no time or host
dependence, so two records of the same build must be byte-identical.
"""
import json
import mmap
import os
import re
import struct
import sys
import zlib

import numpy as np

SHAPES = {
    "minilm": dict(hidden=384, heads=12, layers=6, ffn=1536, vocab=30522, max_pos=512, seed=11),
    "bert-base": dict(hidden=768, heads=12, layers=12, ffn=3072, vocab=30522, max_pos=512, seed=12),
}


def make_vocab(size):
    """The same scheme as tools/reference/make_fixtures.py: specials at BERT's ids, then distinct words."""
    vocab = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    letters = "abcdefghijklmnopqrstuvwxyz"
    i = 0
    while len(vocab) < size:
        word, n = "", i
        while True:
            word += letters[n % 26]
            n //= 26
            if n == 0:
                break
        vocab.append(word if i % 3 else "##" + word)
        i += 1
    return vocab[:size]


def write_safetensors(path, tensors):
    header, offset = {}, 0
    for name, a in tensors.items():
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for a in tensors.values():
            f.write(a.astype("<f4").tobytes())
    os.replace(tmp, path)


def make_model(shape, out_dir):
    """Random weights shaped like a trained BERT's (as make_fixtures.py: O(1) embeddings, fan-in
    scaled linears, Q/K gain 1.2 for peaked attention, two outlier channels in the residual stream)."""
    s = SHAPES[shape]
    H, F, V, P = s["hidden"], s["ffn"], s["vocab"], s["max_pos"]
    rng = np.random.default_rng(s["seed"])

    def randn(*dims, std=1.0):
        return (rng.standard_normal(dims, dtype=np.float32) * np.float32(std)).astype(np.float32)

    def linear(out_f, in_f, gain=1.0):
        return randn(out_f, in_f, std=gain / np.sqrt(in_f)), randn(out_f, std=0.05)

    def norm():
        return (1.0 + randn(H, std=0.1)).astype(np.float32), randn(H, std=0.05)

    outliers = rng.permutation(H)[:2]
    w = {}
    w["embeddings.word_embeddings.weight"] = randn(V, H, std=0.6)
    w["embeddings.position_embeddings.weight"] = randn(P, H, std=0.3)
    w["embeddings.token_type_embeddings.weight"] = randn(2, H, std=0.3)
    w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"] = norm()
    for i in range(s["layers"]):
        p = f"encoder.layer.{i}."
        for part in ("query", "key", "value"):
            wt, bs = linear(H, H, gain=1.2 if part != "value" else 1.0)
            w[p + f"attention.self.{part}.weight"], w[p + f"attention.self.{part}.bias"] = wt, bs
        w[p + "attention.output.dense.weight"], w[p + "attention.output.dense.bias"] = linear(H, H)
        g, b = norm()
        g[outliers] *= 2.5
        w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"] = g, b
        w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"] = linear(F, H, gain=1.4)
        w[p + "output.dense.weight"], w[p + "output.dense.bias"] = linear(H, F)
        g, b = norm()
        g[outliers] *= 2.5
        w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"] = g, b
    w["pooler.dense.weight"], w["pooler.dense.bias"] = linear(H, H)

    os.makedirs(out_dir, exist_ok=True)
    cfg = {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_size": H,
        "num_attention_heads": s["heads"], "num_hidden_layers": s["layers"], "intermediate_size": F,
        "hidden_act": "gelu", "layer_norm_eps": 1e-12, "max_position_embeddings": P, "vocab_size": V,
        "type_vocab_size": 2, "pad_token_id": 0, "position_embedding_type": "absolute", "torch_dtype": "float32",
    }
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "vocab.txt"), "w") as f:
        f.write("\n".join(make_vocab(V)) + "\n")
    # Calibration: 4 full-ish sequences of 64 tokens (small, so int8 conversion stays quick).
    calib = rng.integers(104, V, size=(4, 64), dtype=np.int64)
    calib[:, 0], calib[:, -1] = 101, 102
    np.save(os.path.join(out_dir, "calib_ids.npy"), calib)
    write_safetensors(os.path.join(out_dir, "model.safetensors"), w)


def padded_set(rng, vocab, lengths, seq, types=True):
    """ids/mask/types [B, seq]: row b holds lengths[b] real tokens ([CLS] .. [SEP]), zeros after;
    odd rows with >= 4 tokens get a second segment."""
    cls, sep, first = (101, 102, 104) if vocab > 103 else (2, 3, 5)
    B = len(lengths)
    ids = np.zeros((B, seq), np.int64)
    mask = np.zeros((B, seq), np.int64)
    tt = np.zeros((B, seq), np.int64)
    for b, n in enumerate(lengths):
        ids[b, :n] = rng.integers(first, vocab, size=n)
        ids[b, 0] = cls
        if n > 1:
            ids[b, n - 1] = sep
        mask[b, :n] = 1
        if types and b % 2 == 1 and n >= 4:
            tt[b, n // 2:n] = 1
    return ids, mask, tt


def make_inputs(model_dir, name, out_dir):
    """Writes SET.input_ids.npy [+ SET.attention_mask.npy, SET.token_type_ids.npy] per input set
    and prints one line per set: SET<TAB>has_mask<TAB>has_types<TAB>kind (kind: small|big)."""
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    V, P = cfg["vocab_size"], cfg["max_position_embeddings"]
    pad = cfg.get("pad_token_id", 0)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    os.makedirs(out_dir, exist_ok=True)
    sets = []

    def save(set_name, ids, mask=None, tt=None, kind="small"):
        np.save(os.path.join(out_dir, f"{set_name}.input_ids.npy"), ids)
        if mask is not None:
            np.save(os.path.join(out_dir, f"{set_name}.attention_mask.npy"), mask)
        if tt is not None:
            np.save(os.path.join(out_dir, f"{set_name}.token_type_ids.npy"), tt)
        sets.append((set_name, mask is not None, tt is not None, kind))

    big = V > 10000
    if os.path.exists(os.path.join(model_dir, "input_ids.npy")):
        # The fixture's own padded batch (rows of different lengths, second segments).
        save("fixture", *(np.load(os.path.join(model_dir, f + ".npy"))
                          for f in ("input_ids", "attention_mask", "token_type_ids")))
    if os.path.exists(os.path.join(model_dir, "acc_input_ids.npy")):
        # The larger accuracy batch: many rows, S = max positions.
        save("acc", *(np.load(os.path.join(model_dir, "acc_" + f + ".npy"))
                      for f in ("input_ids", "attention_mask", "token_type_ids")))
    if os.path.exists(os.path.join(model_dir, "test_ids.npy")):
        # The example model's test set: first 8 rows, padding masked where ids == pad.
        ids = np.load(os.path.join(model_dir, "test_ids.npy"))[:8]
        save("test8", ids, (ids != pad).astype(np.int64))
    if big:
        # Two rows of 19 (not a multiple of 4 or 16) and 7 tokens, second segment on row 1.
        save("pad19", *padded_set(rng, V, [19, 7], 19), kind="big")
        # One longer unpadded row, past 128 (tiles, attention key blocks with a remainder).
        save("long131", *padded_set(rng, V, [131], 131, types=False)[:1], kind="big")
    else:
        # A padded batch of 3 whose length is not a multiple of 4 or 16 (13, or less for small P).
        S = min(13, P)
        save("odd", *padded_set(rng, V, [S, max(1, S // 3), S - 2], S))
        # One unpadded row given as ids only (no mask, no token types: the defaults).
        save("plain", padded_set(rng, V, [min(7, P)], min(7, P), types=False)[0])
    for s in sets:
        print("\t".join([s[0], str(int(s[1])), str(int(s[2])), s[3]]))


TIMESTAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def normalize_model(path):
    """encore-convert stores the conversion time (Metadata.created_utc, "%Y-%m-%dT%H:%M:%SZ") in
    the model; it is the only field that differs between two conversions. Overwrites it with a
    same-length constant (no offsets move; the runtime does not checksum files)."""
    with open(path, "r+b") as f, mmap.mmap(f.fileno(), 0) as data:
        hits = [m.start() for m in TIMESTAMP.finditer(data)]
        if len(hits) != 1:
            sys.exit(f"normalize-model: {path}: expected one created_utc timestamp, found {len(hits)}")
        data[hits[0]:hits[0] + 20] = b"0000-00-00T00:00:00Z"


def npy_diff(a_path, b_path):
    try:
        a, b = np.load(a_path), np.load(b_path)
    except Exception as e:  # not a readable .npy
        return f"unreadable ({e})"
    if a.shape != b.shape or a.dtype != b.dtype:
        return f"shape/dtype {a.shape} {a.dtype} vs {b.shape} {b.dtype}"
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    n = int(np.count_nonzero(a.view(np.uint8) != b.view(np.uint8)))
    return f"max abs diff {np.nanmax(d) if d.size else 0:.3g}, {int(np.count_nonzero(d))} of {a.size} values differ ({n} bytes)"


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "make-model" and len(sys.argv) == 4:
        make_model(sys.argv[2], sys.argv[3])
    elif cmd == "inputs" and len(sys.argv) == 5:
        make_inputs(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "normalize-model" and len(sys.argv) == 3:
        normalize_model(sys.argv[2])
    elif cmd == "npy-diff" and len(sys.argv) == 4:
        print(npy_diff(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
