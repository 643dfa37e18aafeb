#!/usr/bin/python3
"""Tiny models that carry a real tokenizer, with PyTorch goldens for text in, logits out.

Three Hugging Face directories whose vocabularies are the tokenizer fixtures of
tests/fixtures/text_tokenizer/ (written by make_text_tokenizer_fixtures.py):

  text_roberta  RobertaForSequenceClassification, 3 labels, vocab 1761 = bpe_roberta.json
                (byte-level BPE), stored as its tokenizer.json with a RobertaTokenizer
                tokenizer_config.json; the same weights also convert with the legacy
                vocab.json + merges.txt of text_tokenizer/legacy_roberta/ (the tests copy them in)
  text_xlmr     XLMRobertaModel (with pooler), vocab 2002 = unigram_xlmr.json / unigram.model
                (SentencePiece Unigram); the directory holds config, weights and an
                XLMRobertaTokenizer tokenizer_config.json only: the tests copy in
                unigram.model as sentencepiece.bpe.model, or unigram_xlmr.json as tokenizer.json
                (both are 270-380 kB, too large to store twice)
  text_bert     BertForSequenceClassification, 2 labels, vocab 1219 = wordpiece_cased.json
                (cased WordPiece: "Hello" must stay "Hello"), with do_lower_case false

The token ids of every golden come from the golden files of the independent tokenizers
(goldens_*.jsonl: the JS @huggingface/tokenizers, and for the Unigram model also Debian's
python3-sentencepiece, which must agree), never from encore. The forward pass is families.py's
(Hugging Face's modeling code written out in float64 PyTorch), run on the padded batch of those
ids with the model's pad id and an attention mask.

Each directory's text_goldens.json: {"cases": [{"text", "pair"?, "max_length"?, "ids",
"type_ids", "tokens", and "logits" (classifiers) or "cls" + "mean" (the <s> row and the mean
over the text's tokens of last_hidden_state)}], "labels"?}. "tokens" are the vocabulary
strings of "ids". A case with "max_length" is cut to that many tokens as the Rust tokenizers'
truncation does (utils/truncation.rs, longest_first): a long text (the content's tail dropped,
then the special tokens added), and for the classifiers a pair whose segments both lose tokens. calib_ids.npy: 16 rows of 64 real ids (golden ids of other strings, framed by the
model's own special tokens) for int8 calibration.

  /usr/bin/python3 tools/reference/text_models.py            # write the three fixtures
  /usr/bin/python3 tools/reference/text_models.py --check    # regenerate in memory, compare
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import families as fam  # noqa: E402
import make_fixtures as mf  # noqa: E402

TOK = os.path.join(mf.FIXTURES, "text_tokenizer")

# The texts, from strings.json: Latin punctuation, accents, Cyrillic, CJK, emoji with ZWJ, a
# special token written in the text, and a long text cut by max_length.
TEXTS = [
    "Hello, World!",
    "The quick brown fox jumps over the lazy dog.",
    "Don't stop-believing: it's 3:45pm (GMT+1)!",
    "Café au lait, crème brûlée, naïve façade",
    " Привет, мир! Ёжик в тумане.  ",
    " 東京は日本の首都です  ",
    "emoji 🙂 😀👍🏽 family 👨\u200d👩\u200d👧 flags 🇫🇷",
]
LONG = ("The GNU General Public License is a free, copyleft license for software and other kinds of works.", 12)
# A pair cut to max_length by longest_first (both segments lose tokens).
LONG_PAIR = ("Text: https://example.org/a/b?c=d&e=f#g.", "C++ and C# are languages; so is F*.", 20)
# Pairs without tabs or newlines, so that they also fit a --text-file --pairs line.
PAIRS = [("HELLO", " hello  "), ("σοφός σοφία", "ΣΟΦΌΣ ΣΟΦΊΑ"),
         ("IT'S WE'RE THEY'VE I'M YOU'LL HE'D", " it's we're they've I'm you'll he'd  ")]

FIXTURES = {
    "text_roberta": dict(family="roberta", arch="RobertaForSequenceClassification", tokenizer="bpe_roberta",
                         goldens=["goldens_bpe_roberta.jsonl"], special="The <mask> sat on the mat.", labels=3,
                         tokenizer_config={"tokenizer_class": "RobertaTokenizer", "add_prefix_space": False,
                                           "trim_offsets": True, "model_max_length": 512},
                         copy_tokenizer_json=True, seed=401),
    "text_xlmr": dict(family="xlm-roberta", arch="XLMRobertaModel", tokenizer="unigram_xlmr",
                      goldens=["goldens_unigram_xlmr.jsonl", "goldens_spm_unigram.jsonl"],
                      special="The <mask> sat on the mat.", labels=0,
                      tokenizer_config={"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512},
                      copy_tokenizer_json=False, seed=402),
    "text_bert": dict(family="bert", arch="BertForSequenceClassification", tokenizer="wordpiece_cased",
                      goldens=["goldens_wordpiece_cased.jsonl"], special="Hello [SEP] world", labels=2,
                      tokenizer_config={"tokenizer_class": "BertTokenizer", "do_lower_case": False,
                                        "model_max_length": 512},
                      copy_tokenizer_json=True, seed=403),
}
MAX_TOKENS = 64  # positions: 64 tokens (RoBERTa-likes: + pad_token_id + 1)
CALIB_ROWS, CALIB_LEN = 16, MAX_TOKENS  # full-length rows: every position calibrated


def read_goldens(name):
    out = {}
    with open(os.path.join(TOK, name)) as f:
        for line in f:
            g = json.loads(line)
            out[(g["text"], g.get("pair"))] = g
    return out


def vocab_strings(tok):
    """id -> token string of a tokenizer.json (model vocabulary, then added tokens)."""
    v = tok["model"]["vocab"]
    names = {i: p[0] for i, p in enumerate(v)} if isinstance(v, list) else {i: t for t, i in v.items()}
    for a in tok["added_tokens"]:
        names[a["id"]] = a["content"]
    return names


def specials(tok):
    """(first, last) special ids the post-processor frames one sequence with, and the pad id."""
    added = {a["content"]: a["id"] for a in tok["added_tokens"]}
    if "<s>" in added:
        return added["<s>"], added["</s>"], added["<pad>"]
    return added["[CLS]"], added["[SEP]"], added["[PAD]"]


def golden_ids(spec, text, pair=None):
    """The ids and type ids of the golden files. The Unigram tokenizer has two, which must agree
    where both have the text: the JS goldens leave out texts where the JS port is known to
    differ (the emoji text: its charsmap approximation), and python3-sentencepiece does not
    know the added tokens (the <mask> text)."""
    found = [g[(text, pair)] for g in spec["_goldens"] if (text, pair) in g]
    if not found:
        raise SystemExit(f"{spec['tokenizer']}: {text!r} / {pair!r} is in no golden file")
    ids = found[0]["ids"]
    for e in found[1:]:
        if e["ids"] != ids:
            raise SystemExit(f"{spec['tokenizer']}: the golden files disagree on {text!r}")
    types = found[0].get("type_ids") or [0] * len(ids)
    if spec["_post_processor"] == "RobertaProcessing":
        # The Rust crate's RobertaProcessing gives every token type id 0; the JS port gives the
        # second segment 1 (tests/tokenizer/README.md, "Where the implementations disagree").
        types = [0] * len(ids)
    return list(ids), list(types)


def cases(spec):
    out = [dict(text=t) for t in TEXTS + [spec["special"]]]
    for c in out:
        c["ids"], c["type_ids"] = golden_ids(spec, c["text"])
    text, max_length = LONG
    ids, types = golden_ids(spec, text)
    assert len(ids) > max_length, "the long text must be longer than max_length"
    # One sequence: the content's last tokens go, the post-processor's two stay.
    out.append(dict(text=text, max_length=max_length, ids=ids[:max_length - 1] + ids[-1:],
                    type_ids=types[:max_length]))
    if spec["labels"]:  # pairs go to classifiers (encore-run and TextEncoder take pairs there)
        for a, b in PAIRS:
            ids, types = golden_ids(spec, a, b)
            out.append(dict(text=a, pair=b, ids=ids, type_ids=types))
        out.append(truncated_pair(spec, *LONG_PAIR))
    return out


def longest_first(n1, n2, max_length):
    """The lengths tokenizers' truncate_encodings (utils/truncation.rs, LongestFirst with a pair)
    keeps of two segments of n1 and n2 tokens, max_length being the total less the special tokens."""
    if n1 + n2 <= max_length:
        return n1, n2
    swap = n1 > n2
    if swap:
        n1, n2 = n2, n1
    n2 = n1 if n1 > max_length else max(n1, max_length - n1)
    if n1 + n2 > max_length:
        n1 = max_length // 2
        n2 = n1 + max_length % 2
    return (n2, n1) if swap else (n1, n2)


def truncated_pair(spec, a, b, max_length):
    """A pair cut to max_length: each segment's golden ids alone (<s> A </s> / [CLS] A [SEP]),
    the pair's golden ids rebuilt from them as a check of the framing, then both segments cut by
    longest_first and framed again."""
    ids_a, _ = golden_ids(spec, a)
    ids_b, _ = golden_ids(spec, b)
    first, sep = ids_a[0], ids_a[-1]
    seg_a, seg_b = ids_a[1:-1], ids_b[1:-1]
    roberta = spec["_post_processor"] == "RobertaProcessing"
    middle = [sep, sep] if roberta else [sep]

    def frame(x, y):
        ids = [first] + x + middle + y + [sep]
        types = [0] * len(ids) if roberta else [0] * (len(x) + 2) + [1] * (len(y) + 1)
        return ids, types

    whole, whole_types = golden_ids(spec, a, b)
    assert (whole, whole_types) == frame(seg_a, seg_b), (spec["tokenizer"], a, b)
    n1, n2 = longest_first(len(seg_a), len(seg_b), max_length - 2 - len(middle))
    assert n1 < len(seg_a) and n2 < len(seg_b), "both segments must be cut"
    ids, types = frame(seg_a[:n1], seg_b[:n2])
    return dict(text=a, pair=b, max_length=max_length, ids=ids, type_ids=types)


def model_spec(name):
    s = FIXTURES[name]
    from_ids = fam.FAMILIES[s["family"]]["positions"] == "from_ids"
    return dict(family=s["family"], arch=s["arch"], hidden=32, heads=4, layers=2, ffn=64, vocab=s["_vocab"],
                max_tokens=MAX_TOKENS, act="gelu", eps=1e-5 if from_ids else 1e-12, dtype="F16",
                pooler=s["labels"] == 0 or s["family"] == "bert", labels=s["labels"])


def config(spec, pad):
    cfg = fam.config_json(spec)
    cfg["pad_token_id"] = pad
    if spec["family"] == "bert":  # BERT configs carry no bos / eos
        cfg.pop("bos_token_id", None)
        cfg.pop("eos_token_id", None)
    return cfg


def batch(rows, pad):
    S = max(len(r) for r in rows)
    ids = torch.full((len(rows), S), pad, dtype=torch.int64)
    mask = torch.zeros((len(rows), S), dtype=torch.int64)
    for b, r in enumerate(rows):
        ids[b, :len(r)] = torch.tensor(r)
        mask[b, :len(r)] = 1
    return ids, mask


def calibration(spec, first, last, skip):
    """Rows of golden ids of other strings (content only), cut into CALIB_LEN - 2 pieces and
    framed by the model's own special tokens."""
    stream = []
    for (text, pair), g in spec["_goldens"][0].items():
        if pair is None and text not in skip:
            stream += g["ids"][1:-1]
    n = CALIB_LEN - 2
    if len(stream) < CALIB_ROWS * n:
        raise SystemExit("not enough golden ids for the calibration rows")
    rows = [[first] + stream[i * n:(i + 1) * n] + [last] for i in range(CALIB_ROWS)]
    return np.array(rows, dtype=np.int64)


def fit(spec, w, ids, mask, types, steps=60):
    """A random classifier gives nearly the same label to every text (the <s> rows of a random
    encoder are alike), so the whole model is fitted briefly (Adam, cross-entropy) to the
    labels 0, 1, 2, 0, ... of the golden cases: their argmax then varies, far from a tie."""
    labels = torch.arange(ids.shape[0]) % spec["labels"]
    params = {k: v.to(torch.float64).requires_grad_(True) for k, v in w.items()}
    opt = torch.optim.Adam(list(params.values()), lr=2e-3)
    for _ in range(steps):
        _, _, logits = fam.forward(spec, params, ids, mask, types)
        loss = torch.nn.functional.cross_entropy(logits, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {k: v.detach() for k, v in params.items()}


def build(name):
    s = FIXTURES[name]
    with open(os.path.join(TOK, s["tokenizer"] + ".json")) as f:
        tok = json.load(f)
    names = vocab_strings(tok)
    s["_vocab"] = max(names) + 1
    s["_goldens"] = [read_goldens(g) for g in s["goldens"]]
    s["_post_processor"] = tok["post_processor"]["type"]
    first, last, pad = specials(tok)
    spec = model_spec(name)
    # families.py reads the pad id from SPECIALS; these tokenizers use the same ids as the
    # family's (RoBERTa / XLM-R <pad> 1, BERT [PAD] 0), which is checked here.
    assert fam.SPECIALS[spec["family"]][2] == pad, (name, pad)
    gen = torch.Generator().manual_seed(s["seed"])
    pre = fam.base_prefix(spec)
    w = {pre + k: v for k, v in fam.make_weights(spec, gen).items()}
    cs = cases(s)
    ids, mask = batch([c["ids"] for c in cs], pad)
    types, _ = batch([c["type_ids"] for c in cs], 0)
    if spec["labels"]:
        w.update(fam.make_head(spec, gen))
        w = fit(spec, w, ids, mask, types if spec["family"] == "bert" else None)
    w = {k: mf.round_to_storage(v, spec["dtype"]) for k, v in w.items()}

    with torch.no_grad():
        hidden, _, logits = fam.forward(spec, w, ids, mask, types if spec["family"] == "bert" else None)
    for b, c in enumerate(cs):
        c["tokens"] = [names[i] for i in c["ids"]]
        if logits is not None:
            c["logits"] = [round(float(x), 7) for x in logits[b]]
        else:
            n = len(c["ids"])
            c["cls"] = [round(float(x), 7) for x in hidden[b, 0]]
            c["mean"] = [round(float(x), 7) for x in hidden[b, :n].mean(0)]
    goldens = {"cases": cs}
    if spec["labels"]:
        goldens["labels"] = list(config(spec, pad)["id2label"].values())
    out = {"config.json": config(spec, pad), "model.safetensors": w, "text_goldens.json": goldens,
           "tokenizer_config.json": s["tokenizer_config"],
           "calib_ids.npy": calibration(s, first, last, {c["text"] for c in cs} | {p for _, p in PAIRS})}
    info = {}
    if logits is not None:
        top2 = logits.topk(2, dim=1).values
        info["min_margin"] = float((top2[:, 0] - top2[:, 1]).min())
        info["argmax"] = [int(x) for x in logits.argmax(1)]
    return out, info


def dump_json(v):
    """Configs indented; text_goldens.json one case per line."""
    if "cases" not in v:
        return json.dumps(v, indent=2, ensure_ascii=False) + "\n"
    rows = ",\n".join("  " + json.dumps(c, ensure_ascii=False) for c in v["cases"])
    rest = "".join(f',\n "{k}": {json.dumps(x, ensure_ascii=False)}' for k, x in v.items() if k != "cases")
    return "{\n \"cases\": [\n" + rows + "\n ]" + rest + "\n}\n"


def write(name, out, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for fname, v in out.items():
        path = os.path.join(out_dir, fname)
        if fname.endswith(".json"):
            with open(path, "w", encoding="utf-8") as f:
                f.write(dump_json(v))
        elif fname == "model.safetensors":
            mf.write_safetensors(path, v, "F16")
        else:
            np.save(path, v)
    if FIXTURES[name]["copy_tokenizer_json"]:
        shutil.copyfile(os.path.join(TOK, FIXTURES[name]["tokenizer"] + ".json"), os.path.join(out_dir, "tokenizer.json"))


def compare(name, out, out_dir):
    bad = []
    for fname, v in out.items():
        path = os.path.join(out_dir, fname)
        if fname.endswith(".json"):
            with open(path, encoding="utf-8") as f:
                if f.read() != dump_json(v):
                    bad.append(f"{fname} differs")
        elif fname == "model.safetensors":
            t = mf.read_safetensors(path)
            if list(t) != list(v) or any(not torch.equal(t[k], v[k].to(torch.float32)) for k in v):
                bad.append("weights differ")
        elif not np.array_equal(np.load(path), v):
            bad.append(f"{fname} differs")
    if FIXTURES[name]["copy_tokenizer_json"]:
        with open(os.path.join(TOK, FIXTURES[name]["tokenizer"] + ".json"), "rb") as a, \
                open(os.path.join(out_dir, "tokenizer.json"), "rb") as b:
            if a.read() != b.read():
                bad.append("tokenizer.json is not the tokenizer fixture")
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="output directory (default: tests/fixtures)")
    ap.add_argument("--check", action="store_true", help="regenerate in memory and compare with the stored files")
    args = ap.parse_args()
    torch.set_num_threads(1)
    root = args.out or mf.FIXTURES
    ok = True
    for name in FIXTURES:
        out, info = build(name)
        n = len(out["text_goldens.json"]["cases"])
        extra = f"; logits min top-2 margin {info['min_margin']:.2f}, argmax {info['argmax']}" if info else ""
        print(f"{name}: {n} cases{extra}")
        out_dir = os.path.join(root, name)
        if args.check:
            bad = compare(name, out, out_dir)
            print("  identical" if not bad else f"  PROBLEMS: {bad}")
            ok &= not bad
        else:
            write(name, out, out_dir)
            size = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
            print(f"  wrote {out_dir}: {size / 1e3:.0f} kB")
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
