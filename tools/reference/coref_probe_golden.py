#!/usr/bin/python3
"""Golden for encore-analyze --attention-probe: the coreference example model's attention, in
PyTorch float64, from "it" to its referent and to the other noun, per head, averaged over the
first N lines of tools/train/coref/test_attention.tsv.

  /usr/bin/python3 tools/reference/coref_probe_golden.py [--count 64] [-o tests/fixtures/coref_probe.json]

Independent of encore: the model is read from model.safetensors, the text tokenized by the
training script's own BERT tokenizer (tools/train/train_coref.py), the encoder is Hugging Face
BERT's forward (modeling_bert.py: BertSelfAttention's softmax(QK^T / sqrt(d)) per head, no mask:
each sentence runs alone), and a word's tokens are the WordPiece pieces of that basic token.
Output: {"count", "heads": [{"layer", "head", "to_target", "to_contrast", "target_share"}]}.
"""
import argparse
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "train"))
import make_fixtures as mf  # noqa: E402
import train_coref as tc  # noqa: E402


def attention_probs(spec, w, ids):
    """Hugging Face BERT's attention probabilities for one unpadded sequence: [layers][heads, S, S]."""
    d = {k: v.to(torch.float64) for k, v in w.items()}
    H, heads, eps = spec["hidden"], spec["heads"], spec["eps"]
    S, hd = len(ids), spec["hidden"] // spec["heads"]
    ids = torch.tensor(ids)
    x = d["embeddings.word_embeddings.weight"][ids] + d["embeddings.position_embeddings.weight"][:S] + \
        d["embeddings.token_type_embeddings.weight"][0]
    x = mf.layer_norm(x, d["embeddings.LayerNorm.weight"], d["embeddings.LayerNorm.bias"], eps)

    def lin(t, name):
        return t @ d[name + ".weight"].T + d[name + ".bias"]

    out = []
    for i in range(spec["layers"]):
        p = f"encoder.layer.{i}."
        q, k, v = (lin(x, p + f"attention.self.{n}").view(S, heads, hd).transpose(0, 1) for n in ("query", "key", "value"))
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1)
        out.append(probs)
        ctx = (probs @ v).transpose(0, 1).reshape(S, H)
        x = mf.layer_norm(lin(ctx, p + "attention.output.dense") + x, d[p + "attention.output.LayerNorm.weight"],
                          d[p + "attention.output.LayerNorm.bias"], eps)
        h = mf.activation(spec["act"], lin(x, p + "intermediate.dense"))
        x = mf.layer_norm(lin(h, p + "output.dense") + x, d[p + "output.LayerNorm.weight"],
                          d[p + "output.LayerNorm.bias"], eps)
    return out


def word_positions(text, word, ids_of):
    """Token positions (after [CLS]) of the one basic token equal to `word`."""
    pos, found = 1, []
    for t in tc.basic_tokens(text):
        pieces = tc.wordpiece(t, ids_of)
        if t == word.lower():
            found.append(list(range(pos, pos + len(pieces))))
        pos += len(pieces)
    if len(found) != 1:
        sys.exit(f"coref_probe_golden: '{word}' occurs {len(found)} times in: {text}")
    return found[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(HERE, "..", "train", "coref"))
    ap.add_argument("--count", type=int, default=64)
    ap.add_argument("-o", "--out", default=os.path.join(HERE, "..", "..", "tests", "fixtures", "coref_probe.json"))
    args = ap.parse_args()
    cfg = json.load(open(os.path.join(args.model, "config.json")))
    spec = dict(hidden=cfg["hidden_size"], heads=cfg["num_attention_heads"], layers=cfg["num_hidden_layers"],
                act=cfg["hidden_act"], eps=cfg["layer_norm_eps"])
    w = {k[len("bert."):]: v for k, v in mf.read_safetensors(os.path.join(args.model, "model.safetensors")).items()
         if k.startswith("bert.")}
    vocab = open(os.path.join(args.model, "vocab.txt"), encoding="utf-8").read().split("\n")[:-1]
    ids_of = {t: i for i, t in enumerate(vocab)}
    lines = [l.rstrip("\n").split("\t") for l in open(os.path.join(args.model, "test_attention.tsv"), encoding="utf-8")]
    lines = lines[:args.count]
    L, Hn = spec["layers"], spec["heads"]
    sums = [[[0.0, 0.0, 0.0] for _ in range(Hn)] for _ in range(L)]
    for text, query, target, contrast in lines:
        ids = tc.encode_one(text, ids_of)
        q, t, c = (word_positions(text, x, ids_of) for x in (query, target, contrast))
        for l, probs in enumerate(attention_probs(spec, w, ids)):
            for h in range(Hn):
                row = probs[h][q].mean(0)
                to_t, to_c = float(row[t].sum()), float(row[c].sum())
                s = sums[l][h]
                s[0] += to_t
                s[1] += to_c
                s[2] += 1.0 if to_t > to_c else (0.5 if to_t == to_c else 0.0)
    n = len(lines)
    heads = [{"layer": l, "head": h, "to_target": sums[l][h][0] / n, "to_contrast": sums[l][h][1] / n,
              "target_share": sums[l][h][2] / n} for l in range(L) for h in range(Hn)]
    with open(args.out, "w") as f:
        json.dump({"count": n, "heads": heads}, f, indent=1)
        f.write("\n")
    print(f"coref_probe_golden: {n} sentences, {len(heads)} heads -> {args.out}")


if __name__ == "__main__":
    main()
