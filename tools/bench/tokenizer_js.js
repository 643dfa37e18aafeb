#!/usr/bin/env node
// @huggingface/tokenizers (the JavaScript tokenizers of Transformers.js) timed the way
// `encore-bench --tokenizer` times encore's TextTokenizer, for a side-by-side comparison:
//   node tools/bench/tokenizer_js.js TOKENIZER.json --texts FILE [--min-time S] [--runs N] [--json OUT]
// FILE holds one text per line (encore-bench --write-texts makes it from the built-in corpus).
// One text at a time, one thread: one untimed pass over the texts (it also counts the tokens),
// then timed passes until both --runs passes (default 3) and --min-time seconds (default 1) are
// reached; rates from the median pass. MB are 10^6 bytes of UTF-8 text. Each encode is the
// package's default call with special tokens (it returns ids, tokens and an attention mask).
// Needs NODE_PATH with the package (tools/bench/tokenizer_compare.sh installs the pinned version).
'use strict';
const fs = require('fs');
const { Tokenizer } = require('@huggingface/tokenizers');

function usage(message) {
  console.error(`tokenizer_js: error: ${message}`);
  console.error('usage: tokenizer_js.js TOKENIZER.json --texts FILE [--min-time S] [--runs N] [--json OUT]');
  process.exit(2);
}

function parseArgs(argv) {
  const a = { tokenizer: null, texts: null, minTime: 1.0, runs: 3, json: null };
  for (let i = 0; i < argv.length; i++) {
    const need = () => (i + 1 < argv.length ? argv[++i] : usage(`${argv[i]} needs a value`));
    switch (argv[i]) {
      case '--texts': a.texts = need(); break;
      case '--min-time': a.minTime = Number(need()); break;
      case '--runs': a.runs = Number(need()); break;
      case '--json': a.json = need(); break;
      default:
        if (argv[i].startsWith('--') || a.tokenizer) usage(`unexpected argument ${argv[i]}`);
        a.tokenizer = argv[i];
    }
  }
  if (!a.tokenizer) usage('give a tokenizer.json');
  if (!a.texts) usage('give --texts FILE');
  if (!(a.minTime >= 0)) usage('--min-time must be a number >= 0');
  if (!(Number.isInteger(a.runs) && a.runs > 0)) usage('--runs must be a positive integer');
  return a;
}

// Median, as encore's bench_report does (mean of the middle two for an even count).
function median(v) {
  const s = [...v].sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

function main() {
  const a = parseArgs(process.argv.slice(2));
  const tok = new Tokenizer(JSON.parse(fs.readFileSync(a.tokenizer, 'utf8')), {});
  let lines = fs.readFileSync(a.texts, 'utf8').split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();  // the final newline ends the last text
  lines = lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (!lines.length) usage(`${a.texts}: no texts (it is empty)`);
  let bytes = 0;
  let tokens = 0;
  for (const s of lines) {
    bytes += Buffer.byteLength(s, 'utf8');
    tokens += tok.encode(s).ids.length;  // the untimed pass
  }
  const passes = [];
  let sink = 0;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  const elapsedMs = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
  while (passes.length < a.runs || elapsedMs(start) < 1000 * a.minTime) {
    const t0 = process.hrtime.bigint();
    for (const s of lines) sink += tok.encode(s).ids.length;
    passes.push(elapsedMs(t0));
    if (passes.length >= 100000) break;
  }
  const totalS = elapsedMs(start) / 1e3;
  const cpu = process.cpuUsage(cpu0);  // all of node's threads (its GC and compiler threads too)
  const cpuShare = (cpu.user + cpu.system) / 1e6 / totalS;
  if (sink !== tokens * passes.length) throw new Error('token counts changed between passes');
  const med = median(passes);
  const r = {
    texts: lines.length,
    bytes,
    tokens,
    passes: { runs: passes.length, median_ms: med, min_ms: Math.min(...passes), max_ms: Math.max(...passes) },
    timed_s: totalS,
    cpu_share: cpuShare,
    texts_per_s: (1e3 * lines.length) / med,
    mb_per_s: (1e-3 * bytes) / med,
    tokens_per_s: (1e3 * tokens) / med,
    us_per_text: (1e3 * med) / lines.length,
  };
  // The package does not export its package.json: read it next to its entry point (dist/).
  const pkg = require('path').join(require('path').dirname(require.resolve('@huggingface/tokenizers')), '..', 'package.json');
  const version = JSON.parse(fs.readFileSync(pkg, 'utf8')).version;
  console.log(`tokenizer ${a.tokenizer} (@huggingface/tokenizers ${version}, node ${process.version}); texts: ${a.texts}`);
  console.log(`${r.texts} texts, ${(bytes / 1e3).toFixed(1)} KB, ${tokens} tokens with special tokens ` +
    `(${(tokens / r.texts).toFixed(1)} per text)`);
  console.log(`tokenize, 1 thread, one text at a time: ${passes.length} passes in ${totalS.toFixed(2)} s (cpu share ${cpuShare.toFixed(2)}); ` +
    `median pass ${med.toFixed(3)} ms (min ${r.passes.min_ms.toFixed(3)}, max ${r.passes.max_ms.toFixed(3)}): ` +
    `${r.texts_per_s.toFixed(0)} texts/s, ${r.mb_per_s.toFixed(2)} MB/s, ${r.tokens_per_s.toFixed(0)} tokens/s, ` +
    `${r.us_per_text.toFixed(2)} us per text`);
  if (a.json) {
    const report = { engine: `@huggingface/tokenizers ${version}`, node: process.version,
      tokenizer: { path: a.tokenizer, corpus: a.texts, timing: r } };
    fs.writeFileSync(a.json, JSON.stringify(report, null, 2) + '\n');
  }
}

main();
