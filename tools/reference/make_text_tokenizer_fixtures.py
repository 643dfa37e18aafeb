#!/usr/bin/python3
"""Builds the tokenizer.json fixtures of the TextTokenizer tests (tests/fixtures/text_tokenizer/).

Everything is trained here from Debian's own text, so no checkpoint is downloaded:
  bpe_roberta.json     byte-level BPE (RoBERTa layout: ByteLevel pre-tokenizer, RobertaProcessing,
                       <mask> with lstrip), trained by the small BPE trainer below on the license
                       texts in /usr/share/common-licenses and words from wamerican; merges as "a b"
  bpe_template.json    the same vocabulary, ModernBERT / Llama-3 layout: NFC, Sequence[Split(GPT-2
                       regex), ByteLevel(use_regex=false)], Sequence[ByteLevel, TemplateProcessing];
                       merges as [a, b] pairs
  unigram.model        SentencePiece Unigram from Debian's spm_train (nmt_nfkc normalization)
  unigram_xlmr.json    that model converted as transformers' XLMRobertaConverter does: Unigram with the
                       fairseq id shift (<s> <pad> </s> <unk>, pieces from id 3 on shifted by one,
                       <mask> last), normalizer Sequence[Precompiled(charsmap from the .model), Strip
                       right, Replace(" {2,}" -> "▁")], Metaspace(prepend_scheme always),
                       TemplateProcessing <s> $A </s> / <s> $A </s> </s> $B </s>
  wordpiece_uncased.json / wordpiece_cased.json
                       BERT layout (BertNormalizer, BertPreTokenizer, WordPiece, BertProcessing) over
                       the vocabularies of the older WordPiece golden test (tests/fixtures/tokenizer)

Needs Debian's python3-sentencepiece, sentencepiece (spm_train) and wamerican
(tools/install-deps.sh --reference); run with /usr/bin/python3. Deterministic.
"""
import base64
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "text_tokenizer")
LICENSES = ["Apache-2.0", "Artistic", "BSD", "GPL-2", "GPL-3", "LGPL-2.1", "LGPL-3", "MPL-2.0", "GFDL-1.3", "CC0-1.0"]
# A little text in other scripts, so both models learn a few non-Latin pieces.
MULTILINGUAL = [
    "Le renard brun rapide saute par-dessus le chien paresseux. Crème brûlée, façade, naïve.",
    "Der schnelle braune Fuchs springt über den faulen Hund. Größe, Straße, Übermut.",
    "Быстрая коричневая лиса прыгает через ленивую собаку. Привет, мир!",
    "Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο. Καλημέρα κόσμε.",
    "敏捷的棕色狐狸跳过了懒狗。我爱北京天安门。東京は日本の首都です。",
    "빠른 갈색 여우가 게으른 개를 뛰어넘습니다. 한국어 문장입니다.",
    "El rápido zorro marrón salta sobre el perro perezoso. Mañana, niño, acción.",
]


def corpus_lines():
    lines = []
    for name in LICENSES:
        with open(os.path.join("/usr/share/common-licenses", name), encoding="utf-8") as f:
            lines.extend(line.strip() for line in f if line.strip())
    with open("/usr/share/dict/american-english", encoding="utf-8") as f:
        words = [w.strip() for w in f if w.strip()]
    words = words[::25]  # every 25th word: about 4,000
    for i in range(0, len(words), 12):
        lines.append(" ".join(words[i:i + 12]))
    lines.extend(MULTILINGUAL * 20)
    return lines


# ---- Byte-level BPE ---------------------------------------------------------------------------

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


# GPT-2's pre-tokenization, approximated with Python's re (letters = [^\W\d_]); only the training
# words come from it, the tokenizer itself uses the real regex.
PRE = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?[^\s\w]+|\s+(?!\S)|\s+")


def train_bpe(lines, num_merges):
    b2u = bytes_to_unicode()
    counts = collections.Counter()
    for line in lines:
        for w in PRE.findall(line):
            counts["".join(b2u[b] for b in w.encode("utf-8"))] += 1
    words = [list(w) for w in counts]
    freqs = [counts[w] for w in counts]
    pairs = collections.Counter()
    where = collections.defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pairs[(a, b)] += freqs[i]
            where[(a, b)].add(i)
    merges = []
    for _ in range(num_merges):
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        if pairs[best] < 2:
            break
        merges.append(best)
        a, b = best
        for i in list(where[best]):
            w = words[i]
            f = freqs[i]
            for x, y in zip(w, w[1:]):
                pairs[(x, y)] -= f
                if pairs[(x, y)] <= 0:
                    del pairs[(x, y)]
            out = []
            k = 0
            while k < len(w):
                if k + 1 < len(w) and w[k] == a and w[k + 1] == b:
                    out.append(a + b)
                    k += 2
                else:
                    out.append(w[k])
                    k += 1
            words[i] = out
            for x, y in zip(out, out[1:]):
                pairs[(x, y)] += f
                where[(x, y)].add(i)
        where.pop(best, None)
    vocab = {}
    for tok in ["<s>", "<pad>", "</s>", "<unk>"]:
        vocab[tok] = len(vocab)
    for b in range(256):
        vocab.setdefault(b2u[b], len(vocab))
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    vocab["<mask>"] = len(vocab)
    return vocab, merges


def added(content, i, lstrip=False, special=True, normalized=False):
    return {"id": i, "content": content, "single_word": False, "lstrip": lstrip, "rstrip": False,
            "normalized": normalized, "special": special}


def bpe_roberta(vocab, merges):
    specials = [added(t, vocab[t]) for t in ["<s>", "<pad>", "</s>", "<unk>"]]
    specials.append(added("<mask>", vocab["<mask>"], lstrip=True))
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": specials,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", vocab["</s>"]], "cls": ["<s>", vocab["<s>"]],
                           "trim_offsets": True, "add_prefix_space": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }


def bpe_template(vocab, merges):
    t = bpe_roberta(vocab, merges)
    t["normalizer"] = {"type": "NFC"}
    t["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"},
         "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
    t["post_processor"] = {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                    {"SpecialToken": {"id": "</s>", "type_id": 0}}],
         "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                  {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                  {"SpecialToken": {"id": "</s>", "type_id": 1}}],
         "special_tokens": {"<s>": {"id": "<s>", "ids": [vocab["<s>"]], "tokens": ["<s>"]},
                            "</s>": {"id": "</s>", "ids": [vocab["</s>"]], "tokens": ["</s>"]}}}]}
    t["model"]["merges"] = [[a, b] for a, b in merges]
    return t


# ---- SentencePiece Unigram --------------------------------------------------------------------

def train_unigram(lines, out_dir):
    # Relative paths inside a scratch directory: spm_train records them in the .model, which must not
    # depend on where the checkout is.
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "corpus.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        subprocess.run(["spm_train", "--input=corpus.txt", "--model_prefix=unigram", "--model_type=unigram",
                        "--vocab_size=2000", "--normalization_rule_name=nmt_nfkc", "--character_coverage=0.9995",
                        "--seed_sentencepiece_size=100000", "--num_threads=1", "--minloglevel=2"],
                       check=True, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.replace(os.path.join(tmp, "unigram.model"), os.path.join(out_dir, "unigram.model"))


def unigram_xlmr(model_path):
    from sentencepiece import sentencepiece_model_pb2 as pb
    m = pb.ModelProto()
    with open(model_path, "rb") as f:
        m.ParseFromString(f.read())
    pieces = [(p.piece, p.score) for p in m.pieces]
    # XLMRobertaConverter.vocab: fairseq's four specials, then the spm pieces from id 3 on, then <mask>.
    vocab = [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0]]
    vocab += [[p, s] for p, s in pieces[3:]]
    vocab += [["<mask>", 0.0]]
    mask = len(vocab) - 1
    charsmap = base64.b64encode(m.normalizer_spec.precompiled_charsmap).decode("ascii")
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added("<s>", 0), added("<pad>", 1), added("</s>", 2), added("<unk>", 3),
                         added("<mask>", mask, lstrip=True)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": charsmap},
            {"type": "Strip", "strip_left": False, "strip_right": True},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "▁"}]},
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                      {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}},
                                    {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]},
                                              "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}},
        "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
        "model": {"type": "Unigram", "unk_id": 3, "vocab": vocab, "byte_fallback": False},
    }


# ---- WordPiece (BERT) -------------------------------------------------------------------------

def wordpiece(lower):
    with open(os.path.join(ROOT, "tests", "fixtures", "tokenizer", f"vocab_{'uncased' if lower else 'cased'}.txt"),
              encoding="utf-8") as f:
        tokens = [line.rstrip("\n") for line in f]
    vocab = {t: i for i, t in enumerate(tokens)}
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(t, vocab[t]) for t in specials],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": lower},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", vocab["[SEP]"]], "cls": ["[CLS]", vocab["[CLS]"]]},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }


def components(vocab, merges):
    """Tokenizers that exercise the components the model layouts above do not: normalizers NFKD / NFC /
    NFKC, StripAccents, Lowercase, Strip, Replace (string and regex), Prepend; pre-tokenizers
    Whitespace, WhitespaceSplit, Punctuation, Digits, Split (string / regex, isolated / removed / inverted;
    the JS port implements no other behaviors, so the merged ones are tested by hand),
    Metaspace (prepend_scheme first, no split); TemplateProcessing with type ids."""
    uncased = wordpiece(True)
    cased = wordpiece(False)
    v_un, v_ca = uncased["model"]["vocab"], cased["model"]["vocab"]

    def template(v):
        return {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                           {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                         {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
                "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [v["[CLS]"]], "tokens": ["[CLS]"]},
                                   "[SEP]": {"id": "[SEP]", "ids": [v["[SEP]"]], "tokens": ["[SEP]"]}}}

    a = dict(uncased)
    a["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "NFKD"}, {"type": "StripAccents"}, {"type": "Lowercase"},
        {"type": "Strip", "strip_left": True, "strip_right": True},
        {"type": "Replace", "pattern": {"String": "  "}, "content": " "}]}
    a["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"}, {"type": "Punctuation", "behavior": "Contiguous"},
        {"type": "Digits", "individual_digits": True}]}
    a["post_processor"] = template(v_un)

    b = dict(cased)
    b["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "NFC"}, {"type": "Replace", "pattern": {"Regex": "[0-9]+"}, "content": "#"},
        {"type": "Prepend", "prepend": "x"}]}
    b["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Whitespace"}, {"type": "Digits", "individual_digits": False},
        {"type": "Split", "pattern": {"String": "e"}, "behavior": "Isolated", "invert": False},
        {"type": "Split", "pattern": {"Regex": "[aou]+"}, "behavior": "Removed", "invert": False}]}
    b["post_processor"] = template(v_ca)

    c = dict(cased)
    c["normalizer"] = {"type": "NFKC"}
    c["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Removed", "invert": False},
        {"type": "Split", "pattern": {"Regex": "[\\p{L}\\p{P}]+"}, "behavior": "Removed", "invert": True},
        {"type": "Punctuation", "behavior": "Contiguous"},
        {"type": "Split", "pattern": {"String": "."}, "behavior": "Isolated", "invert": False}]}

    d = bpe_roberta(vocab, merges)
    d["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "Lowercase"}]}
    d["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Metaspace", "replacement": "_", "prepend_scheme": "first", "split": False},
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}]}
    return {"components_a": a, "components_b": b, "components_c": c, "components_d": d}


def write(name, obj):
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    lines = corpus_lines()
    vocab, merges = train_bpe(lines, 1500)
    write("bpe_roberta.json", bpe_roberta(vocab, merges))
    write("bpe_template.json", bpe_template(vocab, merges))
    for name, obj in components(vocab, merges).items():
        write(f"{name}.json", obj)
    print(f"bpe: {len(vocab)} tokens, {len(merges)} merges", file=sys.stderr)
    train_unigram(lines, OUT)
    write("unigram_xlmr.json", unigram_xlmr(os.path.join(OUT, "unigram.model")))
    print("unigram: unigram.model, unigram_xlmr.json", file=sys.stderr)
    for lower in (True, False):
        write(f"wordpiece_{'uncased' if lower else 'cased'}.json", wordpiece(lower))


if __name__ == "__main__":
    main()
