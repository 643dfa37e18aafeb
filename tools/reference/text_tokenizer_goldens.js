#!/usr/bin/env node
// Golden encodings for encore's TextTokenizer (the tokenizer.json pipeline), from an independent
// implementation: @huggingface/tokenizers (the tokenizer of Transformers.js), run offline on the
// tokenizer.json fixtures that make_text_tokenizer_fixtures.py builds. Writes, into OUT_DIR
// (tests/fixtures/text_tokenizer):
//   strings.json            the test strings and pairs (read by spm_goldens.py too)
//   goldens_NAME.jsonl      {"text", "pair"?, "ids", "type_ids"} per string / pair, special tokens added
//   excluded_NAME.jsonl     {"text", "pair"?, "reason"}: strings where the JavaScript port is known
//                           to deviate from the Rust `tokenizers` (not goldens; see README.md)
// Run through tools/reference/make_text_tokenizer_goldens.sh (installs the pinned npm package).
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('@huggingface/tokenizers');

const BASE = [
  '', ' ', '\t\n', 'hello', 'Hello, World!', 'The quick brown fox jumps over the lazy dog.',
  "Don't stop-believing: it's 3:45pm (GMT+1)!", 'unaffable', 'UNAFFABLE Unaffable', 'running runner runs',
  'e-mail: someone@example.com', 'https://example.org/a/b?c=d&e=f#g', 'C++ and C# are languages; so is F*.',
  '1,234.56 or 1.234,56? 100% sure... $5 & €3 & £2 & ¥1', '3.14159265358979323846', '0x7FFF_FFFF',
  'Café au lait, crème brûlée, naïve façade', 'Schmetterling Größe Straße Übermut', 'ÀÉÎÕÜ àéîõü Çç Ññ',
  'Cafe\u0301 (decomposed accent)', 'e\u0301e\u0300e\u0302 a\u0308o\u0308u\u0308', 'Ångström Øresund Æble',
  'Łódź Kraków Gdańsk Wrocław', 'İstanbul ılık ığdır', 'Ελληνικά: Καλημέρα κόσμε', 'σοφός σοφία',
  'Привет, мир! Ёжик в тумане.', 'ПРИВЕТ МИР', '这只动物没有过马路，因为它太累了', '我爱北京天安门。',
  '東京は日本の首都です', 'ひらがな カタカナ 漢字', '한국어 문장입니다.', '\u1112\u1161\u11ab\u1100\u1173\u11af (jamo)',
  'mixed: English 中文 Ελληνικά Русский עברית العربية', 'שלום עולם', 'مرحبا بالعالم', 'हिन्दी भाषा', 'ภาษาไทย',
  'emoji 🙂 😀👍🏽 family 👨‍👩‍👧 flags 🇫🇷', '👩🏽‍💻 at work, ❤️ and ☺︎', 'tabs\tand\nnewlines\r\nand  double  spaces',
  'non\u00a0breaking\u2003em\u3000ideographic space', 'line\u2028separator\u2029paragraph',
  'zero\u200bwidth\u200djoiner\u200c', 'soft\u00adhyphen', 'control\u0001\u0002\u001fchars\u007f',
  'replacement \ufffd char', 'bom\ufeffinside', 'private \ue000 use', 'a' + 'b'.repeat(99), 'x'.repeat(100),
  'y'.repeat(101), 'z'.repeat(300), 'supercalifragilisticexpialidocious', 'pneumonoultramicroscopicsilicovolcanoconiosis',
  'antidisestablishmentarianism', '«guillemets» „Anführungszeichen“ ‚einfach‘ “curly” ‘quotes’',
  'dashes – — ‒ ― and ellipsis …', 'brackets [x] {y} <z> (w)', 'math ± × ÷ ≤ ≥ ≠ ∞ ∑ √',
  'Mr. Smith Jr. vs. Dr. Who', 'U.S.A. e.g. i.e. etc.', 'naïve coöperate résumé', 'ﬁ ﬂ ligatures ﬀ',
  'Ⅻ ① ¼ ½ ² ³', 'ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３', 'ǅ ǈ ǋ titlecase', 'İ', 'ΑΣ.Σ', '™ ℃ № ㎏',
  'word123word 123abc abc123', 'snake_case camelCase PascalCase kebab-case', '#hashtag @mention',
  '"quoted" \'single\'', "it's we're they've I'm you'll he'd", 'the end.', 'END',
  'a b c d e f g h i j k l m n o p q r s t u v w x y z', '   leading and trailing   ', '\n\n\nnewlines\n\n',
  'many     spaces     between', 'trailing tab\t', ' ', '  ', '\u3000', '.', '...', '!?', '12345678901234567890',
  'The GNU General Public License is a free, copyleft license for software and other kinds of works.',
  'Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except in compliance.',
  'THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES',
];

// Special-token strings inside the text: each tokenizer's own are matched as added tokens.
const SPECIAL_TEXT = [
  'Hello [SEP] world', '[CLS] starts here', 'ends with [SEP]', '[MASK]', 'a[MASK]b', 'x [PAD] [UNK] y',
  'Hello <s> world', '<s>', '</s>', 'The <mask> sat on the mat.', 'The<mask>sat', 'a   <mask>   b', '<mask>',
  'fill <mask> and <mask> please', '<unk> and <pad>', 'not special: <mas k> [SE P] <s >',
];

function variants(s) {
  // as given, uppercased, padded, newline-separated, decomposed (NFD), inside a sentence
  return [s, s.toUpperCase(), ` ${s}  `, s.replace(/ /g, '\n'), s.normalize('NFD'), `Text: ${s}.`];
}

function buildStrings() {
  const seen = new Set();
  const out = [];
  const add = (v) => {
    if (!seen.has(v)) {
      seen.add(v);
      out.push(v);
    }
  };
  for (const b of BASE) variants(b).forEach(add);
  for (const s of SPECIAL_TEXT) add(s);
  // a long English text of about 128 tokens (also the throughput case of the benchmark note)
  add(BASE.slice(-3).join(' ') + ' ' + BASE[5] + ' ' + BASE[6] + ' ' + BASE.slice(-3).join(' '));
  return out;
}

function buildPairs(strings) {
  const pairs = [];
  const pick = strings.filter((s) => s.length > 0 && s.length < 200);
  for (let i = 0; i + 1 < pick.length && pairs.length < 70; i += 5) pairs.push([pick[i], pick[i + 1]]);
  pairs.push(['', 'empty first']);
  pairs.push(['empty second', '']);
  pairs.push(['Hello <mask> world', 'The [SEP] second <s> part']);
  return pairs;
}

// Strings where the JavaScript port is known to differ from the Rust tokenizers. Each entry is
// [tokenizer name regexp, predicate on the text, reason]; see tests/tokenizer/README.md.
// Final sigma: String.toLowerCase turns Σ into ς after a letter (across punctuation) when no letter
// follows; Rust's char::to_lowercase always gives σ.
const finalSigma = (t) => /\p{L}[\p{P}\p{M}]*Σ(?!\p{L})/u.test(t);
// A character Rust's Unicode \w matches and JS's ASCII \w does not.
const nonAsciiWord = (t) => /(?![\x00-\x7f])[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\u200c\u200d]/u.test(t);
const nonAsciiDigit = (t) => /(?![0-9])\p{N}/u.test(t);
const KNOWN_DEVIATIONS = [
  [/^wordpiece/, (t) => /[\u{20000}-\u{2FA1F}]/u.test(t),
    'JS iterates UTF-16 units for CJK spacing: supplementary-plane ideographs are not isolated'],
  [/^(wordpiece_uncased|components_[ad])/, finalSigma,
    'JS lowercases with String.toLowerCase (final sigma ς); Rust maps Σ to σ char by char'],
  [/^components_[ab]/, (t) => /[\ufeff\u0085\u180e]/.test(t),
    'JS regex \\s differs from Unicode White_Space (U+FEFF is \\s in JS, U+0085 is not)'],
  [/^components_a/, (t) => nonAsciiDigit(t.normalize('NFKD')),
    'JS Digits uses \\d (ASCII digits); Rust char::is_numeric is every Unicode N* character'],
  [/^components_b/, (t) => nonAsciiDigit(t.normalize('NFC')),
    'JS Digits uses \\d (ASCII digits); Rust char::is_numeric is every Unicode N* character'],
  [/^components_b/, (t) => nonAsciiWord(t.normalize('NFC')),
    'JS Whitespace matches /\\w+|[^\\w\\s]+/ without the u flag (ASCII \\w); Rust \\w is Unicode'],
  [/^components_a/, (t) => /[\p{Mc}\p{Me}]/u.test(t.normalize('NFKD')),
    'JS StripAccents removes every mark \\p{M}; Rust removes only nonspacing marks (Mn)'],
];

function main() {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: text_tokenizer_goldens.js OUT_DIR');
    process.exit(2);
  }
  const strings = buildStrings();
  const pairs = buildPairs(strings);
  fs.writeFileSync(path.join(out, 'strings.json'), JSON.stringify({ strings, pairs }, null, 0) + '\n');
  const names = fs.readdirSync(out).filter((f) => /^(bpe|unigram|wordpiece|components).*\.json$/.test(f)).map((f) => f.slice(0, -5));
  for (const name of names.sort()) {
    const tok = new Tokenizer(JSON.parse(fs.readFileSync(path.join(out, `${name}.json`), 'utf8')), {});
    const lines = [];
    const excluded = [];
    const emit = (text, pair) => {
      let dev = KNOWN_DEVIATIONS.find(([re, pred]) => re.test(name) && (pred(text) || (pair !== null && pred(pair))));
      if (pair === '') dev = [null, null, 'JS treats an empty text_pair as no pair (Rust encodes an empty second segment)'];
      if (dev) {
        excluded.push(JSON.stringify(pair === null ? { text, reason: dev[2] } : { text, pair, reason: dev[2] }));
        return;
      }
      const enc = tok.encode(text, { text_pair: pair, add_special_tokens: true, return_token_type_ids: true });
      const rec = { text };
      if (pair !== null) rec.pair = pair;
      rec.ids = enc.ids;
      rec.type_ids = enc.token_type_ids;
      lines.push(JSON.stringify(rec));
    };
    for (const s of strings) emit(s, null);
    for (const [a, b] of pairs) emit(a, b);
    fs.writeFileSync(path.join(out, `goldens_${name}.jsonl`), lines.join('\n') + '\n');
    fs.writeFileSync(path.join(out, `excluded_${name}.jsonl`), excluded.length ? excluded.join('\n') + '\n' : '');
    console.error(`text_tokenizer_goldens: ${name}: ${lines.length} goldens (${strings.length} strings, ${pairs.length} pairs), ${excluded.length} excluded`);
  }
}

main();
