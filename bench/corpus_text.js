// Plain text for bench/tokenizer: the "text" (or "question") field of JSON
// lines on stdin, one document per line (newlines inside become spaces),
// until LIMIT bytes have been written to stdout.   node corpus_text.js LIMIT
'use strict';
const limit = Number(process.argv[2] || Infinity);
let n = 0;
const rl = require('readline').createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (n >= limit || !line) return;
  const o = JSON.parse(line);
  const t = (o.text || o.question || '').replace(/\s*\n\s*/g, ' ').trim();
  if (!t) return;
  const s = t + '\n';
  n += Buffer.byteLength(s);
  process.stdout.write(s);
});
