#!/usr/bin/python3
"""Per-token heads and sequence-classifier problem types of every family, with PyTorch goldens.

For each family (bert, distilbert, roberta, xlm-roberta, camembert, electra) three fixtures:
*ForTokenClassification, *ForQuestionAnswering and *ForMaskedLM, plus two sequence classifiers
with a problem_type other than single-label (BERT multi-label, RoBERTa one-label regression).
Each is a tiny random-weight checkpoint with the family's real head tensor names and config
keys, and the head's logits computed here in float64 PyTorch from Hugging Face's modeling files
(the encoder is families.forward; the heads below), never from encore's C++:

  *ForTokenClassification  logits = classifier(sequence_output)              (every family)
  *ForQuestionAnswering    logits = qa_outputs(sequence_output); start = [..., 0], end = [..., 1]
  BertForMaskedLM          BertPredictionHeadTransform: dense, ACT2FN[hidden_act], LayerNorm(eps);
                           decoder (tied to the word embeddings) + cls.predictions.bias
  RobertaForMaskedLM       RobertaLMHead: dense, gelu (erf), layer_norm(eps), decoder + lm_head.bias
  DistilBertForMaskedLM    vocab_transform, get_activation(activation), vocab_layer_norm (eps 1e-12),
                           vocab_projector (tied) + its bias
  ElectraForMaskedLM       ElectraGeneratorPredictions: dense (hidden -> embedding_size), gelu,
                           LayerNorm(embedding_size, eps); generator_lm_head (tied) + its bias
  *ForSequenceClassification with problem_type: the logits as families.forward gives them; how
                           they are read (sigmoid / raw) is checked by the C++ tests.

Files per fixture: config.json, model.safetensors, input_ids / attention_mask (/ token_type_ids)
.npy, logits.npy ([B, S, W] for the per-token heads, [B, L] for the classifiers), calib_ids.npy.

  /usr/bin/python3 tools/reference/heads.py            # write -> tests/fixtures/heads_*
  /usr/bin/python3 tools/reference/heads.py --check    # regenerate in memory, compare with the stored files
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import families as fa  # noqa: E402
import make_fixtures as mf  # noqa: E402

CLASS_PREFIX = {"bert": "Bert", "distilbert": "DistilBert", "roberta": "Roberta", "xlm-roberta": "XLMRoberta",
                "camembert": "Camembert", "electra": "Electra"}
NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
HEADS = {"token": "ForTokenClassification", "qa": "ForQuestionAnswering", "mlm": "ForMaskedLM"}

# Masked-LM head tensor names (modeling_<family>.py): dense, norm, bias, and the tied decoder's
# weight name, written into the checkpoint for BERT only (as a non-safetensors save would
# keep it; safetensors saves drop tied copies).
MLM_NAMES = {"bert": ("cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm", "cls.predictions.bias"),
             "distilbert": ("vocab_transform", "vocab_layer_norm", "vocab_projector.bias"),
             "roberta": ("lm_head.dense", "lm_head.layer_norm", "lm_head.bias"),
             "electra": ("generator_predictions.dense", "generator_predictions.LayerNorm", "generator_lm_head.bias")}


def spec_for(family, head):
    spec = dict(family=family, arch=CLASS_PREFIX[family] + HEADS.get(head, "ForSequenceClassification"), hidden=32,
                heads=2, layers=1, ffn=64, vocab=160, max_tokens=16, act="gelu", eps=1e-12 if family in (
                    "bert", "electra") else 1e-5, dtype="F32", pooler=False, labels=0, prefix=True)
    if family == "electra" and head == "mlm":
        spec["emb"] = 16  # a generator: embedding_size 16 under hidden 32, so the head projects back to 16
    if family == "bert" and head == "mlm":
        spec["act"] = "gelu_new"  # BERT's transform follows hidden_act
    if head == "multilabel":
        spec.update(labels=3, pooler=True)
    if head == "regression":
        spec.update(labels=1)
    spec["max_pos"] = fa.max_positions(spec)
    return spec


def mlm_family(family):
    return "roberta" if fa.FAMILIES[family]["head"] == "roberta" else family


def make_token_head(spec, head, gen):
    H = spec["hidden"]
    w = {}
    if head == "token":
        w["classifier.weight"], w["classifier.bias"] = mf.linear_init(gen, len(NER_LABELS), H, gain=2.0)
    elif head == "qa":
        w["qa_outputs.weight"], w["qa_outputs.bias"] = mf.linear_init(gen, 2, H, gain=2.0)
    elif head == "mlm":
        dense, norm, bias = MLM_NAMES[mlm_family(spec["family"])]
        T = spec.get("emb", H)
        w[dense + ".weight"], w[dense + ".bias"] = mf.linear_init(gen, T, H, gain=1.4)
        w[norm + ".weight"], w[norm + ".bias"] = mf.norm_init(gen, T)
        w[bias] = mf.randn(gen, spec["vocab"], std=0.2)
    return w


def head_forward(spec, head, w, hidden):
    """The head on the encoder's sequence output (float64), as the modeling files compute it."""
    d = {k: v.to(torch.float64) for k, v in w.items() if v.is_floating_point()}
    lin = lambda x, n: x @ d[n + ".weight"].T + d[n + ".bias"]  # noqa: E731
    if head == "token":
        return lin(hidden, "classifier")
    if head == "qa":
        return lin(hidden, "qa_outputs")
    family = spec["family"]
    dense, norm, bias = MLM_NAMES[mlm_family(family)]
    act = {"bert": spec["act"], "distilbert": spec["act"]}.get(family, "gelu")  # RoBERTa / ELECTRA: gelu
    eps = 1e-12 if family == "distilbert" else spec["eps"]
    h = mf.layer_norm(mf.activation(act, lin(hidden, dense)), d[norm + ".weight"], d[norm + ".bias"], eps)
    word = d[fa.base_prefix(spec) + "embeddings.word_embeddings.weight"]
    return h @ word.T + d[bias]


def config_for(spec, head):
    cfg = fa.config_json(dict(spec, labels=0))
    cfg["architectures"] = [spec["arch"]]
    if head == "token":
        cfg["id2label"] = {str(i): l for i, l in enumerate(NER_LABELS)}
        cfg["label2id"] = {l: i for i, l in enumerate(NER_LABELS)}
    elif head == "multilabel":
        cfg["id2label"] = {str(i): l for i, l in enumerate(["toxic", "insult", "threat"])}
        cfg["label2id"] = {l: i for i, l in enumerate(["toxic", "insult", "threat"])}
        cfg["problem_type"] = "multi_label_classification"
    elif head == "regression":
        cfg["id2label"] = {"0": "LABEL_0"}
        cfg["label2id"] = {"LABEL_0": 0}
    return dict(sorted(cfg.items()))


def build(family, head, seed):
    spec = spec_for(family, head)
    gen = torch.Generator().manual_seed(seed)
    pre = fa.base_prefix(spec)
    w = {pre + k: v for k, v in fa.make_weights(spec, gen).items()}
    if head in ("multilabel", "regression"):
        if spec["pooler"]:
            w[pre + "pooler.dense.weight"], w[pre + "pooler.dense.bias"] = mf.linear_init(gen, spec["hidden"],
                                                                                           spec["hidden"])
        h = fa.make_head(spec, gen)
        h = {k: (mf.linear_init(gen, *v.shape, gain=2.0)[0] if v.dim() == 2 and v.shape[0] == spec["labels"] else v)
             for k, v in h.items()}
        w.update(h)
    else:
        w.update(make_token_head(spec, head, gen))
    w = {k: mf.round_to_storage(v, spec["dtype"]) for k, v in w.items()}
    tensors = dict(w)
    if head == "mlm" and family == "bert":  # the tied decoder, stored as a copy
        tensors["cls.predictions.decoder.weight"] = w[pre + "embeddings.word_embeddings.weight"].clone()
    if head == "mlm" and mlm_family(family) == "roberta":  # lm_head.decoder.bias: the same parameter
        tensors["lm_head.decoder.bias"] = w["lm_head.bias"].clone()
    if head in ("token", "qa", "mlm") and family in ("bert", "roberta"):
        # Pooler weights a head class does not use (add_pooling_layer=False): to be skipped.
        tensors[pre + "pooler.dense.weight"], tensors[pre + "pooler.dense.bias"] = mf.linear_init(
            gen, spec["hidden"], spec["hidden"])
    out = {"config.json": config_for(spec, head), "model.safetensors": tensors}
    ids, mask, types = fa.inputs(spec, gen, 8, spec["max_tokens"])
    with_types = fa.FAMILIES[family]["types"] and fa.FAMILIES[family]["positions"] == "arange"
    with torch.no_grad():
        hidden, _, seq_logits = fa.forward(spec, w, ids, mask, types)
        logits = seq_logits if head in ("multilabel", "regression") else head_forward(spec, head, w, hidden)
    out["input_ids.npy"] = ids.numpy()
    out["attention_mask.npy"] = mask.numpy()
    if with_types:
        out["token_type_ids.npy"] = types.numpy()
    out["logits.npy"] = logits.to(torch.float32).numpy()
    c_ids, c_mask, c_types = mf.make_inputs(spec, gen, 64, spec["max_tokens"], [spec["max_tokens"]] * 64)
    c_ids, _, _ = fa.to_family(spec, c_ids, c_mask, c_types, gen, pad_inside=False)
    out["calib_ids.npy"] = c_ids.numpy()
    return out, spec


def fixtures():
    names = {}
    for family in CLASS_PREFIX:
        for head in HEADS:
            names[f"heads_{family.replace('-', '')}_{head}"] = (family, head)
    names["heads_bert_multilabel"] = ("bert", "multilabel")
    names["heads_roberta_regression"] = ("roberta", "regression")
    return names


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="output directory (default: tests/fixtures)")
    ap.add_argument("--check", action="store_true", help="regenerate in memory and compare with the stored files")
    args = ap.parse_args()
    torch.set_num_threads(1)
    root = args.out or mf.FIXTURES
    ok = True
    for i, (name, (family, head)) in enumerate(fixtures().items()):
        out, spec = build(family, head, 301 + i)
        out_dir = os.path.join(root, name)
        if args.check:
            bad, worst = fa.compare(name, out, out_dir)
            print(f"{name}: regenerated vs stored max abs diff {worst:.1e}" + (f"; PROBLEMS: {bad}" if bad else ""))
            ok &= not bad
            continue
        fa.write(out, out_dir, spec["dtype"])
        size = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
        print(f"{name}: {spec['arch']}, logits {list(out['logits.npy'].shape)}, {size / 1e3:.0f} kB")
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
