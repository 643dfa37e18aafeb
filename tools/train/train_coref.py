#!/usr/bin/python3
"""Trains the model of README's "Why several heads?": a small BERT that tells which of two nouns
"it" refers to, in Winograd-style sentences generated from frames written here, with nouns and
adjectives checked against Debian's word list (wamerican; `tools/install-deps.sh --train`).

  nice /usr/bin/python3 tools/train/train_coref.py [--out tools/train/coref] [--seed 1] [--epochs 2]

"The animal didn't cross the street because it was too tired" -> first (the animal);
"... because it was too wide" -> second (the street).

Writes a Hugging Face directory (config.json as BertForSequenceClassification with labels
"first" / "second", model.safetensors, vocab.txt, tokenizer_config.json) and the held-out sets:
  test.tsv            text<TAB>label: held-out frames x held-out nouns x training adjectives
                      (its first line is the seed sentence above);
  test_attention.tsv  the same sentences as text<TAB>it<TAB>referent<TAB>other noun, for
                      encore-analyze --attention-probe;
  test_unseen_adj.tsv text<TAB>label: held-out frames and nouns with held-out adjectives;
  test_new_nouns.tsv  training frames and adjectives with held-out nouns, and
  test_new_frames.tsv held-out frames with training nouns and adjectives: one factor at a time;
  val.tsv, val_attention.tsv  2,000 sentences of the training frames, nouns and adjectives that
                      are not training sentences (what the model learned, measured apart from
                      how far it generalizes);
  test_ids.npy        test.tsv as this script's tokenizer encodes it, padded with [PAD];
  calib_ids.npy       128 rows of training sentences, for encore-convert --calib.

Data. Five relations, each with two noun roles and, per role, the adjectives that make "it" that
role ("too big": the thing that does not fit; "too small": the container). A frame places the two
roles in a sentence in some order; the label is the position ("first" / "second") of the noun the
adjective points to. Each frame appears with both kinds of adjective equally often, so neither
the frame nor the noun order gives the answer alone: the adjective has to be read against the
frame. Held out from training: 7 of the 33 frames, a fifth of each noun list (and always "animal"
and "street"), and 9 adjectives.

What the model can and cannot learn. The label is a position, so the model may find it from the
frame and the adjective without looking at the nouns; whether "it" attends to its referent is
what encore-analyze measures, not something the task forces. A model trained from nothing cannot
know what a held-out adjective means (it has never seen "enormous" next to an answer), so
test_unseen_adj.tsv measures that limit rather than generalization.

Tokens: a WordPiece vocabulary of the frames' words and the training adjectives as whole words,
plus characters and the most frequent 2-3 letter pieces of the training nouns; nouns are never
whole-word tokens, so a held-out noun is split into pieces just as the training nouns are.
Tokenization is BERT's (lowercase, split on whitespace and punctuation, greedy longest-match
WordPiece); the sentences are ASCII. tests/e2e checks that encore's tokenizer gives the same ids
for every test sentence (test_ids.npy).
"""
import argparse
import collections
import json
import math
import os
import random
import string
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import make_fixtures as mf  # noqa: E402  (plain-torch BERT, safetensors writer)

WORDLIST = "/usr/share/dict/american-english"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LABELS = ["first", "second"]
MAX_POS = 32
SEED_SENTENCE = "The animal didn't cross the street because it was too tired"

# Noun lists (hand-picked; every word must be in the Debian list).
NOUNS = {
    "animate": "animal dog cat horse cow sheep goat pig fox wolf bear deer rabbit mouse lion tiger donkey mule camel "
               "elephant child boy girl farmer soldier hiker runner puppy kitten chicken duck goose turtle".split(),
    "place": "street road river bridge field hill mountain valley forest desert lake stream canyon highway swamp "
             "meadow beach path trail creek glacier ridge pond cliff lane avenue marsh ditch".split(),
    "object": "trophy ball book box bottle chair table lamp guitar laptop pillow blanket statue painting vase mirror "
              "bicycle suitcase basket bag bucket drawer closet trunk crate envelope jar pot cup bowl cabinet shelf "
              "backpack carton sack barrel".split(),
    "tool": "knife saw axe scissors blade razor chisel sword shears".split(),
    "material": "rope wood log steak bread branch board cable wire plank stone cheese cardboard leather bone "
                "pipe".split(),
}
ALWAYS_HELD_OUT_NOUNS = {"animal", "street"}

# relation -> (role -> noun list, role -> adjectives that make "it" that role, frames).
# A frame names the roles in braces; "*" marks a frame held out of training.
RELATIONS = {
    "fit": ({"thing": "object", "container": "object"},
            {"thing": "big large huge bulky tall long enormous".split(),
             "container": "small tiny narrow short little cramped".split()},
            ["The {thing} didn't fit in the {container} because it was too {adj}",
             "The {thing} couldn't fit into the {container} because it was too {adj}",
             "The {container} couldn't hold the {thing} because it was too {adj}",
             "I couldn't put the {thing} in the {container} because it was too {adj}",
             "The {thing} would not go into the {container} because it was too {adj}",
             "We could not pack the {thing} into the {container} since it was too {adj}",
             "The {container} was no good for the {thing} because it was too {adj}",
             "*The {thing} did not fit into the {container} since it was too {adj}",
             "*The {container} could not hold the {thing} since it was too {adj}"]),
    "cross": ({"agent": "animate", "place": "place"},
              {"agent": "tired weak old scared sleepy lazy sick hungry frail".split(),
               "place": "wide busy steep icy deep dangerous crowded muddy rocky".split()},
              ["The {agent} didn't climb the {place} because it was too {adj}",
               "The {agent} refused to enter the {place} because it was too {adj}",
               "The {agent} could not walk through the {place} because it was too {adj}",
               "The {place} stopped the {agent} because it was too {adj}",
               "The {agent} turned back at the {place} because it was too {adj}",
               "The {agent} would not go into the {place} since it was too {adj}",
               "The {place} was no good for the {agent} because it was too {adj}",
               "*The {agent} didn't cross the {place} because it was too {adj}",
               "*The {place} stopped the {agent} since it was too {adj}"]),
    "cut": ({"tool": "tool", "material": "material"},
            {"tool": "dull blunt flimsy weak rusty".split(), "material": "hard tough thick strong dense".split()},
            ["The {tool} couldn't cut the {material} because it was too {adj}",
             "The {tool} did not cut through the {material} because it was too {adj}",
             "The {material} was not cut by the {tool} because it was too {adj}",
             "I could not cut the {material} with the {tool} because it was too {adj}",
             "*The {tool} couldn't cut through the {material} since it was too {adj}"]),
    "chase": ({"chaser": "animate", "chased": "animate"},
              {"chaser": "slow tired old lazy weak clumsy".split(), "chased": "fast quick clever small agile".split()},
              ["The {chaser} couldn't catch the {chased} because it was too {adj}",
               "The {chased} got away from the {chaser} because it was too {adj}",
               "The {chaser} lost the {chased} because it was too {adj}",
               "The {chased} was not caught by the {chaser} because it was too {adj}",
               "*The {chaser} did not catch the {chased} since it was too {adj}"]),
    "lift": ({"agent": "animate", "thing": "object"},
             {"agent": "weak tired old small little frail".split(), "thing": "heavy big bulky large huge massive".split()},
             ["The {agent} couldn't lift the {thing} because it was too {adj}",
              "The {thing} was not lifted by the {agent} because it was too {adj}",
              "The {agent} could not carry the {thing} because it was too {adj}",
              "The {thing} was no good for the {agent} because it was too {adj}",
              "*The {agent} did not lift the {thing} since it was too {adj}"]),
}
HELD_OUT_ADJECTIVES = {"enormous", "cramped", "frail", "rocky", "rusty", "dense", "clumsy", "agile", "massive"}
TRAIN_SENTENCES, VAL_SENTENCES, TEST_SENTENCES, UNSEEN_ADJ_SENTENCES = 40000, 2000, 2000, 1000


def check_word_list():
    if not os.path.exists(WORDLIST):
        sys.exit(f"train_coref: {WORDLIST} is missing: run tools/install-deps.sh --train")
    with open(WORDLIST, encoding="utf-8", errors="replace") as f:
        words = {line.strip() for line in f}
    used = {w for ws in NOUNS.values() for w in ws}
    used |= {a for _, adjs, _ in RELATIONS.values() for ws in adjs.values() for a in ws}
    missing = sorted(w for w in used if w not in words)
    if missing:
        sys.exit(f"train_coref: not in {WORDLIST}: {', '.join(missing)}")


def split_nouns(rng):
    train, held = {}, {}
    for cls, words in NOUNS.items():
        words = sorted(words)
        forced = [w for w in words if w in ALWAYS_HELD_OUT_NOUNS]
        rest = [w for w in words if w not in ALWAYS_HELD_OUT_NOUNS]
        rng.shuffle(rest)
        k = max(2, round(len(words) / 5)) - len(forced)
        held[cls] = sorted(forced + rest[:k])
        train[cls] = sorted(rest[k:])
    return train, held


def frames(held_out):
    """(relation, template) of the training or the held-out frames."""
    out = []
    for rel, (_, _, templates) in RELATIONS.items():
        for t in templates:
            if t.startswith("*") == held_out:
                out.append((rel, t.lstrip("*")))
    return out


def all_sentences(rel, template, nouns, adjective_ok, target):
    """Every sentence of `template` in which "it" is the role `target`, as
    (text, label index, referent, other noun)."""
    roles, adjs, _ = RELATIONS[rel]
    order = sorted(roles, key=lambda r: template.index("{" + r + "}"))
    other = next(r for r in order if r != target)
    out = []
    for a in nouns[roles[order[0]]]:
        for b in nouns[roles[order[1]]]:
            if a == b:
                continue
            picked = dict(zip(order, (a, b)))
            for adj in adjs[target]:
                if adjective_ok(adj):
                    out.append((template.format(adj=adj, **picked), order.index(target), picked[target], picked[other]))
    return out


def generate(rng, frame_list, nouns, adjective_ok, n, exclude=()):
    """n sentences drawn evenly from every (frame, role of "it") pool: one from each pool in
    turn while it lasts, so frames and labels stay balanced where the pools allow."""
    pools = []
    for rel, t in frame_list:
        for target in RELATIONS[rel][0]:
            pool = [s for s in all_sentences(rel, t, nouns, adjective_ok, target) if s[0] not in exclude]
            rng.shuffle(pool)
            pools.append(pool)
    out = []
    while len(out) < n and any(pools):
        for pool in pools:
            if pool and len(out) < n:
                out.append(pool.pop())
    rng.shuffle(out)
    return out


def basic_tokens(text):
    """BERT's BasicTokenizer on ASCII text: lowercase, split on whitespace and punctuation."""
    out = []
    for word in text.lower().split():
        cur = ""
        for ch in word:
            if ch in string.punctuation:
                if cur:
                    out.append(cur)
                out.append(ch)
                cur = ""
            else:
                cur += ch
        if cur:
            out.append(cur)
    return out


def build_vocab(train, train_nouns, size=800):
    noun_set = {w for ws in train_nouns.values() for w in ws}
    words = collections.Counter(t for text, *_ in train for t in basic_tokens(text))
    whole = sorted(w for w in words if w not in noun_set)
    chars = sorted({c for w in words for c in w} | set(string.ascii_lowercase))
    pieces = collections.Counter()
    for w in sorted(noun_set):
        for n in (2, 3):
            if len(w) > n:
                pieces[w[:n]] += 1
            for i in range(1, len(w) - n + 1):
                pieces["##" + w[i:i + n]] += 1
    vocab = SPECIALS + whole + [c for c in chars if c not in whole] + ["##" + c for c in chars]
    ranked = sorted(pieces.items(), key=lambda kv: (-kv[1], kv[0]))
    vocab += [p for p, _ in ranked if p not in vocab and p not in noun_set][:size - len(vocab)]
    return vocab


def wordpiece(word, ids):
    """BERT's greedy longest-match-first WordPiece on one lowercased word."""
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


def encode_one(text, ids):
    seq = [ids["[CLS]"]] + [p for t in basic_tokens(text) for p in wordpiece(t, ids)] + [ids["[SEP]"]]
    if len(seq) > MAX_POS:
        sys.exit(f"train_coref: {len(seq)} tokens > {MAX_POS}: {text}")
    return seq


def encode(texts, ids):
    seqs = [encode_one(t, ids) for t in texts]
    S = max(len(s) for s in seqs)
    arr = np.full((len(seqs), S), ids["[PAD]"], dtype=np.int64)
    mask = np.zeros((len(seqs), S), dtype=np.int64)
    for i, s in enumerate(seqs):
        arr[i, :len(s)] = s
        mask[i, :len(s)] = 1
    return arr, mask


def init_weights(spec, gen):
    """Hugging Face BERT's initialization (BertPreTrainedModel._init_weights in modeling_bert.py):
    linear and embedding weights normal(0, initializer_range = 0.02), biases 0, LayerNorm 1 / 0.
    (make_fixtures.make_weights draws weights shaped like a trained model's, with peaked
    attention and outlier channels; trained from those, this model stayed at chance.)"""
    w = {}
    for k, v in mf.make_weights(spec, gen).items():
        if "LayerNorm" in k:
            w[k] = torch.ones_like(v) if k.endswith("weight") else torch.zeros_like(v)
        elif k.endswith("bias"):
            w[k] = torch.zeros_like(v)
        else:
            w[k] = torch.randn(v.shape, generator=gen) * 0.02
    return w


def logits_of(spec, w, head, ids, mask):
    _, pooled = mf.bert_forward(spec, w, ids, mask, torch.zeros_like(ids), dtype=torch.float32)
    return pooled @ head[0].T + head[1]


def accuracy(spec, w, head, data, ids):
    arr, mask = encode([t for t, *_ in data], ids)
    labels = np.array([y for _, y, *_ in data])
    correct = 0
    with torch.no_grad():
        for i in range(0, len(arr), 500):
            logits = logits_of(spec, w, head, torch.from_numpy(arr[i:i + 500]), torch.from_numpy(mask[i:i + 500]))
            correct += int((logits.argmax(-1).numpy() == labels[i:i + 500]).sum())
    return correct / len(data)


def write_tsv(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.writelines("\t".join(r) + "\n" for r in rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "coref"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: on a shared 2-core machine a second OpenMP thread made steps slower)")
    ap.add_argument("--sets-only", action="store_true",
                    help="write the evaluation sets (and test_ids.npy) without training: they depend on the seed only")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    check_word_list()
    rng = random.Random(args.seed)
    train_nouns, held_nouns = split_nouns(rng)
    seen_adj = lambda a: a not in HELD_OUT_ADJECTIVES  # noqa: E731
    train = generate(rng, frames(False), train_nouns, seen_adj, TRAIN_SENTENCES)
    val = generate(rng, frames(False), train_nouns, seen_adj, VAL_SENTENCES, exclude={t for t, *_ in train})
    seed = ("The animal didn't cross the street because it was too tired", 0, "animal", "street")
    assert seed[0] == SEED_SENTENCE
    test = [seed] + generate(rng, frames(True), held_nouns, seen_adj, TEST_SENTENCES - 1, exclude={seed[0]})
    unseen_adj = generate(rng, frames(True), held_nouns, lambda a: a in HELD_OUT_ADJECTIVES, UNSEEN_ADJ_SENTENCES)
    # One held-out factor at a time (drawn last, so the sets above do not depend on them).
    new_nouns = generate(rng, frames(False), held_nouns, seen_adj, TEST_SENTENCES)
    new_frames = generate(rng, frames(True), train_nouns, seen_adj, TEST_SENTENCES)
    train_words = {t for text, *_ in train for t in basic_tokens(text)}
    assert not train_words & {w for ws in held_nouns.values() for w in ws}
    assert not train_words & HELD_OUT_ADJECTIVES

    vocab = build_vocab(train, train_nouns)
    ids = {t: i for i, t in enumerate(vocab)}
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    write_tsv(os.path.join(out, "test.tsv"), [(t, LABELS[y]) for t, y, _, _ in test])
    write_tsv(os.path.join(out, "test_attention.tsv"), [(t, "it", r, o) for t, _, r, o in test])
    write_tsv(os.path.join(out, "test_unseen_adj.tsv"), [(t, LABELS[y]) for t, y, _, _ in unseen_adj])
    write_tsv(os.path.join(out, "val.tsv"), [(t, LABELS[y]) for t, y, _, _ in val])
    write_tsv(os.path.join(out, "val_attention.tsv"), [(t, "it", r, o) for t, _, r, o in val])
    write_tsv(os.path.join(out, "test_new_nouns.tsv"), [(t, LABELS[y]) for t, y, _, _ in new_nouns])
    write_tsv(os.path.join(out, "test_new_frames.tsv"), [(t, LABELS[y]) for t, y, _, _ in new_frames])
    np.save(os.path.join(out, "test_ids.npy"), encode([t for t, *_ in test], ids)[0])
    if args.sets_only:
        print(f"train_coref: evaluation sets written to {out} (no training)")
        return
    spec = dict(hidden=64, heads=4, layers=4, ffn=128, vocab=len(vocab), max_pos=MAX_POS, act="gelu", eps=1e-12,
                dtype="F32", arch="BertForSequenceClassification", pooler=True, labels=len(LABELS))
    gen = torch.Generator().manual_seed(args.seed)
    w = {k: v.to(torch.float32).requires_grad_(True) for k, v in init_weights(spec, gen).items()}
    head = [(torch.randn(len(LABELS), spec["hidden"], generator=gen) * 0.02).requires_grad_(True),
            torch.zeros(len(LABELS), requires_grad=True)]
    params = list(w.values()) + head
    train_labels = torch.tensor([y for _, y, *_ in train])
    batch = 64
    steps = args.epochs * math.ceil(len(train) / batch)
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=steps, pct_start=0.1)
    print(f"train_coref: {len(train)} training sentences from {len(frames(False))} frames, "
          f"{sum(map(len, train_nouns.values()))} nouns; test {len(test)} from {len(frames(True))} held-out frames, "
          f"{sum(map(len, held_nouns.values()))} held-out nouns; vocab {len(vocab)}; {steps} steps", flush=True)
    step = 0
    for epoch in range(args.epochs):
        order = torch.randperm(len(train), generator=gen)
        for i in range(0, len(train), batch):
            idx = order[i:i + batch]
            b_ids, b_mask = encode([train[j][0] for j in idx], ids)
            logits = logits_of(spec, w, head, torch.from_numpy(b_ids), torch.from_numpy(b_mask))
            loss = torch.nn.functional.cross_entropy(logits, train_labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 100 == 0:
                print(f"  step {step}/{steps}: loss {float(loss):.3f}", flush=True)
        wd = {k: v.detach() for k, v in w.items()}
        hd = [h.detach() for h in head]
        print(f"  epoch {epoch + 1}: float accuracy: validation (training frames and nouns) "
              f"{accuracy(spec, wd, hd, val, ids):.4f}, held-out {accuracy(spec, wd, hd, test, ids):.4f}", flush=True)

    tensors = collections.OrderedDict()
    for k, v in w.items():
        tensors["bert." + k] = v.detach().to(torch.float32)
    tensors["classifier.weight"] = head[0].detach().to(torch.float32)
    tensors["classifier.bias"] = head[1].detach().to(torch.float32)
    mf.write_safetensors(os.path.join(out, "model.safetensors"), tensors, "F32")
    cfg = mf.config_json(spec)
    cfg["id2label"] = {str(i): l for i, l in enumerate(LABELS)}
    cfg["label2id"] = {l: i for i, l in enumerate(LABELS)}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "model_max_length": MAX_POS}, f, indent=2)
    with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    # Calibration input for encore-convert (unpadded [N, S] ids): 128 rows of MAX_POS tokens,
    # [CLS] then training sentences (never test ones) separated by [SEP], so every position is seen.
    rows, k = [], 0
    while len(rows) < 128:
        row = [ids["[CLS]"]]
        while len(row) < MAX_POS:
            row += encode_one(train[k % len(train)][0], ids)[1:]
            k += 1
        rows.append(row[:MAX_POS - 1] + [ids["[SEP]"]])
    np.save(os.path.join(out, "calib_ids.npy"), np.array(rows, dtype=np.int64))
    wd = {k: v.detach() for k, v in w.items()}
    hd = [h.detach() for h in head]
    print(f"train_coref: float32 accuracy: held-out {accuracy(spec, wd, hd, test, ids):.4f} on {len(test)} sentences, "
          f"unseen adjectives {accuracy(spec, wd, hd, unseen_adj, ids):.4f} on {len(unseen_adj)}, "
          f"new nouns only {accuracy(spec, wd, hd, new_nouns, ids):.4f}, new frames only "
          f"{accuracy(spec, wd, hd, new_frames, ids):.4f}, "
          f"validation {accuracy(spec, wd, hd, val, ids):.4f} on {len(val)}; written to {out}")


if __name__ == "__main__":
    main()
