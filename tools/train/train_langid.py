#!/usr/bin/python3
"""Trains encore's example model: a small BERT that tells which of nine languages a word is
from, on the spelling dictionaries Debian packages (wamerican, wngerman, wfrench, wspanish,
witalian, wportuguese, wdutch, wswedish, wpolish; `tools/install-deps.sh --train`).

  /usr/bin/python3 tools/train/train_langid.py [--out tools/train/langid] [--seed 1] [--epochs 4]

Writes a Hugging Face directory (config.json as BertForSequenceClassification,
model.safetensors, vocab.txt, tokenizer_config.json) plus the held-out test set
(test.tsv: word<TAB>language) and test_ids.npy / test_labels.npy (the test words as the
tokenizer below encodes them, padded with [PAD]), and prints float accuracy on the test set.

Data: lowercased words of 3-20 letters; a word found in more than one list is dropped from
all of them (it has no single answer); 6,000 training and 600 test words per language, drawn
with the seed, disjoint. Tokens: a WordPiece vocabulary built here from the training words
(every character, plus the most frequent 2-4 letter word starts and "##" continuations),
lowercased, accents kept (they are what tells Polish from Swedish). The tokenizer is the
greedy longest-match WordPiece of BERT; encore's C++ tokenizer must give the same ids, which
tests/e2e checks on test_ids.npy.
"""
import argparse
import collections
import json
import math
import os
import random
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import make_fixtures as mf  # noqa: E402  (plain-torch BERT, safetensors writer)

LANGUAGES = [  # (label, Debian word list)
    ("english", "/usr/share/dict/american-english"),
    ("german", "/usr/share/dict/ngerman"),
    ("french", "/usr/share/dict/french"),
    ("spanish", "/usr/share/dict/spanish"),
    ("italian", "/usr/share/dict/italian"),
    ("portuguese", "/usr/share/dict/portuguese"),
    ("dutch", "/usr/share/dict/dutch"),
    ("swedish", "/usr/share/dict/swedish"),
    ("polish", "/usr/share/dict/polish"),
]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TRAIN_PER_LANG, TEST_PER_LANG = 6000, 600
MAX_POS = 32


def read_words(path):
    """Lowercased words of 3-20 letters. Most lists are UTF-8; some (Swedish) are Latin-1."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    words = set()
    for line in text.splitlines():
        w = line.strip().lower()
        if 3 <= len(w) <= 20 and w.isalpha():
            words.add(w)
    return words


def load_data(seed):
    lists = {}
    for label, path in LANGUAGES:
        if not os.path.exists(path):
            sys.exit(f"train_langid: {path} is missing: run tools/install-deps.sh --train")
        lists[label] = read_words(path)
    seen = collections.Counter(w for ws in lists.values() for w in ws)
    rng = random.Random(seed)
    train, test = [], []
    for i, (label, _) in enumerate(LANGUAGES):
        unique = sorted(w for w in lists[label] if seen[w] == 1)
        rng.shuffle(unique)
        need = TRAIN_PER_LANG + TEST_PER_LANG
        if len(unique) < need:
            sys.exit(f"train_langid: only {len(unique)} usable {label} words, need {need}")
        train += [(w, i) for w in unique[:TRAIN_PER_LANG]]
        test += [(w, i) for w in unique[TRAIN_PER_LANG:need]]
    rng.shuffle(train)
    return train, test


def build_vocab(words, size=1500):
    chars = sorted({c for w in words for c in w})
    starts, conts = collections.Counter(), collections.Counter()
    for w in words:
        for n in (2, 3, 4):
            if len(w) > n:
                starts[w[:n]] += 1
            for i in range(1, len(w) - n + 1):
                conts["##" + w[i:i + n]] += 1
    vocab = SPECIALS + chars + ["##" + c for c in chars]
    budget = size - len(vocab)
    ranked = sorted(list(starts.items()) + list(conts.items()), key=lambda kv: (-kv[1], kv[0]))
    vocab += [t for t, _ in ranked[:budget]]
    return vocab


def wordpiece(word, ids):
    """BERT's greedy longest-match-first WordPiece on one word (already lowercased)."""
    if len(word) > 100:
        return [ids["[UNK]"]]
    out, start = [], 0
    while start < len(word):
        end, match = len(word), None
        while start < end:
            piece = ("##" if start > 0 else "") + word[start:end]
            if piece in ids:
                match = ids[piece]
                break
            end -= 1
        if match is None:
            return [ids["[UNK]"]]
        out.append(match)
        start = end
    return out


def encode(words, ids):
    seqs = [[ids["[CLS]"]] + wordpiece(w, ids)[:MAX_POS - 2] + [ids["[SEP]"]] for w in words]
    S = max(len(s) for s in seqs)
    arr = np.full((len(seqs), S), ids["[PAD]"], dtype=np.int64)
    mask = np.zeros((len(seqs), S), dtype=np.int64)
    for i, s in enumerate(seqs):
        arr[i, :len(s)] = s
        mask[i, :len(s)] = 1
    return arr, mask


def logits_of(spec, w, head, ids, mask):
    _, pooled = mf.bert_forward(spec, w, ids, mask, torch.zeros_like(ids), dtype=torch.float32)
    return pooled @ head[0].T + head[1]


def accuracy(spec, w, head, ids, mask, labels):
    correct = 0
    with torch.no_grad():
        for i in range(0, len(ids), 512):
            logits = logits_of(spec, w, head, torch.from_numpy(ids[i:i + 512]), torch.from_numpy(mask[i:i + 512]))
            correct += int((logits.argmax(-1).numpy() == labels[i:i + 512]).sum())
    return correct / len(ids)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "langid"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=4)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    train, test = load_data(args.seed)
    vocab = build_vocab([w for w, _ in train])
    ids = {t: i for i, t in enumerate(vocab)}
    labels = [l for l, _ in LANGUAGES]
    spec = dict(hidden=128, heads=4, layers=2, ffn=256, vocab=len(vocab), max_pos=MAX_POS, act="gelu", eps=1e-12,
                dtype="F32", arch="BertForSequenceClassification", pooler=True, labels=len(labels))
    gen = torch.Generator().manual_seed(args.seed)
    w = {k: v.to(torch.float32).requires_grad_(True) for k, v in mf.make_weights(spec, gen).items()}
    head = [(torch.randn(len(labels), spec["hidden"], generator=gen) * 0.05).requires_grad_(True),
            torch.zeros(len(labels), requires_grad=True)]
    params = list(w.values()) + head
    train_words = [x for x, _ in train]
    train_labels = torch.tensor([y for _, y in train])
    test_ids, test_mask = encode([x for x, _ in test], ids)
    test_labels = np.array([y for _, y in test], dtype=np.int64)
    batch = 256
    steps = args.epochs * math.ceil(len(train) / batch)
    opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.1)
    step = 0
    print(f"train_langid: {len(train)} training / {len(test)} test words, vocab {len(vocab)}, {steps} steps", flush=True)
    for epoch in range(args.epochs):
        order = torch.randperm(len(train), generator=gen)
        for i in range(0, len(train), batch):
            idx = order[i:i + batch]
            b_ids, b_mask = encode([train_words[j] for j in idx], ids)
            logits = logits_of(spec, w, head, torch.from_numpy(b_ids), torch.from_numpy(b_mask))
            loss = torch.nn.functional.cross_entropy(logits, train_labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 100 == 0:
                print(f"  step {step}/{steps}: loss {float(loss):.3f}", flush=True)
        acc = accuracy(spec, w, head, test_ids, test_mask, test_labels)
        print(f"  epoch {epoch + 1}: float test accuracy {acc:.4f}", flush=True)

    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    tensors = collections.OrderedDict()
    for k, v in w.items():
        tensors["bert." + k] = v.detach().to(torch.float32)
    tensors["classifier.weight"] = head[0].detach().to(torch.float32)
    tensors["classifier.bias"] = head[1].detach().to(torch.float32)
    mf.write_safetensors(os.path.join(out, "model.safetensors"), tensors, "F32")
    cfg = mf.config_json(spec)
    cfg["id2label"] = {str(i): l for i, l in enumerate(labels)}
    cfg["label2id"] = {l: i for i, l in enumerate(labels)}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "strip_accents": False, "model_max_length": MAX_POS}, f, indent=2)
    with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    with open(os.path.join(out, "test.tsv"), "w", encoding="utf-8") as f:
        f.writelines(f"{x}\t{labels[y]}\n" for x, y in test)
    np.save(os.path.join(out, "test_ids.npy"), test_ids)
    np.save(os.path.join(out, "test_labels.npy"), test_labels)
    # Calibration input for encore-convert (which takes unpadded [N, S] ids): 128 rows of
    # MAX_POS tokens, each [CLS] followed by training words (never test words) and [SEP]s, so
    # every position the model has is seen.
    rows, k = [], 0
    while len(rows) < 128:
        row = [ids["[CLS]"]]
        while len(row) < MAX_POS:
            row += wordpiece(train_words[k % len(train_words)], ids) + [ids["[SEP]"]]
            k += 1
        rows.append(row[:MAX_POS - 1] + [ids["[SEP]"]])
    np.save(os.path.join(out, "calib_ids.npy"), np.array(rows, dtype=np.int64))
    acc = accuracy(spec, {k: v.detach() for k, v in w.items()}, [h.detach() for h in head], test_ids, test_mask,
                   test_labels)
    print(f"train_langid: float32 test accuracy {acc:.4f} on {len(test)} words; written to {out}")


if __name__ == "__main__":
    main()
