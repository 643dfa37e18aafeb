#!/usr/bin/python3
"""Goldens for the text mode of the per-token heads: what Hugging Face's pipelines return for the
heads_bert_{token,qa,mlm}, heads_distilbert_qa and heads_roberta_qa fixtures (tools/reference/heads.py) given a small WordPiece vocab.txt.

Everything here is written from the pipelines' and tokenizers' code, independently of encore:
  - tokenization: BertTokenizer's basic tokenizer (lowercase, accents stripped, split on
    whitespace and punctuation) + WordPiece (greedy longest match, "##" continuations, a word
    with no match -> [UNK]), with offsets in characters of the Python str, as the fast
    tokenizer reports them; [CLS] A [SEP] (B [SEP]) with token types 0 / 1;
  - the model: families.forward + heads.head_forward in float64 on the stored checkpoint;
  - token classification: TokenClassificationPipeline, aggregation_strategy="simple"
    (transformers/pipelines/token_classification.py: softmax, argmax per token, special tokens
    skipped, group_entities / get_tag, entity groups "O" dropped); "word" is the text of the
    group's character span (the pipeline decodes its tokens instead, which lowercases here);
  - question answering: QuestionAnsweringPipeline (question_answering.py) with the fast
    tokenizer's windows: truncation="only_second", max_length=max_seq_len, stride=doc_stride,
    return_overflowing_tokens (tokenizers/src/utils/truncation.rs truncate_encodings and
    Encoding::truncate: the context cut into pieces of max_len = max_seq_len - 3 - len(question)
    tokens starting every max_len - stride tokens, up to the piece that reaches its end, each
    post-processed as its own pair); p_mask 0 on context tokens and [CLS]; logits outside them
    -10000, softmax, min_null_score, [CLS] zeroed, decode (np.tril(np.triu(outer), max_answer_len
    - 1), top_k by flat index), spans kept when both ends are context tokens; answers of all
    windows sorted by score, top_k. With align_to_words (the default) a span covers the whole
    words of its first and last token (word_to_chars of token_to_word, the words being the
    pre-tokenizer's splits, within the window), else its tokens' offsets;
  - fill-mask: FillMaskPipeline (fill_mask.py): softmax over the vocabulary at each [MASK],
    topk.

  /usr/bin/python3 tools/reference/text_heads.py           # write tests/fixtures/heads_text/
  /usr/bin/python3 tools/reference/text_heads.py --check   # recompute and compare with the stored goldens
"""
import argparse
import json
import os
import sys
import unicodedata

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import families as fa  # noqa: E402
import heads as hd  # noqa: E402
import make_fixtures as mf  # noqa: E402

OUT = os.path.join(mf.FIXTURES, "heads_text")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
WORDS = ("the a an is in of and to was at on for with by from who where what when which city capital country "
         "river john smith mary jones paris london berlin rome france germany italy lives lived works worked "
         "born went visited near north south big small old new zoe cafe . , ? ! ' - "
         "##s ##ed ##ing ##er ##ly ##e ##a ##o ##i ##n ##t ##r ##l ##on ##an ##en ##in").split()


def vocab(specials=SPECIALS):
    v = list(specials) + WORDS
    letters = "bcdfghjklmnpqrstvwxz"
    i = 0
    while len(v) < 160:  # filler syllables, so the vocabulary is exactly the model's 160 rows
        w = letters[i % 20] + "aeiou"[(i // 20) % 5] + letters[(i // 100) % 20]
        if w not in v:
            v.append(w)
        i += 1
    return v


# ---------------------------------------------------------------------------- tokenizer
def is_punct(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def normalize_char(c):
    """BertNormalizer on one character: lowercase, then NFD with the combining marks dropped."""
    return "".join(x for x in unicodedata.normalize("NFD", c.lower()) if unicodedata.category(x) != "Mn")


def words_of(text):
    """Basic tokenizer: (normalized word, start char, end char) per word or punctuation mark."""
    out, cur, start = [], "", None
    for i, c in enumerate(text):
        if c.isspace() or is_punct(c):
            if cur:
                out.append((cur, start, i))
            cur, start = "", None
            if is_punct(c):
                out.append((normalize_char(c), i, i + 1))
            continue
        n = normalize_char(c)
        if n:
            if start is None:
                start = i
            cur += n
    if cur:
        out.append((cur, start, len(text)))
    return out


def wordpiece(text, ids, words=None, unk="[UNK]"):
    """(token ids, char offsets) of one text without special tokens; with `words` (a list), each
    token's word index (the pre-tokenizer's split it came from) is appended to it. Each test word
    is ASCII after normalization or maps one character to one, so piece offsets are exact."""
    toks, offs = [], []
    for wi, (word, s, e) in enumerate(words_of(text)):
        n_before = len(toks)
        pieces, pos, ok = [], 0, True
        while pos < len(word):
            end = len(word)
            while end > pos:
                sub = ("##" if pos else "") + word[pos:end]
                if sub in ids:
                    break
                end -= 1
            if end == pos:
                ok = False
                break
            pieces.append((ids[("##" if pos else "") + word[pos:end]], pos, end))
            pos = end
        if not ok:
            toks.append(ids[unk])
            offs.append((s, e))
        else:
            assert e - s == len(word), f"test word {text[s:e]!r} changes length when normalized"
            for tid, a, b in pieces:
                toks.append(tid)
                offs.append((s + a, s + b))
        if words is not None:
            words += [wi] * (len(toks) - n_before)
    return toks, offs


# ---------------------------------------------------------------------------- model
def load(name):
    d = os.path.join(mf.FIXTURES, name)
    family, head = hd.fixtures()[name]
    spec = hd.spec_for(family, head)
    w = mf.read_safetensors(os.path.join(d, "model.safetensors"))
    return spec, head, w


def run(model, ids, types):
    spec, head, w = model
    ids_t = torch.tensor([ids])
    mask = torch.ones_like(ids_t)
    with torch.no_grad():
        hidden, _, _ = fa.forward(spec, w, ids_t, mask, torch.tensor([types]))
        return hd.head_forward(spec, head, w, hidden)[0].numpy()  # [S, W] float64


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------------------- pipelines
def get_tag(label):
    if label.startswith("B-"):
        return "B", label[2:]
    if label.startswith("I-"):
        return "I", label[2:]
    return "I", label


def token_classification(model, ids, text):
    toks, offs = wordpiece(text, ids)
    seq = [ids["[CLS]"]] + toks + [ids["[SEP]"]]
    logits = run(model, seq, [0] * len(seq))
    probs = softmax(logits)
    labels = hd.NER_LABELS
    pre = []
    for t in range(1, len(seq) - 1):  # special tokens skipped (special_tokens_mask)
        k = int(np.argmax(probs[t]))
        top2 = np.sort(probs[t])[-2:]
        pre.append(dict(entity=labels[k], score=float(probs[t][k]), start=offs[t - 1][0], end=offs[t - 1][1],
                        margin=float(top2[1] - top2[0])))
    groups, cur = [], []

    def close():
        if cur:
            groups.append(dict(entity_group=cur[0]["entity"].split("-", 1)[-1],
                               score=float(np.mean([e["score"] for e in cur])), word=text[cur[0]["start"]:cur[-1]["end"]],
                               start=cur[0]["start"], end=cur[-1]["end"]))

    for e in pre:
        if cur:
            bi, tag = get_tag(e["entity"])
            last_bi, last_tag = get_tag(cur[-1]["entity"])
            if not (tag == last_tag and bi != "B"):
                close()
                cur = []
        cur.append(e)
    close()
    entities = [g for g in groups if g["entity_group"] != "O"]
    return dict(text=text, entities=entities, token_labels=[e["entity"] for e in pre],
                min_margin=min(e["margin"] for e in pre))


def qa_windows(q_len, c_len, max_seq_len, stride, specials=3):
    """Context token ranges of each window (truncate_encodings only_second + Encoding::truncate)."""
    room = max_seq_len - specials  # [CLS] q [SEP] c [SEP], or <s> q </s></s> c </s>
    if q_len + c_len <= room:
        return [(0, c_len)]
    max_len = room - q_len
    if max_len <= 0:
        raise ValueError("question too long")
    if stride >= max_len:
        raise ValueError("stride >= window")
    ranges, start = [], 0
    while True:
        stop = min(start + max_len, c_len)
        ranges.append((start, stop))
        if stop == c_len:
            return ranges
        start += max_len - stride


def decode(start, end, topk, max_answer_len, undesired):
    outer = np.matmul(start[:, None], end[None, :])
    candidates = np.tril(np.triu(outer), max_answer_len - 1)
    flat = candidates.flatten()
    # the pipeline's argmax / argpartition + argsort: the same top k, ties by flat index here
    order = sorted(range(len(flat)), key=lambda i: (-flat[i], i))[:topk]
    n = candidates.shape[0]
    out = []
    for i in order:
        s, e = divmod(i, n)
        if undesired[s] and undesired[e]:
            out.append((s, e, float(candidates[s, e])))
    return out


def question_answering(model, ids, question, context, top_k=1, max_answer_len=15, max_seq_len=None, doc_stride=None,
                       handle_impossible_answer=False, align_to_words=True, roberta=False):
    """roberta: RobertaProcessing's <s> q </s></s> c </s>, token types all 0; else BERT's template."""
    if max_seq_len is None:
        max_seq_len = min(16, 384)  # the fixture's positions; the pipeline's min(model_max_length, 384)
    if doc_stride is None:
        doc_stride = min(max_seq_len // 2, 128)
    unk = "<unk>" if roberta else "[UNK]"
    cls, sep = (ids["<s>"], ids["</s>"]) if roberta else (ids["[CLS]"], ids["[SEP]"])
    q, _ = wordpiece(question, ids, unk=unk)
    c_words = []
    c, c_offs = wordpiece(context, ids, c_words, unk=unk)
    answers, min_null = [], 1000000.0
    windows = qa_windows(len(q), len(c), max_seq_len, doc_stride, 4 if roberta else 3)
    for wi, (a, b) in enumerate(windows):
        middle = [sep, sep] if roberta else [sep]
        seq = [cls] + q + middle + c[a:b] + [sep]
        ctx0 = 1 + len(q) + len(middle)
        types = [0] * len(seq) if roberta else [0] * ctx0 + [1] * (b - a + 1)
        logits = run(model, seq, types)
        allowed = np.zeros(len(seq), dtype=np.int64)
        allowed[ctx0:ctx0 + b - a] = 1
        allowed[0] = 1  # p_mask[cls] = 0
        start = np.where(allowed == 0, -10000.0, logits[:, 0])
        end = np.where(allowed == 0, -10000.0, logits[:, 1])
        start, end = softmax(start), softmax(end)
        if handle_impossible_answer:
            min_null = min(min_null, float(start[0] * end[0]))
        start[0] = end[0] = 0.0
        for s, e, score in decode(start, end, top_k, max_answer_len, allowed):
            cs, ce = c_offs[a + s - ctx0][0], c_offs[a + e - ctx0][1]
            if align_to_words:
                # enc.word_to_chars(enc.token_to_word(s), sequence_index=1): the span of the word's
                # tokens within this window (its first token's start, its last token's end)
                in_window = range(a, b)
                ws = [t for t in in_window if c_words[t] == c_words[a + s - ctx0]]
                we = [t for t in in_window if c_words[t] == c_words[a + e - ctx0]]
                cs, ce = c_offs[ws[0]][0], c_offs[we[-1]][1]
            answers.append(dict(score=score, start=cs, end=ce, answer=context[cs:ce], window=wi))
    if handle_impossible_answer:
        answers.append(dict(score=min_null, start=0, end=0, answer="", window=-1))
    answers = sorted(answers, key=lambda x: x["score"], reverse=True)[:top_k]
    return dict(question=question, context=context, top_k=top_k, max_answer_len=max_answer_len,
                doc_stride=doc_stride, align_to_words=align_to_words, handle_impossible_answer=handle_impossible_answer,
                windows=len(windows), answers=answers)


def fill_mask(model, ids, text, top_k=5):
    # [MASK] is an added special token: split the text around it, as the tokenizer's added-token
    # pass does, and tokenize the pieces between.
    seq = [ids["[CLS]"]]
    pieces = text.split("[MASK]")
    for i, p in enumerate(pieces):
        seq += wordpiece(p, ids)[0]
        if i + 1 < len(pieces):
            seq.append(ids["[MASK]"])
    seq.append(ids["[SEP]"])
    logits = run(model, seq, [0] * len(seq))
    inv = {v: k for k, v in ids.items()}
    masks = []
    for t, tid in enumerate(seq):
        if tid != ids["[MASK]"]:
            continue
        p = softmax(logits[t])
        order = sorted(range(len(p)), key=lambda i: (-p[i], i))[:top_k]
        masks.append(dict(position=t, predictions=[dict(token_id=i, token=inv[i], score=float(p[i])) for i in order]))
    return dict(text=text, top_k=top_k, masks=masks)


CASES = {
    "token": ["john smith lives in paris.", "Mary Jones visited Berlin and London", "Zoé works at the café near Rome!",
              "who was born in the north?"],
    "qa": [dict(question="who?", context="john smith lives in paris with mary."),
           dict(question="where?", context="Zoé was born in Rome and lived in Paris, then Berlin, near the river."),
           dict(question="where?", context="Zoé was born in Rome and lived in Paris, then Berlin, near the river.",
                top_k=3, doc_stride=3),
           dict(question="who works in the city?", context="the old cafe is small, john works in the big city now.",
                top_k=2, max_answer_len=3, doc_stride=2),
           # words of several pieces (london ##er ##s): answers widened to whole words, and not
           dict(question="who?", context="londoners visited rivers, smiths worked nearly", top_k=6),
           dict(question="who?", context="londoners visited rivers, smiths worked nearly", top_k=6,
                align_to_words=False),
           # the empty answer competes, scored by the smallest [CLS] start x end over the windows
           dict(question="who?", context="john smith", top_k=3, handle_impossible_answer=True)],
    "mlm": [dict(text="john [MASK] in paris."), dict(text="the [MASK] of france is [MASK].", top_k=3)],
}


def roberta_tokenizer_json(v):
    """A tokenizer.json: BertNormalizer + BertPreTokenizer + WordPiece over `v` (what wordpiece()
    does), with RobertaProcessing (trim_offsets off: WordPiece offsets hold no spaces)."""
    added = [dict(id=i, content=t, single_word=False, lstrip=False, rstrip=False, normalized=False, special=True)
             for i, t in enumerate(ROBERTA_SPECIALS)]
    return dict(version="1.0", truncation=None, padding=None, added_tokens=added,
                normalizer=dict(type="BertNormalizer", clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                lowercase=True),
                pre_tokenizer=dict(type="BertPreTokenizer"),
                post_processor=dict(type="RobertaProcessing", sep=["</s>", 2], cls=["<s>", 0], trim_offsets=False,
                                    add_prefix_space=False),
                decoder=None,
                model=dict(type="WordPiece", unk_token="<unk>", continuing_subword_prefix="##",
                           max_input_chars_per_word=100, vocab={t: i for i, t in enumerate(v)}))


def goldens():
    v = vocab()
    ids = {t: i for i, t in enumerate(v)}
    out = dict(vocab_size=len(v), token=[], qa=[], qa_distilbert=[], qa_roberta=[], mlm=[])
    model = load("heads_bert_token")
    out["token"] = [token_classification(model, ids, t) for t in CASES["token"]]
    model = load("heads_bert_qa")
    out["qa"] = [question_answering(model, ids, **c) for c in CASES["qa"]]
    # DistilBERT: no token types (its inputs have none), the same pipeline.
    model = load("heads_distilbert_qa")
    out["qa_distilbert"] = [question_answering(model, ids, **CASES["qa"][i]) for i in (1, 4)]
    # RoBERTa: its template (two separators between the segments, no token types) from a
    # tokenizer.json over the same words, with RoBERTa's special tokens (<pad> at pad_token_id 1).
    rv = vocab(ROBERTA_SPECIALS)
    rids = {t: i for i, t in enumerate(rv)}
    model = load("heads_roberta_qa")
    out["qa_roberta"] = [question_answering(model, rids, roberta=True, **CASES["qa"][i]) for i in (1, 4)]
    model = load("heads_bert_mlm")
    out["mlm"] = [fill_mask(model, ids, **c) for c in CASES["mlm"]]
    return v, roberta_tokenizer_json(rv), out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    v, roberta_tok, out = goldens()
    text = json.dumps(out, indent=1, ensure_ascii=False) + "\n"
    if args.check:
        with open(os.path.join(OUT, "goldens.json"), encoding="utf-8") as f:
            same = f.read() == text
        print("OK" if same else "FAILED: goldens differ from the stored ones")
        return 0 if same else 1
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(v) + "\n")
    with open(os.path.join(OUT, "goldens.json"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(OUT, "roberta_tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(roberta_tok, indent=1, ensure_ascii=False) + "\n")
    for t in out["token"]:
        print(f"token: {t['text']!r}: {[(e['entity_group'], e['word']) for e in t['entities']]}, "
              f"min top-2 margin {t['min_margin']:.3f}")
    for a in out["qa"] + out["qa_distilbert"] + out["qa_roberta"]:
        print(f"qa: {a['windows']} windows: {[(x['answer'], round(x['score'], 4)) for x in a['answers']]}")
    for m in out["mlm"]:
        print(f"mlm: {m['text']!r}: {[[p['token'] for p in k['predictions']] for k in m['masks']]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
