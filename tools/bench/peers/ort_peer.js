#!/usr/bin/env node
// ONNX Runtime peer for tools/bench/compare.sh: runs an ONNX model written by ort_export.py
// with the npm package onnxruntime-node (CPU execution provider, all graph optimizations),
// timed the way encore-bench times encore.
//
//   node tools/bench/peers/ort_peer.js MODEL.onnx --engine ort_int8 --seq 128 [--batch 1]
//       [--threads 1] [--runs 10] [--warmup 2] [--vocab V] [--avoid-id PAD] [--ids IDS.npy --out OUT.npy]
//
// Prints one JSON line: median/min ms over --runs timed runs after warm-up. With --ids it also
// writes the last_hidden_state for those int64 [B, S] ids to OUT.npy (float32). The timed ids
// are drawn from [0, V); --avoid-id replaces that id by the next one (RoBERTa-likes' pad id,
// which would reset the position count). Only the inputs the graph declares are fed
// (DistilBERT's has no token_type_ids).
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function parseArgs(argv) {
  const args = { batch: 1, threads: 1, runs: 10, warmup: 2, engine: 'ort' };
  const rest = [];
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (!a.startsWith('--')) { rest.push(a); continue; }
    if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
    args[a.slice(2)] = argv[++i];
  }
  if (rest.length !== 1) throw new Error('usage: ort_peer.js MODEL.onnx --seq N [options]');
  args.model = rest[0];
  for (const k of ['seq', 'batch', 'threads', 'runs', 'warmup']) {
    if (args[k] !== undefined) args[k] = Number.parseInt(args[k], 10);
  }
  return args;
}

// Minimal .npy (format 1.x/2.x, C order) reader for int64 and writer for float32.
function readNpyInt64(path) {
  const buf = fs.readFileSync(path);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  if (!/'descr':\s*'<i8'/.test(header) || /'fortran_order':\s*True/.test(header)) {
    throw new Error(`${path}: expected little-endian int64 in C order`);
  }
  const shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const data = new BigInt64Array(count);
  for (let i = 0; i < count; ++i) data[i] = buf.readBigInt64LE(start + 8 * i);
  return { shape, data };
}

function writeNpyFloat32(path, shape, data) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(path + '.tmp', Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
  fs.renameSync(path + '.tmp', path);
}

function feeds(session, shape, ids) {
  const count = shape[0] * shape[1];
  const ones = new BigInt64Array(count).fill(1n);
  const zeros = new BigInt64Array(count);
  const all = {
    input_ids: new ort.Tensor('int64', ids, shape),
    attention_mask: new ort.Tensor('int64', ones, shape),
    token_type_ids: new ort.Tensor('int64', zeros, shape),
  };
  const out = {};
  for (const name of session.inputNames) {
    if (!(name in all)) throw new Error(`unexpected graph input ${name}`);
    out[name] = all[name];
  }
  return out;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const session = await ort.InferenceSession.create(args.model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: args.optimization || 'all',
    executionMode: 'sequential',
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
  });
  const vocab = Number.parseInt(args.vocab || '1000', 10);
  const shape = [args.batch, args.seq];
  const ids = new BigInt64Array(args.batch * args.seq);
  let state = 12345 + args.seq * 7919 + args.batch;  // fixed-seed LCG: same ids every run
  for (let i = 0; i < ids.length; ++i) {
    state = (state * 1103515245 + 12345) % 2147483648;
    ids[i] = BigInt(state % vocab);
  }
  if (args['avoid-id'] !== undefined) {
    const pad = BigInt(args['avoid-id']);
    for (let i = 0; i < ids.length; ++i) if (ids[i] === pad) ids[i] = pad + 1n;
  }
  const input = feeds(session, shape, ids);
  for (let i = 0; i < args.warmup; ++i) await session.run(input);
  const ms = [];
  for (let i = 0; i < args.runs; ++i) {
    const t0 = process.hrtime.bigint();
    await session.run(input);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  const mid = ms.length >> 1;
  const median = ms.length % 2 ? ms[mid] : (ms[mid - 1] + ms[mid]) / 2;
  console.log(JSON.stringify({ engine: args.engine, seq: args.seq, batch: args.batch, threads: args.threads,
    median_ms: median, min_ms: ms[0], runs: ms.length }));
  if (args.ids) {
    const { shape: idShape, data } = readNpyInt64(args.ids);
    const out = await session.run(feeds(session, idShape, data));
    const h = out.last_hidden_state;
    writeNpyFloat32(args.out, h.dims, h.data);
  }
}

main().catch((e) => {
  console.error(`ort_peer: error: ${e.message}`);
  process.exit(1);
});
