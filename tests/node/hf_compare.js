// The oracle of the tokenizer tests: HF tokenizers (the Rust library, through
// the @anush008/tokenizers binding) encodes and decodes every text of a
// JSON-lines file, and each result is compared with dokja's.
//   node hf_compare.js TOKENIZER.json TEXTS.jsonl DOKJA.jsonl [--add-special]
// TEXTS: one JSON string per line. DOKJA: one {"ids": [...], "text": decoded} per line.
// Prints "N texts identical" and exits 0, or names the first differences and exits 1.
'use strict';
const fs = require('fs');
const { Tokenizer } = require('@anush008/tokenizers');

async function main() {
  const [tokPath, textsPath, dokjaPath, flag] = process.argv.slice(2);
  const addSpecial = flag === '--add-special';
  const tok = Tokenizer.fromFile(tokPath);
  const texts = fs.readFileSync(textsPath, 'utf8').split('\n').filter((l) => l.length).map((l) => JSON.parse(l));
  const ours = fs.readFileSync(dokjaPath, 'utf8').split('\n').filter((l) => l.length).map((l) => JSON.parse(l));
  if (texts.length !== ours.length) throw new Error(`${texts.length} texts but ${ours.length} results from dokja`);
  let bad = 0;
  for (let i = 0; i < texts.length; i++) {
    const enc = await tok.encode(texts[i], null, { addSpecialTokens: addSpecial });
    const ids = Array.from(enc.getIds());
    const text = await tok.decode(ids, false);
    const sameIds = ids.length === ours[i].ids.length && ids.every((v, k) => v === ours[i].ids[k]);
    if (!sameIds || text !== ours[i].text) {
      if (bad++ < 5) {
        let k = 0;
        while (k < ids.length && ids[k] === ours[i].ids[k]) k++;
        console.error(`text ${i + 1} ${JSON.stringify(texts[i]).slice(0, 200)}:`);
        console.error(`  HF    ids[${k}..]: ${ids.slice(k, k + 12).join(' ')} (${ids.length} ids)`);
        console.error(`  dokja ids[${k}..]: ${ours[i].ids.slice(k, k + 12).join(' ')} (${ours[i].ids.length} ids)`);
        if (text !== ours[i].text) console.error(`  decoded: HF ${JSON.stringify(text).slice(0, 120)} / dokja ${JSON.stringify(ours[i].text).slice(0, 120)}`);
      }
    }
  }
  if (bad) {
    console.error(`${bad} of ${texts.length} texts differ (${tokPath})`);
    process.exit(1);
  }
  console.log(`${texts.length} texts identical (${tokPath})`);
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
