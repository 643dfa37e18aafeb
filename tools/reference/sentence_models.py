#!/usr/bin/python3
"""Tiny sentence-transformers directories, with PyTorch goldens of their sentence embeddings.

Each fixture is a directory as SentenceTransformer.save writes it (modules.json, the
Transformer's Hugging Face model at "" or in a subfolder with sentence_bert_config.json,
1_Pooling/config.json, N_Dense/{config.json, model.safetensors}, N_Normalize,
config_sentence_transformers.json), built on families.py's encoders (random weights scaled
like trained ones). The goldens apply the modules in order, in plain PyTorch float64, as
sentence-transformers' own code does (sentence_transformers/models/Pooling.py forward,
Dense.py forward, Normalize.py forward = torch.nn.functional.normalize), to the
last_hidden_state of families.forward (Hugging Face's forward pass): never from encore's C++.

  /usr/bin/python3 tools/reference/sentence_models.py            # write -> tests/fixtures/st_*
  /usr/bin/python3 tools/reference/sentence_models.py --check    # regenerate in memory, compare

Fixtures:
  st_minilm        all-MiniLM-L6-v2's layout: BertModel at path "", mean pooling, Normalize,
                   max_seq_length 12, a "query: " prompt, vocab.txt (text mode)
  st_xlmr_dense    XLM-RoBERTa in 0_Transformer/, cls pooling, Dense 32->24 tanh, Dense 24->16
                   identity without bias, default prompt "query"
  st_distil_pool   DistilBERT, four pooling modes at once (max, mean_sqrt_len_tokens,
                   weightedmean, lasttoken: 4 x 32 wide, concatenated), Dense 128->32 identity,
                   Normalize; one input row has a masked position inside it
  st_modernbert    nomic-ai/modernbert-embed-base's layout: ModernBertModel at path "", mean
                   pooling, Normalize (listed in modules.json as 2_Normalize; the Hub repository has
                   no such folder, as git keeps no empty one), sentence_bert_config.json
                   max_seq_length = max_position_embeddings, config_sentence_transformers.json with
                   no prompts (the model card writes "search_query: " / "search_document: " into the
                   texts; the Hub's file, 210 bytes, has no room for them beside __version__ and
                   the other keys); a tokenizer.json (modernbert_tokenizer) for text mode
  st_gte_modernbert  Alibaba-NLP/gte-modernbert-base's layout: Transformer and Pooling only
                   (modules.json of 14 lines, no Normalize), cls pooling (the model card takes
                   last_hidden_state[:, 0]), no sentence_bert_config.json (sentence-transformers
                   then uses the model's own limit); ids only

The ModernBERT fixtures' inputs are modernbert.make_inputs' ([CLS] 1 ... [SEP] 2, pads 3, a hole in
the last row's mask), int32, and they store no last_hidden_state.npy (modernbert_* test that).
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import families as fam  # noqa: E402
import make_fixtures as mf  # noqa: E402
import modernbert as mb  # noqa: E402

MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
FLAG_KEYS = {"cls": "pooling_mode_cls_token", "max": "pooling_mode_max_tokens", "mean": "pooling_mode_mean_tokens",
             "mean_sqrt_len_tokens": "pooling_mode_mean_sqrt_len_tokens",
             "weightedmean": "pooling_mode_weightedmean_tokens", "lasttoken": "pooling_mode_lasttoken"}

# The __version__ stamp of config_sentence_transformers.json (informational; nothing reads it).
VERSIONS = {"sentence_transformers": "3.0.1", "transformers": "4.41.2", "pytorch": "2.3.0"}
MODERNBERT_VERSIONS = {"sentence_transformers": "3.3.1", "transformers": "4.48.0", "pytorch": "2.5.1"}
# st_modernbert's tokenizer.json: bpe_template.json's first merges (see modernbert_tokenizer).
TOKENIZER_MERGES = 60

# encoder: a families.py-style spec (or modernbert.py's, family "modernbert"); st: the modules
# after it.
SPECS = {
    "st_minilm": dict(
        encoder=dict(family="bert", arch="BertModel", hidden=32, heads=4, layers=2, ffn=64, vocab=160, max_tokens=16,
                     act="gelu", eps=1e-12, dtype="F32", pooler=True, labels=0),
        transformer_path="", pooling=("mean",), dense=[], normalize=True, max_seq_length=12,
        prompts={"query": "query: ", "document": ""}, default_prompt=None, similarity="cosine", vocab=True,
        batch=4, seq=12, accuracy_set=24, seed=11, calib=64),
    "st_xlmr_dense": dict(
        encoder=dict(family="xlm-roberta", arch="XLMRobertaModel", hidden=32, heads=4, layers=2, ffn=64, vocab=180,
                     max_tokens=16, act="gelu", eps=1e-5, dtype="F16", pooler=True, labels=0),
        transformer_path="0_Transformer", pooling=("cls",), dense=[(24, True, "tanh"), (16, False, "identity")],
        normalize=False, max_seq_length=16, prompts={"query": "query: ", "passage": "passage: "},
        default_prompt="query", similarity="cosine", vocab=False, batch=4, seq=16, accuracy_set=24, seed=12),
    "st_distil_pool": dict(
        encoder=dict(family="distilbert", arch="DistilBertModel", hidden=32, heads=2, layers=2, ffn=64, vocab=160,
                     max_tokens=16, act="gelu", dtype="F16", pooler=False, labels=0),
        transformer_path="", pooling=("max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"),
        dense=[(32, True, "identity")], normalize=True, max_seq_length=None, prompts={}, default_prompt=None,
        similarity=None, vocab=False, batch=4, seq=16, accuracy_set=24, seed=13, mask_hole=True, calib=64),
    # ModernBERT encoders: modernbert.py's weights, config.json and forward pass (config_extra:
    # the Hub's config.json's other keys, none of which changes the outputs: sparse_prediction
    # acts on masked-LM training with labels, reference_compile on torch.compile); 8-token windows
    # and sequences of up to 24 tokens, so the local layers' window matters (build() prints how
    # much). st_modernbert: layers 0 and 3 global (every 3, as the Hub's models), max_seq_length =
    # max_position_embeddings (8192 / 8192 on the Hub). st_gte_modernbert: layers 0 and 2 global.
    "st_modernbert": dict(
        encoder=dict(family="modernbert", arch="ModernBertModel", hidden=32, heads=2, layers=4, ffn=48,
                     vocab=260 + TOKENIZER_MERGES + 1, window=8, every=3, max_pos=64, dtype="F16"),
        transformer_path="", pooling=("mean",), dense=[], normalize=True, max_seq_length=64, prompts={},
        default_prompt=None, similarity="cosine", vocab=False, tokenizer=True, batch=4, seq=24, accuracy_set=24,
        seed=21, calib=48, versions=MODERNBERT_VERSIONS,
        config_extra={"_name_or_path": "nomic-ai/modernbert-embed", "reference_compile": None,
                      "sparse_pred_ignore_index": -100, "sparse_prediction": False,
                      "transformers_version": "4.48.0.dev0"}),
    "st_gte_modernbert": dict(
        encoder=dict(family="modernbert", arch="ModernBertModel", hidden=32, heads=2, layers=3, ffn=32, vocab=160,
                     window=8, every=2, max_pos=64, dtype="F16"),
        transformer_path="", pooling=("cls",), dense=[], normalize=False, max_seq_length=None, sbert_config=False,
        prompts={}, default_prompt=None, similarity="cosine", vocab=False, batch=4, seq=24, accuracy_set=24,
        seed=22, calib=48, versions=MODERNBERT_VERSIONS,
        config_extra={"sparse_pred_ignore_index": -100, "sparse_prediction": False,
                      "transformers_version": "4.48.0"}),
}
ACTIVATIONS = {"tanh": "torch.nn.modules.activation.Tanh", "identity": "torch.nn.modules.linear.Identity"}


# ---------------------------------------------------------------------------- modules
def pooling(modes, token_embeddings, attention_mask):
    """sentence_transformers.models.Pooling.forward, in the order it appends the modes."""
    out = []
    mask = attention_mask.unsqueeze(-1).expand(token_embeddings.size()).to(token_embeddings.dtype)
    if "cls" in modes:
        out.append(token_embeddings[:, 0])
    if "max" in modes:
        t = token_embeddings.clone()
        t[mask == 0] = -1e9
        out.append(torch.max(t, 1)[0])
    if "mean" in modes or "mean_sqrt_len_tokens" in modes:
        sums = torch.sum(token_embeddings * mask, 1)
        count = torch.clamp(mask.sum(1), min=1e-9)
        if "mean" in modes:
            out.append(sums / count)
        if "mean_sqrt_len_tokens" in modes:
            out.append(sums / torch.sqrt(count))
    if "weightedmean" in modes:
        S = token_embeddings.shape[1]
        weights = torch.arange(1, S + 1).unsqueeze(0).unsqueeze(-1).expand(token_embeddings.size())
        w = mask * weights.to(token_embeddings.dtype)
        out.append(torch.sum(token_embeddings * w, 1) / torch.clamp(w.sum(1), min=1e-9))
    if "lasttoken" in modes:
        B, S, H = token_embeddings.shape
        values, indices = attention_mask.flip(1).max(1)
        indices = torch.where(values == 0, S - 1, indices)
        gather = (S - indices - 1).unsqueeze(-1).repeat(1, H).unsqueeze(1)
        out.append(torch.gather(token_embeddings * mask, 1, gather).squeeze(dim=1))
    return torch.cat(out, 1)


def is_modernbert(enc):
    return enc["family"] == "modernbert"


def encoder_forward(enc, w, ids, mask, types):
    """last_hidden_state in float64: families.forward, or modernbert.forward (no token types)."""
    if is_modernbert(enc):
        return mb.forward(enc, w, ids.long(), mask)[0]
    return fam.forward(enc, w, ids, mask, types)[0]


def encoder_inputs(enc, gen, batch, seq, lengths=None):
    """A padded batch in the family's ids: families.inputs, or modernbert.make_inputs ([CLS] words
    [SEP], the first row full length, a hole in the last row's mask; int32 as in the modernbert_*
    fixtures, no token types)."""
    if not is_modernbert(enc):
        return fam.inputs(enc, gen, batch, seq, lengths)
    if lengths is None:
        lengths = [seq] + [int(x) for x in torch.randint(seq // 2, seq, (batch - 1,), generator=gen)]
    ids, mask = mb.make_inputs(enc, gen, batch, seq, lengths)
    return ids, mask, None


def sentence_embedding(spec, w, dense, ids, mask, types):
    """The modules in order on the encoder's last_hidden_state (float64)."""
    with torch.no_grad():
        hidden = encoder_forward(spec["encoder"], w, ids, mask, types)
        x = pooling(spec["pooling"], hidden, mask)
        for (weight, bias), (_, _, act) in zip(dense, spec["dense"]):
            x = x @ weight.T + (bias if bias is not None else 0.0)  # Dense: activation(linear(x))
            if act == "tanh":
                x = torch.tanh(x)
        if spec["normalize"]:
            x = torch.nn.functional.normalize(x, p=2, dim=1)
    return hidden, x


# ---------------------------------------------------------------------------- fixture
def modernbert_tokenizer(merges):
    """A tokenizer.json in ModernBERT's layout whose ids fit a tiny model: bpe_template.json (the
    byte-level BPE of make_text_tokenizer_fixtures.py in ModernBERT's layout: NFC, Split + ByteLevel,
    TemplateProcessing) cut to its 256-byte alphabet (ids 4-259) and first `merges` merges (their
    tokens are ids 260, 261, ... in merge order), its special tokens renamed and renumbered to
    modernbert.py's tiny ids ([UNK] 0, [CLS] 1, [SEP] 2, [PAD] 3, [MASK] last): a single text is
    [CLS] text [SEP], as ModernBERT's tokenizer makes it. A prefix of a BPE's merges is a BPE."""
    with open(os.path.join(mf.FIXTURES, "text_tokenizer", "bpe_template.json"), encoding="utf-8") as f:
        t = json.load(f)
    keep = 260 + merges
    rename = {"<unk>": ("[UNK]", 0), "<s>": ("[CLS]", mb.CLS), "</s>": ("[SEP]", mb.SEP),
              "<pad>": ("[PAD]", mb.PAD), "<mask>": ("[MASK]", keep)}
    model = t["model"]
    vocab = {}
    for token, i in model["vocab"].items():
        if token in rename:
            vocab[rename[token][0]] = rename[token][1]
        elif i < keep:
            assert i >= 4, token
            vocab[token] = i
    assert sorted(vocab.values()) == list(range(keep + 1))
    model["vocab"] = dict(sorted(vocab.items(), key=lambda kv: kv[1]))
    model["merges"] = model["merges"][:merges]
    for a, b in model["merges"]:  # each kept merge joins kept tokens into a kept token
        assert a in vocab and b in vocab and a + b in vocab, (a, b)
    for added in t["added_tokens"]:
        added["content"], added["id"] = rename[added["content"]]
    t["added_tokens"].sort(key=lambda a: a["id"])
    (template,) = [p for p in t["post_processor"]["processors"] if p["type"] == "TemplateProcessing"]
    for piece in template["single"] + template["pair"]:
        if "SpecialToken" in piece:
            piece["SpecialToken"]["id"] = rename[piece["SpecialToken"]["id"]][0]
    template["special_tokens"] = {rename[k][0]: {"id": rename[k][0], "ids": [rename[k][1]], "tokens": [rename[k][0]]}
                                  for k in template["special_tokens"]}
    return t


def build(name):
    """{relative path: content} of one fixture directory (dicts are JSON, {name: tensor}
    dicts safetensors, numpy arrays .npy, lists of strings text lines)."""
    spec = SPECS[name]
    modern = is_modernbert(spec["encoder"])
    enc = dict(spec["encoder"]) if modern else dict(spec["encoder"], max_pos=fam.max_positions(spec["encoder"]))
    spec = dict(spec, encoder=enc)
    gen = torch.Generator().manual_seed(spec["seed"])
    make_weights = mb.make_weights if modern else fam.make_weights
    w = {k: mf.round_to_storage(v, enc["dtype"]) for k, v in make_weights(enc, gen).items()}
    files = {}
    tp = spec["transformer_path"]
    at = (lambda f: f"{tp}/{f}") if tp else (lambda f: f)
    torch_dtype = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[enc["dtype"]]
    if modern:  # with the keys the Hub's config.json has beyond modernbert.py's (none changes the model)
        files[at("config.json")] = dict(sorted({**mb.config_json(enc, torch_dtype), **spec["config_extra"]}.items()))
    else:
        files[at("config.json")] = fam.config_json(enc)
    files[at("model.safetensors")] = (w, enc["dtype"])
    if spec.get("sbert_config", True):  # gte-modernbert-base has none: the limit is the model's own
        files[at("sentence_bert_config.json")] = {"max_seq_length": spec["max_seq_length"], "do_lower_case": False}
    if spec.get("tokenizer"):
        files[at("tokenizer.json")] = modernbert_tokenizer(TOKENIZER_MERGES)
    if spec["vocab"]:
        files[at("vocab.txt")] = mf.make_vocab(enc["vocab"])
        files[at("tokenizer_config.json")] = {"do_lower_case": True, "model_max_length": 512,
                                              "tokenizer_class": "BertTokenizer"}

    modules = [{"idx": 0, "name": "0", "path": tp, "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    H = enc["hidden"]
    pool = {"word_embedding_dimension": H}
    for m in MODES:
        pool[FLAG_KEYS[m]] = m in spec["pooling"]
    pool["include_prompt"] = True
    files["1_Pooling/config.json"] = pool
    width = H * len(spec["pooling"])
    dense = []
    for i, (out_f, has_bias, act) in enumerate(spec["dense"]):
        idx = 2 + i
        folder = f"{idx}_Dense"
        modules.append({"idx": idx, "name": str(idx), "path": folder, "type": "sentence_transformers.models.Dense"})
        weight, bias = mf.linear_init(gen, out_f, width)
        weight = mf.round_to_storage(weight, "F32").double()
        bias = mf.round_to_storage(bias, "F32").double() if has_bias else None
        files[f"{folder}/config.json"] = {"in_features": width, "out_features": out_f, "bias": has_bias,
                                          "activation_function": ACTIVATIONS[act]}
        t = {"linear.weight": weight}
        if has_bias:
            t["linear.bias"] = bias
        files[f"{folder}/model.safetensors"] = (t, "F32")
        dense.append((weight, bias))
        width = out_f
    if spec["normalize"]:
        idx = len(modules)
        modules.append({"idx": idx, "name": str(idx), "path": f"{idx}_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
        files[f"{idx}_Normalize/"] = None  # an empty folder, as Normalize.save leaves it
    files["modules.json"] = modules
    files["config_sentence_transformers.json"] = {
        "__version__": spec.get("versions", VERSIONS),
        "prompts": spec["prompts"], "default_prompt_name": spec["default_prompt"],
        "similarity_fn_name": spec["similarity"]}

    with_types = not modern and fam.FAMILIES[enc["family"]]["types"] and \
        fam.FAMILIES[enc["family"]]["positions"] == "arange"

    def run(prefix, ids, mask, types):
        hidden, emb = sentence_embedding(spec, w, dense, ids, mask, types)
        files[prefix + "input_ids.npy"] = ids.numpy()
        files[prefix + "attention_mask.npy"] = mask.numpy()
        if with_types:
            files[prefix + "token_type_ids.npy"] = types.numpy()
        if not prefix and not modern:  # (the modernbert_* fixtures test ModernBERT's hidden states)
            files["last_hidden_state.npy"] = hidden.to(torch.float32).numpy()
        files[prefix + "sentence_embedding.npy"] = emb.to(torch.float32).numpy()
        return emb

    ids, mask, types = encoder_inputs(enc, gen, spec["batch"], spec["seq"])
    if spec.get("mask_hole"):  # a masked position inside a real row: pooling must follow the mask
        n = int(mask[0].sum())
        mask[0, n // 2] = 0
    emb = run("", ids, mask, types)
    S = spec["seq"] if modern else enc["max_tokens"]
    lengths = [int(x) for x in torch.randint(2, S + 1, (spec["accuracy_set"],), generator=gen)]
    a_ids, a_mask, a_types = encoder_inputs(enc, gen, spec["accuracy_set"], S, lengths)
    run("acc_", a_ids, a_mask, a_types)
    n = spec.get("calib", 16)
    if modern:
        c_ids, _, _ = encoder_inputs(enc, gen, n, S, [S] * n)
    else:
        c_ids, c_mask, c_types = mf.make_inputs(enc, gen, n, S, [S] * n)
        c_ids, _, _ = fam.to_family(enc, c_ids, c_mask, c_types, gen, pad_inside=False)
    files["calib_ids.npy"] = c_ids.numpy()
    info = dict(dim=emb.shape[1], norm=float(emb.norm(dim=1).mean()), scale=float(emb.abs().max()))
    if modern:  # the window matters: global attention in every layer changes the embeddings
        _, everywhere = sentence_embedding(dict(spec, encoder=dict(enc, every=1)), w, dense, a_ids, a_mask, None)
        acc = torch.from_numpy(files["acc_sentence_embedding.npy"]).double()
        info["window"] = float((everywhere - acc).abs().max())
    return files, info


def write(files, out_dir):
    for rel, v in files.items():
        path = os.path.join(out_dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if v is None:
            continue
        if rel.endswith(".json"):
            with open(path, "w") as f:
                json.dump(v, f, indent=2)
                f.write("\n")
        elif rel.endswith(".safetensors"):
            mf.write_safetensors(path, v[0], v[1])
        elif rel.endswith(".txt"):
            with open(path, "w") as f:
                f.write("\n".join(v) + "\n")
        else:
            mf.save_npy(path, v)


def same_tree(a, b):
    """Problems between two written fixture directories (floats to 1e-5, the rest exactly)."""
    bad = []
    def listing(d):
        return sorted(os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(d) for f in fs)
    if listing(a) != listing(b):
        return [f"files differ: {listing(a)} vs {listing(b)}"]
    for rel in listing(a):
        pa, pb = os.path.join(a, rel), os.path.join(b, rel)
        if rel.endswith(".npy"):
            x, y = np.load(pa), np.load(pb)
            if x.shape != y.shape or x.dtype != y.dtype:
                bad.append(f"{rel}: shape/dtype")
            elif x.dtype.kind == "f" and np.abs(x.astype(np.float64) - y).max(initial=0) > 1e-5:
                bad.append(f"{rel}: differs by {np.abs(x.astype(np.float64) - y).max():.2e}")
            elif x.dtype.kind != "f" and not np.array_equal(x, y):
                bad.append(f"{rel} differs")
        elif rel.endswith(".safetensors"):
            x, y = mf.read_safetensors(pa), mf.read_safetensors(pb)
            if list(x) != list(y) or any(float((x[k].double() - y[k].double()).abs().max()) > 1e-5 for k in x):
                bad.append(f"{rel} differs")
        else:
            with open(pa, "rb") as f, open(pb, "rb") as g:
                if f.read() != g.read():
                    bad.append(f"{rel} differs")
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=mf.FIXTURES, help="parent directory of the fixture folders")
    ap.add_argument("--check", action="store_true", help="regenerate and compare with the stored fixtures")
    ap.add_argument("--only", help="comma-separated fixture names")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(SPECS)
    ok = True
    for name in names:
        files, info = build(name)
        if args.check:
            with tempfile.TemporaryDirectory() as tmp:
                write(files, tmp)
                bad = same_tree(tmp, os.path.join(args.out, name))
            print(f"{name}: {'ok' if not bad else '; '.join(bad)}")
            ok &= not bad
        else:
            write(files, os.path.join(args.out, name))
            print(f"{name}: sentence_embedding {info['dim']} wide, mean norm {info['norm']:.3f}, "
                  f"max |value| {info['scale']:.3f}" +
                  (f"; global attention everywhere changes it by up to {info['window']:.3f}" if "window" in info else ""))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
