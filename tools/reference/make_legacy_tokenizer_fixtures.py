#!/usr/bin/python3
"""Writes the legacy (pre-tokenizer.json) RoBERTa tokenizer files of the converter's tokenizer test
(tests/convert/tokenizer_files_test.cc) into tests/fixtures/text_tokenizer/legacy_roberta/:
  vocab.json, merges.txt   the vocabulary and merges of bpe_roberta.json, as RobertaTokenizer saves
                           them (merges.txt starts with a "#version" line, one "a b" merge a line)
  special_tokens_map.json  as roberta-base's: plain strings, <mask> as an AddedToken with lstrip
  tokenizer_config.json    tokenizer_class RobertaTokenizer, add_prefix_space false, model_max_length
The test converts these files back into a tokenizer.json and checks it against the goldens of
bpe_roberta.json (made by the JS tokenizers from that file, not by the code under test).
Run with /usr/bin/python3 after make_text_tokenizer_fixtures.py. Deterministic.
"""
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "tests", "fixtures", "text_tokenizer")


def main():
    with open(os.path.join(FIX, "bpe_roberta.json"), encoding="utf-8") as f:
        t = json.load(f)
    out = os.path.join(FIX, "legacy_roberta")
    os.makedirs(out, exist_ok=True)
    vocab = t["model"]["vocab"]
    with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for m in t["model"]["merges"]:
            f.write((m if isinstance(m, str) else " ".join(m)) + "\n")
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                "pad_token": "<pad>", "cls_token": "<s>",
                "mask_token": {"content": "<mask>", "single_word": False, "lstrip": True, "rstrip": False,
                               "normalized": False}}
    with open(os.path.join(out, "special_tokens_map.json"), "w", encoding="utf-8") as f:
        json.dump(specials, f, indent=2)
    config = {"tokenizer_class": "RobertaTokenizer", "add_prefix_space": False, "trim_offsets": True,
              "errors": "replace", "model_max_length": 512}
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)


if __name__ == "__main__":
    main()
