#!/usr/bin/python3
"""Tiny ModernBERT checkpoints in Hugging Face's format, with PyTorch goldens.

The forward pass below is written here from the semantics of Hugging Face's
models/modernbert/modeling_modernbert.py and configuration_modernbert.py (the eager attention
path, padding masked), in float64 except where Hugging Face itself computes in float32 (the
rotary cos / sin). Never from encore's C++. What it follows, point by point:

  embeddings   norm(tok_embeddings[ids]) (LayerNorm, bias only with norm_bias); no positions
  layer l      attn_norm: Identity in layer 0, LayerNorm otherwise
               x = x + Wo(attention(Wqkv(attn_norm(x))))
               x = x + mlp.Wo(act(input) * gate), [input | gate] = mlp.Wi(mlp_norm(x)).chunk(2)
  attention    qkv viewed [B, S, 3, heads, head_dim]; rotary on q and k with rotate_half
               (the halves [x1 | x2] -> [-x2 | x1], cos / sin repeated over both halves),
               inv_freq = 1 / theta ** (arange(0, d, 2) / d), positions arange(S), cos / sin
               computed in float32; scores * head_dim ** -0.5 plus the additive padding mask
               (finfo.min); local layers also mask |i - j| > local_attention // 2
  layer kinds  layer l is global when l % global_attn_every_n_layers == 0, with
               global_rope_theta; local layers use local_rope_theta
  final_norm   LayerNorm on the last layer's output
  heads        ModernBertPredictionHead: norm(act(dense(x))) (dense bias = classifier_bias,
               act = classifier_activation); MaskedLM: decoder(head(x)), decoder weight tied to
               tok_embeddings, bias with decoder_bias; SequenceClassification: head on x[:, 0]
               (cls) or the masked mean (mean), then classifier (always with bias);
               TokenClassification: classifier(head(x)) per token

  /usr/bin/python3 tools/reference/modernbert.py            # write the fixtures -> tests/fixtures
  /usr/bin/python3 tools/reference/modernbert.py --check    # regenerate in memory, compare
  /usr/bin/python3 tools/reference/modernbert.py --shape modernbert-base --out DIR   # benchmark size
"""
import argparse
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import families  # noqa: E402
import make_fixtures as mf  # noqa: E402

# Special ids of the tiny vocabularies (ModernBERT's own are 50281 [CLS], 50282 [SEP], 50283 [PAD]).
CLS, SEP, PAD = 1, 2, 3
# Calibration rows per fixture: the int8 ranges come from them and the quality gate holds every
# 4th out, so a fixture needs enough of them for its held-out check to speak for the test inputs.
CALIB_ROWS = 64

# hidden / heads / layers / ffn (intermediate_size; Wi is twice as wide) / vocab; window: the
# local_attention total window; every: global_attn_every_n_layers. Layers 0 and 3 of 5 are
# global, 1, 2, 4 local. long: a second input set whose sequences are several windows long,
# one of them padded. Biases: the defaults (none) except where named.
FIXTURE_SPECS = {
    "modernbert_base": dict(arch="ModernBertModel", hidden=32, heads=2, layers=5, ffn=48, vocab=200, window=16,
                            every=3, max_pos=512, batch=3, seq=24, long=(2, 160), seed=211),
    "modernbert_bias_mlm": dict(arch="ModernBertForMaskedLM", hidden=32, heads=2, layers=4, ffn=40, vocab=160,
                                window=8, every=2, max_pos=256, batch=3, seq=20, long=None, norm_bias=True,
                                attention_bias=True, mlp_bias=True, classifier_bias=True, seed=212),
    "modernbert_cls": dict(arch="ModernBertForSequenceClassification", hidden=32, heads=2, layers=4, ffn=48,
                           vocab=160, window=8, every=3, max_pos=256, batch=4, seq=24, long=None, labels=3,
                           pooling="cls", seed=213),
    "modernbert_mean": dict(arch="ModernBertForSequenceClassification", hidden=32, heads=2, layers=4, ffn=48,
                            vocab=160, window=8, every=3, max_pos=256, batch=4, seq=24, long=None, labels=2,
                            pooling="mean", seed=214),
    "modernbert_token": dict(arch="ModernBertForTokenClassification", hidden=32, heads=2, layers=4, ffn=48,
                             vocab=160, window=8, every=3, max_pos=256, batch=3, seq=24, long=None, labels=5,
                             seed=215),
}
# ModernBERT-base's config.json sizes, for tools/bench/compare.sh (random weights).
BIG_SHAPES = {
    "modernbert-base": dict(arch="ModernBertModel", hidden=768, heads=12, layers=22, ffn=1152, vocab=50368,
                            window=128, every=3, max_pos=8192),
}


def is_global(spec, layer):
    return layer % spec["every"] == 0


# ---------------------------------------------------------------------------- weights
def make_weights(spec, gen):
    """The encoder's tensors (ModernBertModel names, no prefix) with make_fixtures' recipe:
    O(1) embeddings, fan-in scaled linears (Q and K a little hotter so attention is peaked),
    norm gains near 1 with two outlier channels."""
    H, F, V = spec["hidden"], spec["ffn"], spec["vocab"]
    norm_bias = spec.get("norm_bias", False)
    w = {}
    outliers = torch.randperm(H, generator=gen)[:2]

    def norm(name, outlier=True):
        g, b = mf.norm_init(gen, H)
        if outlier:
            g[outliers] *= 2.0
        w[name + ".weight"] = g
        if norm_bias:
            w[name + ".bias"] = b

    def linear(name, out_f, in_f, gain, bias):
        wt, bs = mf.linear_init(gen, out_f, in_f, gain=gain)
        w[name + ".weight"] = wt
        if bias:
            w[name + ".bias"] = bs

    w["embeddings.tok_embeddings.weight"] = mf.randn(gen, V, H, std=0.6)
    norm("embeddings.norm", outlier=False)
    ab, mb = spec.get("attention_bias", False), spec.get("mlp_bias", False)
    for i in range(spec["layers"]):
        p = f"layers.{i}."
        if i > 0:
            norm(p + "attn_norm")
        linear(p + "attn.Wqkv", 3 * H, H, 1.0, ab)
        w[p + "attn.Wqkv.weight"][:2 * H] *= 1.3  # q and k rows
        linear(p + "attn.Wo", H, H, 0.7, ab)
        norm(p + "mlp_norm")
        linear(p + "mlp.Wi", 2 * F, H, 1.3, mb)
        linear(p + "mlp.Wo", H, F, 0.7, mb)
    norm("final_norm")
    return w


def make_head(spec, gen):
    """The task head's tensors (checkpoint names, outside the model. prefix)."""
    H, V = spec["hidden"], spec["vocab"]
    arch = spec["arch"]
    h = {}
    if arch == "ModernBertModel":
        return h
    cb = spec.get("classifier_bias", False)
    wt, bs = mf.linear_init(gen, H, H, gain=1.0)
    h["head.dense.weight"] = wt
    if cb:
        h["head.dense.bias"] = bs
    g, b = mf.norm_init(gen, H)
    h["head.norm.weight"] = g
    if spec.get("norm_bias", False):
        h["head.norm.bias"] = b
    if arch == "ModernBertForMaskedLM":
        h["decoder.bias"] = mf.randn(gen, V, std=0.1)
    else:
        L = spec["labels"]
        h["classifier.weight"] = mf.randn(gen, L, H, std=0.3)
        h["classifier.bias"] = mf.randn(gen, L, std=0.1)
    return h


# ---------------------------------------------------------------------------- model
def rotary_cos_sin(S, head_dim, theta):
    """cos, sin [S, head_dim] as ModernBertRotaryEmbedding computes them: inv_freq and the
    position products in float32, emb = cat(freqs, freqs), cos / sin in float32."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).to(torch.float32) / head_dim))
    freqs = torch.arange(S, dtype=torch.float32)[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def forward(spec, w, ids, mask, dtype=torch.float64, linear=None):
    """(last_hidden_state, logits or None). w: checkpoint names -> tensors (a task model's
    encoder under "model."). linear(name, x), if given, replaces every encoder linear layer."""
    arch = spec["arch"]
    pre = "" if arch == "ModernBertModel" else "model."
    d = {k: v.to(dtype) for k, v in w.items() if v.is_floating_point()}
    H, heads = spec["hidden"], spec["heads"]
    hd = H // heads
    eps = spec.get("eps", 1e-5)
    B, S = ids.shape

    def lin(x, name, base=True):
        name = (pre if base else "") + name
        if linear is not None and base:
            return linear(name, x)
        y = x @ d[name + ".weight"].T
        return y + d[name + ".bias"] if name + ".bias" in d else y

    def ln(x, name):
        g = d[name + ".weight"]
        b = d.get(name + ".bias", torch.zeros_like(g))
        return mf.layer_norm(x, g, b, eps)

    x = ln(d[pre + "embeddings.tok_embeddings.weight"][ids], pre + "embeddings.norm")
    # _update_attention_mask: the padding mask as finfo.min where masked; the sliding-window
    # mask additionally sets finfo.min (masked_fill) where |i - j| > local_attention // 2.
    lowest = torch.finfo(dtype).min
    pad = (1.0 - mask.to(dtype))[:, None, None, :] * lowest
    pos = torch.arange(S)
    far = (pos[None, :] - pos[:, None]).abs() > spec["window"] // 2
    local_mask = pad.masked_fill(far[None, None], lowest)
    rope = {}
    for kind, theta in (("global", spec.get("global_theta", 160000.0)), ("local", spec.get("local_theta", 10000.0))):
        c, s = rotary_cos_sin(S, hd, theta)
        rope[kind] = (c.to(dtype), s.to(dtype))
    for i in range(spec["layers"]):
        p = f"layers.{i}."
        g = is_global(spec, i)
        h = x if i == 0 else ln(x, pre + p + "attn_norm")
        qkv = lin(h, p + "attn.Wqkv").view(B, S, 3, heads, hd)
        q, k, v = qkv.transpose(3, 1).unbind(dim=2)  # [B, heads, S, hd]
        cos, sin = rope["global" if g else "local"]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        scores = (q @ k.transpose(2, 3)) * hd ** -0.5 + (pad if g else local_mask)
        ctx = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, S, H)
        x = x + lin(ctx, p + "attn.Wo")
        up = lin(ln(x, pre + p + "mlp_norm"), p + "mlp.Wi")
        inp, gate = up.chunk(2, dim=-1)
        x = x + lin(mf.activation(spec.get("act", "gelu"), inp) * gate, p + "mlp.Wo")
    x = ln(x, pre + "final_norm")

    def head(t):
        return ln(mf.activation(spec.get("head_act", "gelu"), lin(t, "head.dense", False)), "head.norm")

    logits = None
    if arch == "ModernBertForMaskedLM":
        y = head(x) @ d[pre + "embeddings.tok_embeddings.weight"].T
        logits = y + d["decoder.bias"] if "decoder.bias" in d else y
    elif arch == "ModernBertForSequenceClassification":
        if spec["pooling"] == "cls":
            pooled = x[:, 0]
        else:
            m = mask.to(dtype)
            pooled = (x * m[..., None]).sum(dim=1) / m.sum(dim=1, keepdim=True)
        logits = lin(head(pooled), "classifier", False)
    elif arch == "ModernBertForTokenClassification":
        logits = lin(head(x), "classifier", False)
    return x, logits


def torch_dynamic_int8_forward(spec, w, ids, mask):
    """last_hidden_state with PyTorch's quantize_dynamic on every encoder linear layer."""
    pre = "" if spec["arch"] == "ModernBertModel" else "model."
    mods = {}
    for k, v in w.items():
        if not k.endswith(".weight") or v.dim() != 2 or not k.startswith(pre + "layers."):
            continue
        name = k[:-len(".weight")]
        m = torch.nn.Linear(v.shape[1], v.shape[0], bias=name + ".bias" in w)
        with torch.no_grad():
            m.weight.copy_(v.float())
            if m.bias is not None:
                m.bias.copy_(w[name + ".bias"].float())
        mods[name] = torch.quantization.quantize_dynamic(torch.nn.Sequential(m), {torch.nn.Linear},
                                                         dtype=torch.qint8)
    with torch.no_grad():
        hidden, _ = forward(spec, w, ids, mask, dtype=torch.float32, linear=lambda n, x: mods[n](x))
    return hidden.double()


# ---------------------------------------------------------------------------- config
def config_json(spec, torch_dtype="float32"):
    """config.json as ModernBertConfig.save_pretrained writes it (the Hub's ModernBERT-base keys)."""
    cfg = {
        "architectures": [spec["arch"]],
        "attention_bias": spec.get("attention_bias", False),
        "attention_dropout": 0.0,
        "bos_token_id": CLS,
        "classifier_activation": spec.get("head_act", "gelu"),
        "classifier_bias": spec.get("classifier_bias", False),
        "classifier_dropout": 0.0,
        "classifier_pooling": spec.get("pooling", "cls"),
        "cls_token_id": CLS,
        "decoder_bias": True,
        "deterministic_flash_attn": False,
        "embedding_dropout": 0.0,
        "eos_token_id": SEP,
        "global_attn_every_n_layers": spec["every"],
        "global_rope_theta": spec.get("global_theta", 160000.0),
        "gradient_checkpointing": False,
        "hidden_activation": spec.get("act", "gelu"),
        "hidden_size": spec["hidden"],
        "initializer_cutoff_factor": 2.0,
        "initializer_range": 0.02,
        "intermediate_size": spec["ffn"],
        "layer_norm_eps": 1e-05,
        "local_attention": spec["window"],
        "local_rope_theta": spec.get("local_theta", 10000.0),
        "max_position_embeddings": spec["max_pos"],
        "mlp_bias": spec.get("mlp_bias", False),
        "mlp_dropout": 0.0,
        "model_type": "modernbert",
        "norm_bias": spec.get("norm_bias", False),
        "norm_eps": spec.get("eps", 1e-05),
        "num_attention_heads": spec["heads"],
        "num_hidden_layers": spec["layers"],
        "pad_token_id": PAD,
        "position_embedding_type": "absolute",
        "sep_token_id": SEP,
        "tie_word_embeddings": True,
        "torch_dtype": torch_dtype,
        "vocab_size": spec["vocab"],
    }
    if "labels" in spec:
        labels = [f"L{i}" for i in range(spec["labels"])]
        cfg["id2label"] = {str(i): l for i, l in enumerate(labels)}
        cfg["label2id"] = {l: i for i, l in enumerate(labels)}
    return cfg


# ---------------------------------------------------------------------------- fixtures
def make_inputs(spec, gen, batch, seq, lengths):
    """[CLS] words [SEP] then [PAD] with mask 0; one hole (mask 0 inside) in the last row of a
    batch of three or more, as a caller's mask may have."""
    V = spec["vocab"]
    ids = torch.full((batch, seq), PAD, dtype=torch.int32)
    mask = torch.zeros(batch, seq, dtype=torch.int32)
    for b, n in enumerate(lengths):
        ids[b, :n] = torch.randint(4, V, (n,), generator=gen, dtype=torch.int32)
        ids[b, 0], ids[b, n - 1] = CLS, SEP
        mask[b, :n] = 1
    if batch >= 3 and lengths[-1] > 6:
        mask[batch - 1, 3] = 0
    return ids, mask


def build(name):
    spec = FIXTURE_SPECS[name]
    gen = torch.Generator().manual_seed(spec["seed"])
    pre = "" if spec["arch"] == "ModernBertModel" else "model."
    w = {pre + k: v for k, v in make_weights(spec, gen).items()}
    w.update(make_head(spec, gen))
    w = {k: mf.round_to_storage(v, "F16") for k, v in w.items()}
    out = {"config.json": config_json(spec, "float16"), "model.safetensors": w}

    def run(prefix, ids, mask):
        with torch.no_grad():
            hidden, logits = forward(spec, w, ids.long(), mask)
        out[prefix + "input_ids.npy"] = ids.numpy()
        out[prefix + "attention_mask.npy"] = mask.numpy()
        out[prefix + "last_hidden_state.npy"] = hidden.to(torch.float32).numpy()
        if logits is not None:
            out[prefix + "logits.npy"] = logits.to(torch.float32).numpy()
        return hidden

    B, S = spec["batch"], spec["seq"]
    lengths = [S] + [int(x) for x in torch.randint(S // 2, S, (B - 1,), generator=gen)]
    ids, mask = make_inputs(spec, gen, B, S, lengths)
    hidden = run("", ids, mask)
    info = {}
    if spec["long"]:
        LB, LS = spec["long"]
        l_ids, l_mask = make_inputs(spec, gen, LB, LS, [LS] + [LS - 30] * (LB - 1))
        run("long_", l_ids, l_mask)
        # The window matters: the same inputs with global attention everywhere differ.
        with torch.no_grad():
            g_hidden, _ = forward(dict(spec, every=1), w, l_ids.long(), l_mask)
            l_hidden = torch.from_numpy(out["long_last_hidden_state.npy"]).double()
        info["window_effect"] = float((g_hidden - l_hidden)[l_mask.bool()].abs().max())
    cos = mf.token_cosines(torch_dynamic_int8_forward(spec, w, ids.long(), mask), hidden, mask)
    out["torch_int8_cosine.npy"] = cos.to(torch.float32).numpy()
    # Calibration rows like the inputs: lengths from half the sequence to all of it, padded, with
    # their mask (encore-convert --calib-mask), so that the int8 ranges and the quality gate's
    # held-out check see padding and short rows as the tests do.
    c_lengths = [int(x) for x in torch.randint(S // 2, S + 1, (CALIB_ROWS,), generator=gen)]
    c_ids, c_mask = make_inputs(spec, gen, CALIB_ROWS, S, c_lengths)
    out["calib_ids.npy"] = c_ids.numpy()
    out["calib_mask.npy"] = c_mask.numpy()
    real = hidden[mask.bool()]
    unit = real / real.norm(dim=-1, keepdim=True)
    off = (unit @ unit.T)[~torch.eye(len(real), dtype=torch.bool)]
    info.update(std=float(real.std()), mean_token_cos=float(off.mean()), int8_cos=float(cos.mean()))
    return out, info


def write_big(name, out_dir, seed=7):
    spec = BIG_SHAPES[name]
    gen = torch.Generator().manual_seed(seed)
    w = {k: mf.round_to_storage(v, "F32") for k, v in make_weights(spec, gen).items()}
    S = 512
    c_ids, _ = make_inputs(spec, gen, 16, S, [S] * 16)
    families.write({"config.json": config_json(spec), "model.safetensors": w, "calib_ids.npy": c_ids.numpy()},
                   out_dir, "F32")
    size = os.path.getsize(os.path.join(out_dir, "model.safetensors"))
    print(f"  model.safetensors {size / 1e6:.1f} MB")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="output directory (default: tests/fixtures, one folder per fixture)")
    ap.add_argument("--only", help="comma-separated fixture names")
    ap.add_argument("--check", action="store_true", help="regenerate in memory and compare with the stored files")
    ap.add_argument("--shape", choices=sorted(BIG_SHAPES), help="write one large model (needs --out) instead")
    args = ap.parse_args()
    if args.shape:
        if not args.out:
            ap.error("--shape needs --out DIR")
        print(f"writing {args.shape} to {args.out} ...", flush=True)
        write_big(args.shape, args.out)
        return 0
    torch.set_num_threads(1)
    root = args.out or mf.FIXTURES
    ok = True
    for name in (args.only.split(",") if args.only else FIXTURE_SPECS):
        out, info = build(name)
        out_dir = os.path.join(root, name)
        print(f"{name}: " + ", ".join(f"{k} {v:.4f}" for k, v in info.items()), flush=True)
        if args.check:
            bad, worst = families.compare(name, out, out_dir)
            print(f"  regenerated vs stored: max abs diff {worst:.1e}" + (f"; PROBLEMS: {bad}" if bad else ""))
            ok &= not bad
            continue
        families.write(out, out_dir, "F16")
        size = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
        print(f"  wrote {out_dir}: {size / 1e3:.0f} kB")
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
