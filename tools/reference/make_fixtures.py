#!/usr/bin/python3
"""Writes small Hugging Face-format BERT checkpoints and PyTorch golden outputs.

An independent reference for encore's end-to-end tests: BERT's forward pass written out in
plain PyTorch (float64), following Hugging Face's BertModel / BertForSequenceClassification,
and a safetensors writer. Needs Debian's python3-torch and python3-numpy (run it with
/usr/bin/python3); the build and the tests never need it, the fixtures are committed.

  /usr/bin/python3 tools/reference/make_fixtures.py                  # all fixtures -> tests/fixtures
  /usr/bin/python3 tools/reference/make_fixtures.py --check          # re-run and compare with the stored goldens
  /usr/bin/python3 tools/reference/make_fixtures.py --shape bert-base --out /tmp/bert-base
  (--shape minilm | bert-base | distilbert-base | roberta-base; the last two are written by families.py)
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "fixtures"))

# name -> how the fixture is built. hidden/heads/layers/ffn/vocab/max_pos, activation,
# storage dtype, architecture, inputs [B, S].
FIXTURE_SPECS = {
    "tiny_cls": dict(hidden=64, heads=4, layers=2, ffn=256, vocab=1000, max_pos=64, act="gelu", eps=1e-12,
                     dtype="F32", arch="BertForSequenceClassification", pooler=True, labels=3, batch=4, seq=24,
                     extras=True, eval_set=(256, 16), accuracy_set=24),
    "tiny_base": dict(hidden=48, heads=3, layers=3, ffn=96, vocab=300, max_pos=32, act="gelu_new", eps=1e-5,
                      dtype="F16", arch="BertModel", pooler=True, labels=0, batch=3, seq=32, accuracy_set=64),
    "tiny_relu": dict(hidden=32, heads=2, layers=1, ffn=64, vocab=200, max_pos=16, act="relu", eps=1e-12,
                      dtype="BF16", arch="BertModel", pooler=False, labels=0, batch=2, seq=16, accuracy_set=128),
    "tiny_tanh": dict(hidden=40, heads=5, layers=2, ffn=80, vocab=150, max_pos=20, act="gelu_pytorch_tanh",
                      eps=1e-12, dtype="F32", arch="BertModel", pooler=True, labels=0, batch=2, seq=20, accuracy_set=96),
}
BIG_SHAPES = {
    "minilm": dict(hidden=384, heads=12, layers=6, ffn=1536, vocab=30522, max_pos=512, act="gelu", eps=1e-12,
                   dtype="F32", arch="BertModel", pooler=True, labels=0),
    "bert-base": dict(hidden=768, heads=12, layers=12, ffn=3072, vocab=30522, max_pos=512, act="gelu", eps=1e-12,
                      dtype="F32", arch="BertModel", pooler=True, labels=0),
}
LABELS = ["negative", "neutral", "positive"]


# ---------------------------------------------------------------------------- weights
def round_to_storage(t, dtype):
    """The values a checkpoint of `dtype` really holds, as float32."""
    if dtype == "F16":
        return t.to(torch.float16).to(torch.float32)
    if dtype == "BF16":
        return t.to(torch.bfloat16).to(torch.float32)
    return t.to(torch.float32)


def randn(gen, *shape, std=1.0):
    return torch.randn(*shape, generator=gen, dtype=torch.float64) * std


def linear_init(gen, out_f, in_f, gain=1.0):
    """(weight, bias) of a trained-looking linear layer: fan-in scaled weight, small bias."""
    return randn(gen, out_f, in_f, std=gain / math.sqrt(in_f)), randn(gen, out_f, std=0.05)


def norm_init(gen, n):
    """(gain, bias) of a trained-looking LayerNorm: gains near 1, small biases."""
    return 1.0 + randn(gen, n, std=0.1), randn(gen, n, std=0.05)


def make_weights(spec, gen):
    """Weights shaped like a trained BERT's: O(1) embeddings, fan-in scaled linears,
    LayerNorm gains near 1, and a few larger outlier channels in the residual stream.
    (randn / linear_init / norm_init are module-level so tools/reference/families.py
    draws other families' weights with the same recipe.)"""
    H, F, V, P = spec["hidden"], spec["ffn"], spec["vocab"], spec["max_pos"]

    def linear(out_f, in_f, gain=1.0):
        return linear_init(gen, out_f, in_f, gain)

    def norm():
        return norm_init(gen, H)

    w = {}
    # Outlier channels: a couple of hidden dimensions with larger LayerNorm gains, as seen
    # in trained BERTs (moderate here, so int8 per-tensor activations remain usable).
    outliers = torch.randperm(H, generator=gen)[:2]
    w["embeddings.word_embeddings.weight"] = randn(gen, V, H, std=0.6)
    w["embeddings.position_embeddings.weight"] = randn(gen, P, H, std=0.3)
    w["embeddings.token_type_embeddings.weight"] = randn(gen, 2, H, std=0.3)
    g, b = norm()
    w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"] = g, b
    for i in range(spec["layers"]):
        p = f"encoder.layer.{i}."
        for part in ("query", "key", "value"):
            # Q and K with gain > 1 so attention is peaked, not uniform.
            wt, bs = linear(H, H, gain=spec.get("qk_gain", 1.2) if part != "value" else 1.0)
            w[p + f"attention.self.{part}.weight"], w[p + f"attention.self.{part}.bias"] = wt, bs
        wt, bs = linear(H, H)
        w[p + "attention.output.dense.weight"], w[p + "attention.output.dense.bias"] = wt, bs
        g, b = norm()
        g[outliers] *= 2.5
        w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"] = g, b
        wt, bs = linear(F, H, gain=1.4)
        w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"] = wt, bs
        wt, bs = linear(H, F)
        w[p + "output.dense.weight"], w[p + "output.dense.bias"] = wt, bs
        g, b = norm()
        g[outliers] *= 2.5
        w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"] = g, b
    if spec["pooler"]:
        wt, bs = linear(H, H)
        w["pooler.dense.weight"], w["pooler.dense.bias"] = wt, bs
    return {k: round_to_storage(v, spec["dtype"]) for k, v in w.items()}


def task_inputs(spec, gen, n, seq):
    """Sequences for the classifier fixture's synthetic task, with their labels: a sequence
    of class c draws most of its words from the c-th third of the vocabulary, so classes
    differ in content, as the texts of a real classification task do."""
    lengths = [int(x) for x in torch.randint(3, seq + 1, (n,), generator=gen)]
    ids, mask, types = make_inputs(spec, gen, n, seq, lengths)
    labels = torch.randint(0, spec["labels"], (n,), generator=gen)
    V, first = spec["vocab"], 104
    band = (V - first) // spec["labels"]
    for i, n_tok in enumerate(lengths):
        lo = first + int(labels[i]) * band
        on_topic = torch.rand(n_tok, generator=gen) < 0.7
        topical = torch.randint(lo, lo + band, (n_tok,), generator=gen)
        ids[i, 1:n_tok - 1] = torch.where(on_topic, topical, ids[i, :n_tok])[1:n_tok - 1]
    return ids, mask, types, labels


def make_classifier(spec, gen, w, steps=600):
    """Fine-tunes the whole model with its classification head on the synthetic task (Adam,
    cross-entropy), the way a user fine-tunes BERT before converting it. A random head on a
    random encoder would sit near a tie for most inputs, where any rounding flips the label;
    a fine-tuned one is confident on most inputs, as real classifiers are.
    Returns the fine-tuned encoder weights and the head."""
    L, H = spec["labels"], spec["hidden"]
    params = {k: v.to(torch.float64).requires_grad_(True) for k, v in w.items()}
    cw = (torch.randn(L, H, generator=gen, dtype=torch.float64) * 0.1).requires_grad_(True)
    cb = torch.zeros(L, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam(list(params.values()) + [cw, cb], lr=2e-3)
    for step in range(steps + 1):
        ids, mask, types, labels = task_inputs(spec, gen, 32, 16)
        _, pooled = bert_forward(spec, params, ids, mask, types)
        loss = torch.nn.functional.cross_entropy(pooled @ cw.T + cb, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            print(f"  fine-tuning step {step}/{steps}: loss {float(loss):.3f}", flush=True)
    w = {k: round_to_storage(v.detach(), spec["dtype"]) for k, v in params.items()}
    return w, (round_to_storage(cw.detach(), spec["dtype"]), round_to_storage(cb.detach(), spec["dtype"]))


# ---------------------------------------------------------------------------- model
def activation(name, x):
    if name == "gelu":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))
    if name == "relu":
        return torch.relu(x)
    raise ValueError(f"unknown activation {name}")


def layer_norm(x, g, b, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * g + b


def bert_forward(spec, w, ids, mask, types, dtype=torch.float64):
    """Hugging Face BERT in float64 (or `dtype`: training uses float32). ids/mask/types: int64
    [B, S]. Returns (last_hidden_state [B,S,H], pooler_output [B,H] or None)."""
    d = {k: v.to(dtype) for k, v in w.items()}
    H, heads, eps = spec["hidden"], spec["heads"], spec["eps"]
    B, S = ids.shape
    hd = H // heads
    x = d["embeddings.word_embeddings.weight"][ids]
    x = x + d["embeddings.position_embeddings.weight"][torch.arange(S)][None]
    x = x + d["embeddings.token_type_embeddings.weight"][types]
    x = layer_norm(x, d["embeddings.LayerNorm.weight"], d["embeddings.LayerNorm.bias"], eps)
    # Hugging Face's extended mask: 0 for real keys, the lowest float for padding. In float64
    # the float32 lowest value still dominates any score, as it does in float32.
    bias = (1.0 - mask.to(dtype))[:, None, None, :] * torch.finfo(torch.float32).min

    def lin(t, name):
        return t @ d[name + ".weight"].T + d[name + ".bias"]

    for i in range(spec["layers"]):
        p = f"encoder.layer.{i}."
        q = lin(x, p + "attention.self.query").view(B, S, heads, hd).transpose(1, 2)
        k = lin(x, p + "attention.self.key").view(B, S, heads, hd).transpose(1, 2)
        v = lin(x, p + "attention.self.value").view(B, S, heads, hd).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd) + bias
        probs = torch.softmax(scores, dim=-1)
        ctx = (probs @ v).transpose(1, 2).reshape(B, S, H)
        x = layer_norm(lin(ctx, p + "attention.output.dense") + x, d[p + "attention.output.LayerNorm.weight"],
                       d[p + "attention.output.LayerNorm.bias"], eps)
        h = activation(spec["act"], lin(x, p + "intermediate.dense"))
        x = layer_norm(lin(h, p + "output.dense") + x, d[p + "output.LayerNorm.weight"],
                       d[p + "output.LayerNorm.bias"], eps)
    pooled = torch.tanh(lin(x[:, 0], "pooler.dense")) if spec["pooler"] else None
    return x, pooled


def torch_encoder(spec, w):
    """The encoder as a float32 torch.nn.Module built from nn.Linear layers, so that
    torch.quantization.quantize_dynamic can replace them (the engine most users reach for).
    forward(ids, mask, types) returns last_hidden_state."""
    H, heads, eps = spec["hidden"], spec["heads"], spec["eps"]
    hd = H // heads
    f = {k: v.to(torch.float32) for k, v in w.items()}
    parts = ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
             "intermediate.dense", "output.dense"]

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linears = torch.nn.ModuleDict()
            for i in range(spec["layers"]):
                for part in parts:
                    name = f"encoder.layer.{i}.{part}"
                    lin = torch.nn.Linear(f[name + ".weight"].shape[1], f[name + ".weight"].shape[0])
                    lin.weight.data, lin.bias.data = f[name + ".weight"].clone(), f[name + ".bias"].clone()
                    self.linears[name.replace(".", "_")] = lin

        def forward(self, ids, mask, types):
            B, S = ids.shape

            def ln(x, p):
                return torch.nn.functional.layer_norm(x, (H,), f[p + ".weight"], f[p + ".bias"], eps)

            x = (f["embeddings.word_embeddings.weight"][ids] + f["embeddings.position_embeddings.weight"][:S][None]
                 + f["embeddings.token_type_embeddings.weight"][types])
            x = ln(x, "embeddings.LayerNorm")
            bias = (1.0 - mask.to(torch.float32))[:, None, None, :] * torch.finfo(torch.float32).min
            for i in range(spec["layers"]):
                p = f"encoder.layer.{i}."

                def lin(part, v):
                    return self.linears[(p + part).replace(".", "_")](v)

                q = lin("attention.self.query", x).view(B, S, heads, hd).transpose(1, 2)
                k = lin("attention.self.key", x).view(B, S, heads, hd).transpose(1, 2)
                v = lin("attention.self.value", x).view(B, S, heads, hd).transpose(1, 2)
                probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + bias, dim=-1)
                ctx = (probs @ v).transpose(1, 2).reshape(B, S, H)
                x = ln(lin("attention.output.dense", ctx) + x, p + "attention.output.LayerNorm")
                h = activation(spec["act"], lin("intermediate.dense", x))
                x = ln(lin("output.dense", h) + x, p + "output.LayerNorm")
            return x

    return Encoder().eval()


def torch_dynamic_int8_forward(spec, w, ids, mask, types):
    """last_hidden_state from PyTorch's own int8: quantize_dynamic (int8 weights, inputs
    quantized per tensor at run time). Its accuracy is the baseline encore's int8 is held to."""
    model = torch.quantization.quantize_dynamic(torch_encoder(spec, w), {torch.nn.Linear}, dtype=torch.qint8)
    with torch.no_grad():
        return model(ids, mask, types).to(torch.float64)


def token_cosines(a, b, mask):
    """Per-token cosine between two [B, S, H] outputs over the real (unmasked) tokens."""
    a, b = a[mask.bool()], b[mask.bool()]
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))


# ---------------------------------------------------------------------------- files
def write_safetensors(path, tensors, dtype):
    """tensors: ordered dict name -> torch tensor. Floats are stored as `dtype`; int64 as I64."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        if t.dtype == torch.int64:
            st_dtype, raw = "I64", t.numpy().astype("<i8").tobytes()
        elif dtype == "F32":
            st_dtype, raw = "F32", t.to(torch.float32).numpy().astype("<f4").tobytes()
        elif dtype == "F16":
            st_dtype, raw = "F16", t.to(torch.float16).numpy().astype("<f2").tobytes()
        else:  # BF16: the upper half of each float32 (values were already rounded to bf16)
            bits = t.to(torch.float32).numpy().astype("<f4").view("<u4") >> 16
            st_dtype, raw = "BF16", bits.astype("<u2").tobytes()
        header[name] = {"dtype": st_dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def read_safetensors(path):
    """Reads back what write_safetensors wrote (used by --check)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, t = e["data_offsets"]
        raw = data[b:t]
        if e["dtype"] == "F32":
            a = np.frombuffer(raw, "<f4")
        elif e["dtype"] == "F16":
            a = np.frombuffer(raw, "<f2").astype(np.float32)
        elif e["dtype"] == "BF16":
            a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, "<i8")
        out[name] = torch.from_numpy(a.reshape(e["shape"]).copy())
    return out


def make_vocab(size):
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    if size > 103:
        vocab = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + specials[1:]
    else:
        vocab = list(specials)
    letters = "abcdefghijklmnopqrstuvwxyz"
    i = 0
    while len(vocab) < size:
        word, n = "", i
        while True:  # i in base 26, so every word is distinct
            word += letters[n % 26]
            n //= 26
            if n == 0:
                break
        vocab.append(word if i % 3 else "##" + word)
        i += 1
    return vocab[:size]


def special_ids(vocab_size):
    return (101, 102) if vocab_size > 103 else (2, 3)  # [CLS], [SEP]


def make_inputs(spec, gen, batch, seq, lengths=None):
    V = spec["vocab"]
    cls, sep = special_ids(V)
    first = 104 if V > 103 else 5
    ids = torch.zeros(batch, seq, dtype=torch.int64)
    mask = torch.zeros(batch, seq, dtype=torch.int64)
    types = torch.zeros(batch, seq, dtype=torch.int64)
    if lengths is None:
        # Different lengths: one full row, one very short, the others in between.
        lengths = [seq, max(1, min(3, seq))] + [int(x) for x in torch.randint(2, seq + 1, (batch,), generator=gen)]
        lengths = lengths[:batch]
    for b, n in enumerate(lengths):
        ids[b, :n] = torch.randint(first, V, (n,), generator=gen)
        ids[b, 0] = cls
        if n > 1:
            ids[b, n - 1] = sep
        mask[b, :n] = 1
        if b % 2 == 1 and n >= 4:  # a second segment
            types[b, n // 2:n] = 1
    return ids, mask, types


def config_json(spec):
    cfg = {
        "architectures": [spec["arch"]],
        "model_type": "bert",
        "hidden_size": spec["hidden"],
        "num_attention_heads": spec["heads"],
        "num_hidden_layers": spec["layers"],
        "intermediate_size": spec["ffn"],
        "hidden_act": spec["act"],
        "layer_norm_eps": spec["eps"],
        "max_position_embeddings": spec["max_pos"],
        "vocab_size": spec["vocab"],
        "type_vocab_size": 2,
        "pad_token_id": 0,
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[spec["dtype"]],
    }
    if spec["labels"]:
        labels = LABELS[:spec["labels"]]
        cfg["id2label"] = {str(i): l for i, l in enumerate(labels)}
        cfg["label2id"] = {l: i for i, l in enumerate(labels)}
    return cfg


def save_npy(path, array):
    np.save(path, array)


def write_model(name, spec, out_dir, seed, batch, seq, calib=(32, None)):
    """Writes one HF model directory with inputs and goldens; returns summary numbers."""
    gen = torch.Generator().manual_seed(seed)
    os.makedirs(out_dir, exist_ok=True)
    w = make_weights(spec, gen)
    classifier = None
    if spec["labels"]:
        w, classifier = make_classifier(spec, gen, w)

    tensors = {}
    prefix = "bert." if spec["arch"] == "BertForSequenceClassification" else ""
    for k, v in w.items():
        tensors[prefix + k] = v
    if spec.get("extras"):
        # Buffers and heads real checkpoints carry; the encoder must ignore them.
        tensors[prefix + "embeddings.position_ids"] = torch.arange(spec["max_pos"], dtype=torch.int64)[None]
        tensors["cls.predictions.bias"] = torch.zeros(spec["vocab"])
        tensors["cls.predictions.transform.dense.weight"] = torch.randn(spec["hidden"], spec["hidden"],
                                                                        generator=gen)
    if classifier is not None:
        tensors["classifier.weight"], tensors["classifier.bias"] = classifier
    write_safetensors(os.path.join(out_dir, "model.safetensors"), tensors, spec["dtype"])
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config_json(spec), f, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "vocab.txt"), "w") as f:
        f.write("\n".join(make_vocab(spec["vocab"])) + "\n")

    def run(prefix_name, ids, mask, types):
        with torch.no_grad():
            hidden, pooled = bert_forward(spec, w, ids, mask, types)
        save_npy(os.path.join(out_dir, prefix_name + "input_ids.npy"), ids.numpy())
        save_npy(os.path.join(out_dir, prefix_name + "attention_mask.npy"), mask.numpy())
        save_npy(os.path.join(out_dir, prefix_name + "token_type_ids.npy"), types.numpy())
        logits = None
        if classifier is not None:
            logits = pooled @ classifier[0].to(torch.float64).T + classifier[1].to(torch.float64)
        return hidden, pooled, logits

    if classifier is not None:
        ids, mask, types, _ = task_inputs(spec, gen, batch, seq)
    else:
        ids, mask, types = make_inputs(spec, gen, batch, seq)
    hidden, pooled, logits = run("", ids, mask, types)
    save_npy(os.path.join(out_dir, "last_hidden_state.npy"), hidden.to(torch.float32).numpy())
    if pooled is not None:
        save_npy(os.path.join(out_dir, "pooler_output.npy"), pooled.to(torch.float32).numpy())
    if logits is not None:
        save_npy(os.path.join(out_dir, "logits.npy"), logits.to(torch.float32).numpy())
    if spec.get("eval_set"):
        n, s = spec["eval_set"]
        e_ids, e_mask, e_types, e_labels = task_inputs(spec, gen, n, s)
        _, _, e_logits = run("eval_", e_ids, e_mask, e_types)
        save_npy(os.path.join(out_dir, "eval_logits.npy"), e_logits.to(torch.float32).numpy())
        save_npy(os.path.join(out_dir, "eval_labels.npy"), e_labels.numpy())
        acc = float((e_logits.argmax(1) == e_labels).double().mean())
        print(f"  eval set: {n} held-out task sequences, float accuracy {acc:.3f}")
    if spec.get("accuracy_set"):
        # A larger set for the int8 accuracy test: per-token cosine is a tail statistic, so
        # it is judged over ~1,000 tokens, against PyTorch's own int8 on the same tokens.
        n = spec["accuracy_set"]
        lengths = [int(x) for x in torch.randint(2, spec["max_pos"] + 1, (n,), generator=gen)]
        a_ids, a_mask, a_types = make_inputs(spec, gen, n, spec["max_pos"], lengths)
        a_hidden, _, _ = run("acc_", a_ids, a_mask, a_types)
        save_npy(os.path.join(out_dir, "acc_last_hidden_state.npy"), a_hidden.to(torch.float32).numpy())
        cos = token_cosines(torch_dynamic_int8_forward(spec, w, a_ids, a_mask, a_types), a_hidden, a_mask)
        save_npy(os.path.join(out_dir, "acc_torch_int8_cosine.npy"), cos.to(torch.float32).numpy())
        print(f"  accuracy set: {len(cos)} tokens; PyTorch dynamic int8 per-token cosine mean {float(cos.mean()):.5f}, "
              f"1st percentile {float(torch.quantile(cos, 0.01)):.5f}, min {float(cos.min()):.5f}")
    n_calib, s_calib = calib
    # Full-length calibration sequences, so every position's embedding is seen.
    s_calib = s_calib or spec["max_pos"]
    c_ids, _, _ = make_inputs(spec, gen, n_calib, s_calib, [s_calib] * n_calib)
    save_npy(os.path.join(out_dir, "calib_ids.npy"), c_ids.numpy())

    # Sanity: tokens must be distinguishable (a degenerate model would pass any test).
    real = hidden[mask.bool()]
    unit = real / real.norm(dim=-1, keepdim=True)
    cos = unit @ unit.T
    off_diag = cos[~torch.eye(len(real), dtype=torch.bool)]
    return dict(std=float(real.std()), mean_token_cos=float(off_diag.mean()))


def check_fixture(name, spec, out_dir):
    """Re-reads the checkpoint as stored and recomputes the goldens."""
    t = read_safetensors(os.path.join(out_dir, "model.safetensors"))
    prefix = "bert." if spec["arch"] == "BertForSequenceClassification" else ""
    w = {k[len(prefix):]: v for k, v in t.items() if k.startswith(prefix) and not k.endswith("position_ids")}
    ids = torch.from_numpy(np.load(os.path.join(out_dir, "input_ids.npy")))
    mask = torch.from_numpy(np.load(os.path.join(out_dir, "attention_mask.npy")))
    types = torch.from_numpy(np.load(os.path.join(out_dir, "token_type_ids.npy")))
    with torch.no_grad():
        hidden, pooled = bert_forward(spec, w, ids, mask, types)
    want = np.load(os.path.join(out_dir, "last_hidden_state.npy"))
    err = float(np.abs(hidden.numpy() - want).max())
    if pooled is not None:
        err = max(err, float(np.abs(pooled.numpy() - np.load(os.path.join(out_dir, "pooler_output.npy"))).max()))
    print(f"  {name}: goldens reproduce from the stored checkpoint, max abs diff {err:.2e}")
    return err < 1e-6


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="output directory (default: tests/fixtures, one folder per fixture)")
    # distilbert-base / roberta-base are families.py's (other tensor names); passed on to it.
    ap.add_argument("--shape", choices=sorted(BIG_SHAPES) + ["distilbert-base", "roberta-base"],
                    help="write one large model instead of the fixtures")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--only", help="comma-separated fixture names")
    ap.add_argument("--check", action="store_true", help="verify stored fixtures instead of writing them")
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    if args.shape:
        if not args.out:
            ap.error("--shape needs --out DIR")
        if args.shape not in BIG_SHAPES:
            import families  # imports this module; only needed for the other families' shapes
            print(f"writing {args.shape} to {args.out} ...", flush=True)
            families.write_big(args.shape, args.out)
            return 0
        spec = BIG_SHAPES[args.shape]
        print(f"writing {args.shape} ({spec['layers']} layers, hidden {spec['hidden']}) to {args.out} ...", flush=True)
        info = write_model(args.shape, spec, args.out, seed=7, batch=args.batch, seq=args.seq, calib=(16, spec["max_pos"]))
        size = os.path.getsize(os.path.join(args.out, "model.safetensors"))
        print(f"  model.safetensors {size / 1e6:.1f} MB; output std {info['std']:.3f}, "
              f"mean cosine between tokens {info['mean_token_cos']:.3f}")
        return 0

    root = args.out or FIXTURES
    names = args.only.split(",") if args.only else list(FIXTURE_SPECS)
    ok = True
    for name in names:
        seed = list(FIXTURE_SPECS).index(name) + 1  # fixed per fixture, whatever --only selects
        spec = FIXTURE_SPECS[name]
        out_dir = os.path.join(root, name)
        if args.check:
            ok &= check_fixture(name, spec, out_dir)
            continue
        info = write_model(name, spec, out_dir, seed=seed, batch=spec["batch"], seq=spec["seq"])
        size = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
        print(f"  {name}: {spec['arch']} {spec['dtype']} {spec['act']}, {size / 1e3:.0f} kB; output std "
              f"{info['std']:.3f}, mean cosine between tokens {info['mean_token_cos']:.3f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
