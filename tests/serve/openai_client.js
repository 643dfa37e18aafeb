// The official `openai` npm client against encore-serve's /v1/embeddings. Every embedding must
// equal encore-run's for the same text (JSON lines in EXPECTED, with --normalize) exactly; with
// `dimensions`, encore-run's --dimensions lines (DIMS_EXPECTED, 8 wide).
//   node openai_client.js OPENAI_MODULE_DIR BASE_URL EXPECTED DIMS_EXPECTED
'use strict';
const fs = require('fs');
const [, , moduleDir, baseURL, expectedFile, dimsFile] = process.argv;
const { OpenAI } = require(moduleDir);

const read = (f) => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const expected = read(expectedFile);
const dims = read(dimsFile);
const texts = expected.map((l) => l.text);

let failures = 0, checks = 0;
function check(name, ok, detail) {
  checks++;
  if (!ok) {
    failures++;
    console.log(`FAIL ${name}${detail ? ': ' + detail : ''}`);
  }
}
function same(a, b) {
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
const fromBase64 = (s) => Array.from(new Float32Array(new Uint8Array(Buffer.from(s, 'base64')).buffer));

async function main() {
  const client = new OpenAI({ baseURL, apiKey: 'not-checked', maxRetries: 0, timeout: 30000 });
  // No encoding_format: the client asks for base64 and decodes the float32 values itself.
  for (const format of [undefined, 'float', 'base64']) {
    const r = await client.embeddings.create({ model: 'st', input: texts, ...(format ? { encoding_format: format } : {}) });
    check(`${format}: object`, r.object === 'list' && r.model === 'st', JSON.stringify({ object: r.object, model: r.model }));
    check(`${format}: ${texts.length} embeddings`, r.data.length === texts.length);
    check(`${format}: usage`, r.usage.prompt_tokens > 0 && r.usage.total_tokens === r.usage.prompt_tokens);
    r.data.forEach((d, i) => {
      const got = format === 'base64' ? fromBase64(d.embedding) : d.embedding;
      check(`${format}: text ${i} equals encore-run's`, d.index === i && same(got, expected[i].embedding));
    });
  }
  const one = await client.embeddings.create({ model: 'st', input: texts[0] });
  check('one string', one.data.length === 1 && same(one.data[0].embedding, expected[0].embedding));
  const cut = await client.embeddings.create({ model: 'st', input: texts, dimensions: 8, encoding_format: 'float' });
  cut.data.forEach((d, i) => check(`dimensions 8: text ${i} equals encore-run --dimensions 8`, same(d.embedding, dims[i].embedding)));
  // Errors reach the client as APIError with the status and the server's message.
  for (const [name, input, status, text] of [
    ['empty string', '', 400, 'empty'],
    ['wrong type', [1.5], 422, 'token id'],
  ]) {
    try {
      await client.embeddings.create({ model: 'st', input, encoding_format: 'float' });
      check(`${name}: refused`, false, 'no error');
    } catch (e) {
      check(`${name}: ${status}`, e.status === status && String(e.message).includes(text), `${e.status} ${e.message}`);
    }
  }
  console.log(`openai client: ${checks - failures} of ${checks} checks passed`);
  process.exit(failures ? 1 : 0);
}
main().catch((e) => {
  console.log(`FAIL openai client: ${e.stack || e}`);
  process.exit(1);
});
