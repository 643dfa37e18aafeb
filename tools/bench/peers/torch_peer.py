#!/usr/bin/python3
"""PyTorch peers for tools/bench/compare.sh: fp32 and torch.quantization.quantize_dynamic
int8 on a Hugging Face encoder directory (bert, distilbert, roberta, xlm-roberta, camembert,
electra), timed the way encore-bench times encore.

  /usr/bin/python3 tools/bench/peers/torch_peer.py MODEL_DIR --seq 128 --batch 1 --threads 1 \\
      --runs 10 --ids IDS.npy --out-prefix PREFIX

Prints one JSON line per (engine, shape): median/min ms over --runs timed runs after warm-up.
With --ids it also writes PREFIX.<engine>.npy, the last_hidden_state for those ids, so the
caller can compare every engine's output with PyTorch float.
Needs Debian's python3-torch (run with /usr/bin/python3).
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "reference"))
import make_fixtures as mf  # noqa: E402  (the plain-torch BERT and safetensors reader)
import families  # noqa: E402  (the other families' forward passes, written from HF's modeling files)
import modernbert  # noqa: E402  (ModernBERT's, written from HF's modeling_modernbert.py)


def load(model_dir):
    """(spec, weights) of the directory. BERT: make_fixtures' spec and the encoder's tensors
    without the "bert." prefix. Other families: a families.py spec (family, sizes, whether
    the tensors carry the family prefix) and the checkpoint's tensors as named there."""
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    tensors = mf.read_safetensors(os.path.join(model_dir, "model.safetensors"))
    family = cfg.get("model_type", "bert")
    if family == "modernbert":
        return modernbert_spec(cfg, tensors), tensors
    if family != "bert":
        return family_spec(cfg, tensors), tensors
    prefix = "bert." if any(k.startswith("bert.") for k in tensors) else ""
    w = {k[len(prefix):]: v.to(torch.float32) for k, v in tensors.items()
         if k.startswith(prefix) and not k.endswith("position_ids")}
    spec = dict(hidden=cfg["hidden_size"], heads=cfg["num_attention_heads"], layers=cfg["num_hidden_layers"],
                ffn=cfg["intermediate_size"], act=cfg.get("hidden_act", "gelu"), eps=cfg.get("layer_norm_eps", 1e-12),
                vocab=cfg["vocab_size"], max_pos=cfg["max_position_embeddings"])
    spec["family"] = "bert"
    return spec, w


def family_spec(cfg, tensors):
    family = cfg["model_type"]
    if family not in families.FAMILIES:
        sys.exit(f"torch_peer: error: model_type {family} is not one of {sorted(families.FAMILIES)}")
    if family == "distilbert":  # distilbert's own config keys; its LayerNorm eps is fixed (families.ln_eps)
        spec = dict(hidden=cfg["dim"], heads=cfg["n_heads"], layers=cfg["n_layers"], ffn=cfg["hidden_dim"],
                    act=cfg.get("activation", "gelu"), eps=1e-12)
    else:
        spec = dict(hidden=cfg["hidden_size"], heads=cfg["num_attention_heads"], layers=cfg["num_hidden_layers"],
                    ffn=cfg["intermediate_size"], act=cfg.get("hidden_act", "gelu"), eps=cfg.get("layer_norm_eps", 1e-12))
    if family in ("roberta", "xlm-roberta", "camembert") and cfg.get("pad_token_id", 1) != families.SPECIALS[family][2]:
        sys.exit(f"torch_peer: error: pad_token_id {cfg.get('pad_token_id')} differs from families.py's "
                 f"{families.SPECIALS[family][2]} for {family}")
    prefix = families.FAMILIES[family]["prefix"]
    spec.update(family=family, vocab=cfg["vocab_size"], max_pos=cfg["max_position_embeddings"], pooler=False,
                labels=0, prefix=any(k.startswith(prefix) for k in tensors))
    return spec


def modernbert_spec(cfg, tensors):
    """modernbert.py's spec of a ModernBertModel directory (the encoder; heads are not timed)."""
    if cfg.get("architectures", ["ModernBertModel"])[0] != "ModernBertModel":
        sys.exit("torch_peer: error: the modernbert peer times ModernBertModel directories only")
    return dict(family="modernbert", arch="ModernBertModel", hidden=cfg["hidden_size"],
                heads=cfg["num_attention_heads"], layers=cfg["num_hidden_layers"], ffn=cfg["intermediate_size"],
                vocab=cfg["vocab_size"], window=cfg.get("local_attention", 128),
                every=cfg.get("global_attn_every_n_layers", 3), max_pos=cfg.get("max_position_embeddings", 8192),
                eps=cfg.get("norm_eps", 1e-5), act=cfg.get("hidden_activation", "gelu"),
                global_theta=cfg.get("global_rope_theta", 160000.0), local_theta=cfg.get("local_rope_theta", 10000.0))


def pad_id(spec):
    """The id whose position RoBERTa-likes count as padding (None where positions are 0..S-1)."""
    if spec["family"] == "modernbert":
        return None
    if families.FAMILIES[spec["family"]]["positions"] == "from_ids":
        return families.SPECIALS[spec["family"]][2]
    return None


def avoid_pad(spec, ids):
    """Random ids for RoBERTa-likes must not hold the pad id: it would take position
    padding_idx and shift the positions of the tokens after it (an engine that does not count
    positions from the ids would then differ from the others for a reason that is no error)."""
    pad = pad_id(spec)
    if pad is not None:
        ids = ids.clone()
        ids[ids == pad] = pad + 1
    return ids


def uses_token_types(spec):
    if spec["family"] == "modernbert":
        return False
    return families.FAMILIES[spec["family"]]["types"]


def encoder(spec, w):
    """The encoder as a float32 torch.nn.Module whose linear layers are nn.Linear (so
    quantize_dynamic replaces them); forward(ids, mask, types) returns last_hidden_state.
    BERT: make_fixtures.torch_encoder, as before; the other families run families.forward
    with each encoder linear layer routed to its nn.Linear."""
    if spec["family"] == "bert":
        return mf.torch_encoder(spec, w)
    if spec["family"] == "modernbert":
        return modernbert_encoder(spec, w)
    fmt, names = families.FAMILIES[spec["family"]]["layer"]
    pre = families.base_prefix(spec)
    linears = [pre + fmt.format(i) + names[r] for i in range(spec["layers"]) for r in
               ("q", "k", "v", "o", "fi", "fo")]
    if pre + "embeddings_project.weight" in w:  # ELECTRA with embedding_size != hidden_size
        linears.append(pre + "embeddings_project")
    f = {k: v.to(torch.float32) for k, v in w.items() if v.is_floating_point()}

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linears = torch.nn.ModuleDict()
            for name in linears:
                lin = torch.nn.Linear(f[name + ".weight"].shape[1], f[name + ".weight"].shape[0])
                lin.weight.data, lin.bias.data = f[name + ".weight"].clone(), f[name + ".bias"].clone()
                self.linears[name.replace(".", "_")] = lin

        def forward(self, ids, mask, types=None):
            h, _, _ = families.forward(spec, f, ids, mask, types, dtype=torch.float32,
                                       linear=lambda n, x: self.linears[n.replace(".", "_")](x))
            return h

    return Encoder().eval()


def modernbert_encoder(spec, w):
    """As encoder(), for modernbert.forward (its linear layers may have no bias)."""
    linears = [f"layers.{i}.{n}" for i in range(spec["layers"]) for n in ("attn.Wqkv", "attn.Wo", "mlp.Wi", "mlp.Wo")]
    f = {k: v.to(torch.float32) for k, v in w.items() if v.is_floating_point()}

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linears = torch.nn.ModuleDict()
            for name in linears:
                wt = f[name + ".weight"]
                lin = torch.nn.Linear(wt.shape[1], wt.shape[0], bias=name + ".bias" in f)
                lin.weight.data = wt.clone()
                if lin.bias is not None:
                    lin.bias.data = f[name + ".bias"].clone()
                self.linears[name.replace(".", "_")] = lin

        def forward(self, ids, mask, types=None):
            h, _ = modernbert.forward(spec, f, ids, mask, dtype=torch.float32,
                                      linear=lambda n, x: self.linears[n.replace(".", "_")](x))
            return h

    return Encoder().eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--seq", type=int, required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--engines", default="torch_fp32,torch_int8")
    ap.add_argument("--ids", help="int64 [B, S] token ids whose outputs to save")
    ap.add_argument("--out-prefix")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    spec, w = load(args.model_dir)
    fp32 = encoder(spec, w)
    engines = {"torch_fp32": fp32}
    if "torch_int8" in args.engines:
        engines["torch_int8"] = torch.quantization.quantize_dynamic(fp32, {torch.nn.Linear}, dtype=torch.qint8)
    gen = torch.Generator().manual_seed(args.batch * 7919 + args.seq)
    ids = avoid_pad(spec, torch.randint(0, spec["vocab"], (args.batch, args.seq), generator=gen))
    mask = torch.ones_like(ids)
    types = torch.zeros_like(ids)
    with torch.no_grad():
        for name in args.engines.split(","):
            model = engines[name]
            for _ in range(args.warmup):
                model(ids, mask, types)
            ms = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                model(ids, mask, types)
                ms.append((time.perf_counter() - t0) * 1e3)
            print(json.dumps({"engine": name, "seq": args.seq, "batch": args.batch, "threads": args.threads,
                              "median_ms": statistics.median(ms), "min_ms": min(ms), "runs": len(ms)}), flush=True)
            if args.ids:
                e_ids = torch.from_numpy(np.load(args.ids)).to(torch.int64)
                out = model(e_ids, torch.ones_like(e_ids), torch.zeros_like(e_ids))
                np.save(f"{args.out_prefix}.{name}.npy", out.numpy().astype(np.float32))


if __name__ == "__main__":
    main()
