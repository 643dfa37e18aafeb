#!/usr/bin/env node
// Golden token ids for encore's WordPiece tokenizer, from an independent implementation:
// @huggingface/tokenizers (the tokenizer of Transformers.js), run offline on a tokenizer.json
// built here. Writes, into OUT_DIR (tests/fixtures/tokenizer):
//   vocab_uncased.txt, vocab_cased.txt   vocabularies (one token per line, id = line number)
//   goldens.jsonl                        {"lower": bool, "text": str, "ids": [..]} per line
// Run through tools/reference/make_tokenizer_goldens.sh (installs the pinned npm package).
//
// The vocabularies are derived from the test strings so that WordPiece has real choices to
// make: two-character word starts, "##" continuations, some whole words, and every character
// except a deterministic few (which must then come out as [UNK]).
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('@huggingface/tokenizers');

const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

// Strings: several scripts and the cases each normalisation rule handles. Supplementary-plane
// CJK ideographs and unassigned code points are left out: the JavaScript port iterates UTF-16
// units for CJK spacing and keeps unassigned characters, where BertTokenizer and the Rust
// tokenizers (and encore) work on code points and drop them.
const BASE = [
  '', ' ', '\t\n', 'hello', 'Hello, World!', 'The quick brown fox jumps over the lazy dog.',
  "Don't stop-believing: it's 3:45pm (GMT+1)!", 'unaffable', 'UNAFFABLE Unaffable', 'running runner runs',
  'e-mail: someone@example.com', 'https://example.org/a/b?c=d&e=f#g', 'C++ and C# are languages; so is F*.',
  '1,234.56 or 1.234,56? 100% sure... $5 & €3 & £2 & ¥1', '3.14159265358979323846', '0x7FFF_FFFF',
  'Café au lait, crème brûlée, naïve façade', 'Schmetterling Größe Straße Übermut', 'ÀÉÎÕÜ àéîõü Çç Ññ',
  'Cafe\u0301 (decomposed accent)', 'Ångström Øresund Æble', 'Łódź Kraków Gdańsk Wrocław', 'İstanbul ılık ığdır',
  'ΟΔΟΣ Οδός Σοφία ΣΟΦΙΑ σοφός', 'Ελληνικά: Καλημέρα κόσμε', 'Привет, мир! Ёжик в тумане.', 'ПРИВЕТ МИР',
  '这只动物没有过马路，因为它太累了', '我爱北京天安门。', '東京は日本の首都です', 'ひらがな カタカナ 漢字',
  '한국어 문장입니다.', 'mixed: English 中文 Ελληνικά Русский עברית العربية', 'שלום עולם', 'مرحبا بالعالم',
  'हिन्दी भाषा', 'ภาษาไทย', 'emoji 🙂 😀👍🏽 family 👨‍👩‍👧 flags 🇫🇷', 'tabs\tand\nnewlines\r\nand  double  spaces',
  'non\u00a0breaking\u2003em\u3000ideographic space', 'line\u2028separator\u2029paragraph',
  'zero\u200bwidth\u200djoiner\u200c', 'soft\u00adhyphen', 'control\u0001\u0002\u001fchars\u007f\u0085',
  'replacement \ufffd char', 'bom\ufeffinside', 'private \ue000 use', 'a' + 'b'.repeat(99), 'x'.repeat(100),
  'y'.repeat(101), 'supercalifragilisticexpialidocious', 'pneumonoultramicroscopicsilicovolcanoconiosis',
  'antidisestablishmentarianism', '«guillemets» „Anführungszeichen“ ‚einfach‘ “curly” ‘quotes’',
  'dashes – — ‒ ― and ellipsis …', 'brackets [x] {y} <z> (w)', 'math ± × ÷ ≤ ≥ ≠ ∞ ∑ √',
  'Mr. Smith Jr. vs. Dr. Who', 'U.S.A. e.g. i.e. etc.', 'naïve coöperate résumé', 'ﬁ ﬂ ligatures ﬀ',
  'Ⅻ ① ¼ ½ ² ³', 'ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３', 'ǅ ǈ ǋ titlecase', 'İ', 'Σ', 'ΑΣ', 'Σ.', 'ΑΣ.Σ',
  'word123word 123abc abc123', 'snake_case camelCase PascalCase kebab-case', '#hashtag @mention',
  '"quoted" \'single\'', 'the end.', 'END', 'a b c d e f g h i j k l m n o p q r s t u v w x y z',
];

function variants(s) {
  return [s, s.toUpperCase(), ` ${s}  `, s.replace(/ /g, '\n')];
}

function buildStrings() {
  const seen = new Set();
  const out = [];
  for (const b of BASE) {
    for (const v of variants(b)) {
      if (!seen.has(v)) {
        seen.add(v);
        out.push(v);
      }
    }
  }
  return out;
}

const stripAccents = (t) => t.normalize('NFD').replace(/\p{Mn}/gu, '');

function buildVocab(strings, lower) {
  const pieces = new Set();
  for (const s of strings) {
    const forms = lower ? [stripAccents(s.toLowerCase())] : [s, s.normalize('NFC')];
    for (const form of forms) {
      for (const ch of form) {
        const cp = ch.codePointAt(0);
        if (/\s/u.test(ch) || cp % 11 === 5) continue;  // a few characters stay unknown
        pieces.add(ch);
        pieces.add('##' + ch);
      }
      for (const word of form.split(/[\s\p{P}\u0021-\u002F\u003A-\u0040\u005B-\u0060\u007B-\u007E]+/u)) {
        const chars = [...word];
        if (chars.length >= 2) pieces.add(chars.slice(0, 2).join(''));
        if (chars.length >= 4) pieces.add('##' + chars.slice(2, 4).join(''));
        if (chars.length >= 3 && chars.length % 3 === 0) pieces.add(word);
      }
    }
  }
  const sorted = [...pieces].filter((p) => !SPECIALS.includes(p) && p.length > 0).sort();
  return SPECIALS.concat(sorted);
}

function tokenizerJson(vocab, lower) {
  const ids = {};
  vocab.forEach((t, i) => { ids[t] = i; });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((t, i) => ({ id: i, content: t, single_word: false, lstrip: false, rstrip: false,
      normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null,
      lowercase: lower },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100,
      vocab: ids },
  };
}

function main() {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: tokenizer_goldens.js OUT_DIR');
    process.exit(2);
  }
  fs.mkdirSync(out, { recursive: true });
  const strings = buildStrings();
  const lines = [];
  for (const lower of [true, false]) {
    const vocab = buildVocab(strings, lower);
    fs.writeFileSync(path.join(out, `vocab_${lower ? 'uncased' : 'cased'}.txt`), vocab.join('\n') + '\n');
    const tok = new Tokenizer(tokenizerJson(vocab, lower), { do_lower_case: lower, model_max_length: 100000 });
    for (const text of strings) {
      const enc = tok.encode(text, { add_special_tokens: false });
      lines.push(JSON.stringify({ lower, text, ids: enc.ids }));
    }
    console.error(`tokenizer_goldens: ${lower ? 'uncased' : 'cased'}: ${vocab.length} tokens, ${strings.length} strings`);
  }
  fs.writeFileSync(path.join(out, 'goldens.jsonl'), lines.join('\n') + '\n');
}

main();
