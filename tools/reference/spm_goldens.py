#!/usr/bin/python3
"""Golden ids for unigram_xlmr.json from SentencePiece itself (Debian's python3-sentencepiece on
unigram.model), and the reconciliation of the JavaScript goldens of the same tokenizer.

Writes into OUT_DIR (tests/fixtures/text_tokenizer):
  goldens_spm_unigram.jsonl   {"text", "pair"?, "ids"}: SentencePiece's ids mapped to the XLM-R layout
                              (fairseq shift: spm id i >= 3 -> i + 1, unk 0 -> 3) with <s> ... </s>
                              (and </s> </s> ... </s> for pairs) around them
  excluded_spm_unigram.jsonl  strings left out, with the reason
and moves from goldens_unigram_xlmr.jsonl (JS) to excluded_unigram_xlmr.jsonl every string where
  - the JS port and SentencePiece disagree: the JS port replaces the precompiled charsmap with its own
    approximation (NFKC plus a few rules), so its output is not a golden there;
  - the Rust crate is known to differ from SentencePiece (below), whatever the JS port says.

Known Rust / SentencePiece difference (tokenizers/src/normalizers/precompiled.rs, spm_precompiled):
the Rust normalizer looks up a grapheme cluster as a whole only when it is shorter than 6 bytes and
otherwise char by char, where SentencePiece rewrites the longest matching sequence anywhere. So a
cluster of 6+ bytes that the charsmap would rewrite as a whole (decomposed Hangul syllables, kana with
a combining voiced mark, ...) normalizes differently. Encore follows the Rust crate.
Run with /usr/bin/python3 after text_tokenizer_goldens.js (make_text_tokenizer_goldens.sh).
"""
import json
import os
import sys
import unicodedata

import sentencepiece as spm

BOS, EOS = 0, 2


def clusters(text):
    """Grapheme-like clusters: a char with the combining marks, Hangul vowel / final jamo, ZWJ and
    variation selectors after it (enough to find the multi-char sequences the rule is about)."""
    out = []
    for ch in text:
        cp = ord(ch)
        joins = (unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Mc", "Me")
                 or 0x1160 <= cp <= 0x11FF or cp == 0x200D or 0xFE00 <= cp <= 0xFE0F)
        if out and joins:
            out[-1] += ch
        else:
            out.append(ch)
    return out


def rust_differs(text):
    for c in clusters(text):
        if len(c.encode("utf-8")) >= 6 and unicodedata.normalize("NFKC", c) != c:
            return True
    return False


ADDED = ["<s>", "</s>", "<unk>", "<pad>", "<mask>"]
ADDED_REASON = "holds an added token of the tokenizer.json; SentencePiece has no added tokens"


def has_added(text):
    return any(a in text for a in ADDED)


RUST_REASON = ("Rust spm_precompiled rewrites a grapheme cluster as a whole only when shorter than 6 bytes "
               "(else char by char); SentencePiece and the JS port rewrite the whole sequence")
JS_REASON = "the JS port approximates the precompiled charsmap; it disagrees with SentencePiece here"


def main():
    out = sys.argv[1]
    sp = spm.SentencePieceProcessor(model_file=os.path.join(out, "unigram.model"))
    shift = lambda ids: [3 if i == 0 else (i + 1 if i >= 3 else i) for i in ids]
    with open(os.path.join(out, "strings.json"), encoding="utf-8") as f:
        data = json.load(f)
    goldens, excluded, spm_ids = [], [], {}
    items = [(s, None) for s in data["strings"]] + [(a, b) for a, b in data["pairs"]]
    for text, pair in items:
        rec = {"text": text}
        if pair is not None:
            rec["pair"] = pair
        ids = [BOS] + shift(sp.encode(text)) + [EOS]
        if pair is not None:
            ids += [EOS] + shift(sp.encode(pair)) + [EOS]
        spm_ids[(text, pair)] = ids
        if rust_differs(text) or (pair is not None and rust_differs(pair)):
            excluded.append(dict(rec, reason=RUST_REASON))
            continue
        if has_added(text) or (pair is not None and has_added(pair)):
            excluded.append(dict(rec, reason=ADDED_REASON))
            continue
        goldens.append(dict(rec, ids=ids))
    with open(os.path.join(out, "goldens_spm_unigram.jsonl"), "w", encoding="utf-8") as f:
        f.writelines(json.dumps(g, ensure_ascii=False) + "\n" for g in goldens)
    with open(os.path.join(out, "excluded_spm_unigram.jsonl"), "w", encoding="utf-8") as f:
        f.writelines(json.dumps(e, ensure_ascii=False) + "\n" for e in excluded)
    print(f"spm_goldens: {len(goldens)} goldens, {len(excluded)} excluded", file=sys.stderr)

    # Reconcile the JS goldens of the same tokenizer.
    js_path = os.path.join(out, "goldens_unigram_xlmr.jsonl")
    ex_path = os.path.join(out, "excluded_unigram_xlmr.jsonl")
    with open(js_path, encoding="utf-8") as f:
        js = [json.loads(line) for line in f if line.strip()]
    with open(ex_path, encoding="utf-8") as f:
        js_excluded = [json.loads(line) for line in f if line.strip()]
    keep = []
    for g in js:
        key = (g["text"], g.get("pair"))
        rec = {"text": g["text"]}
        if "pair" in g:
            rec["pair"] = g["pair"]
        if rust_differs(g["text"]) or ("pair" in g and rust_differs(g["pair"])):
            js_excluded.append(dict(rec, reason=RUST_REASON))
        elif (key in spm_ids and spm_ids[key] != g["ids"] and not has_added(g["text"])
              and not ("pair" in g and has_added(g["pair"]))):
            js_excluded.append(dict(rec, reason=JS_REASON))
        else:
            keep.append(g)
    with open(js_path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(g, ensure_ascii=False, separators=(",", ":")) + "\n" for g in keep)
    with open(ex_path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(e, ensure_ascii=False) + "\n" for e in js_excluded)
    print(f"spm_goldens: unigram_xlmr JS goldens: {len(keep)} kept, {len(js_excluded)} excluded", file=sys.stderr)


if __name__ == "__main__":
    main()
