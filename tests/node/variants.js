// Variants of a dokja-trained tokenizer.json that use the other features of
// the format dokja reads (split behaviors, invert, String patterns, GPT-2's
// ByteLevel regex with a prefix space, NFKC, normalized and non-special added
// tokens, ignore_merges, a TemplateProcessing post-processor), so each is held
// against HF tokenizers too.   node variants.js TRAINED.json OUTDIR
// Prints the names of the files written.
'use strict';
const fs = require('fs');
const path = require('path');

const [src, dir] = process.argv.slice(2);
const base = JSON.parse(fs.readFileSync(src, 'utf8'));
const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
const write = (name, edit) => {
  const j = JSON.parse(JSON.stringify(base));
  edit(j);
  fs.writeFileSync(path.join(dir, name), JSON.stringify(j));
  console.log(name);
};
const split = (pattern, behavior, invert) => ({ type: 'Split', pattern, behavior, invert });
for (const behavior of ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'])
  for (const invert of [false, true])
    write(`split-${behavior}-${invert}.json`, (j) => {
      j.pre_tokenizer = { type: 'Sequence', pretokenizers: [split({ Regex: '\\s+|[\\p{P}<>|]' }, behavior, invert), byteLevel] };
    });
write('string-pattern.json', (j) => {
  j.pre_tokenizer = { type: 'Sequence', pretokenizers: [split({ String: ' ' }, 'MergedWithNext', false), byteLevel] };
});
write('gpt2-bytelevel.json', (j) => {
  j.normalizer = null;
  j.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true };
});
write('nfkc-added.json', (j) => {
  j.normalizer = { type: 'Sequence', normalizers: [{ type: 'NFKC' }] };
  const id = Object.keys(j.model.vocab).length;
  j.added_tokens.push({ id, content: 'ﬁx', single_word: false, lstrip: false, rstrip: false, normalized: true, special: false });
  j.added_tokens.push({ id: id + 1, content: '한국', single_word: false, lstrip: false, rstrip: false, normalized: false, special: false });
});
write('ignore-merges.json', (j) => {
  j.model.ignore_merges = true;
});
write('template.json', (j) => {
  j.post_processor = {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '<|bos|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<|eos|>', type_id: 0 } }],
    pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: {
      '<|bos|>': { id: '<|bos|>', ids: [256], tokens: ['<|bos|>'] },
      '<|eos|>': { id: '<|eos|>', ids: [257], tokens: ['<|eos|>'] },
    },
  };
});
