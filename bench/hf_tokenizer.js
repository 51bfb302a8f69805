// HF tokenizers (the Rust library, through the @anush008/tokenizers binding) for bench/tokenizer:
//   node hf_tokenizer.js train TEMPLATE.json TEXT.txt OUT.json   trains a BPE (vocab 30000, the binding's
//        default trainer) with TEMPLATE's normalizer and pre-tokenizer, one document per line
//   node hf_tokenizer.js encode TOKENIZER.json TEXT.txt           encodes each line
// and prints {"seconds": S, "tokens": N} (tokens: encode only).
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require(path.join(__dirname, '../tests/node/node_modules/@anush008/tokenizers'));

async function main() {
  const [mode, tokPath, textPath, outPath] = process.argv.slice(2);
  if (mode === 'train') {
    // The template's pipeline with an empty model: what HF's trainer needs to start from.
    const j = JSON.parse(fs.readFileSync(tokPath, 'utf8'));
    j.added_tokens = [];
    j.model.vocab = {};
    j.model.merges = [];
    const tok = Tokenizer.fromString(JSON.stringify(j));
    const t0 = process.hrtime.bigint();
    tok.train([textPath]);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    tok.save(outPath, false);
    console.log(JSON.stringify({ seconds: s }));
    return;
  }
  const tok = Tokenizer.fromFile(tokPath);
  const lines = fs.readFileSync(textPath, 'utf8').split('\n').filter((l) => l.length);
  const t0 = process.hrtime.bigint();
  // encodeBatch runs on HF's own thread pool (all cores), as the Python library's encode_batch does.
  const encs = await tok.encodeBatch(lines, { addSpecialTokens: false });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  let n = 0;
  for (const e of encs) n += e.getIds().length;
  console.log(JSON.stringify({ seconds: s, tokens: n }));
}
main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
