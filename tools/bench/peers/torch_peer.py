#!/usr/bin/python3
"""PyTorch peers for tools/bench/compare.sh: fp32 and torch.quantization.quantize_dynamic
int8 on a Hugging Face BERT directory, timed the way encore-bench times encore.

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


def load(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    tensors = mf.read_safetensors(os.path.join(model_dir, "model.safetensors"))
    prefix = "bert." if any(k.startswith("bert.") for k in tensors) else ""
    w = {k[len(prefix):]: v.to(torch.float32) for k, v in tensors.items()
         if k.startswith(prefix) and not k.endswith("position_ids")}
    spec = dict(hidden=cfg["hidden_size"], heads=cfg["num_attention_heads"], layers=cfg["num_hidden_layers"],
                ffn=cfg["intermediate_size"], act=cfg.get("hidden_act", "gelu"), eps=cfg.get("layer_norm_eps", 1e-12),
                vocab=cfg["vocab_size"], max_pos=cfg["max_position_embeddings"])
    return spec, w


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
    fp32 = mf.torch_encoder(spec, w)
    engines = {"torch_fp32": fp32}
    if "torch_int8" in args.engines:
        engines["torch_int8"] = torch.quantization.quantize_dynamic(fp32, {torch.nn.Linear}, dtype=torch.qint8)
    gen = torch.Generator().manual_seed(args.batch * 7919 + args.seq)
    ids = torch.randint(0, spec["vocab"], (args.batch, args.seq), generator=gen)
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
