// Texts for the tokenizer tests, one JSON string per line on stdout:
// Korean and English from the corpus files named on the command line (one
// text per line or per blank-line paragraph), hand-picked hard cases, and
// seeded random strings over the characters that pre-tokenizers and
// normalizers treat specially.   node make_texts.js FILE...
'use strict';
const fs = require('fs');

const out = [];
for (const path of process.argv.slice(2)) {
  const text = fs.readFileSync(path, 'utf8');
  const parts = path.endsWith('.jsonl')
    ? text.split('\n').filter((l) => l).map((l) => JSON.parse(l)).map((o) => o.text || o.question || '')
    : text.includes('\n\n') ? text.split('\n\n') : text.split('\n');
  // every k-th part, up to 150 from each file
  const k = Math.max(1, Math.floor(parts.length / 150));
  for (let i = 0; i < parts.length && out.length < 10000; i += k) if (parts[i]) out.push(parts[i]);
}

out.push(
  '',
  ' ',
  '\n\n\n',
  '   leading spaces',
  'trailing   ',
  "I'M YOU'RE they'll we'd it's DON'T",
  'Tabs\tand\r\nCRLF\rlone CR  \n  \n',
  '12345 1234567 3.14159 ½ ٣٤ ①② 1,000,000원',
  'nbsp\u00a0ideographic\u3000nel\u0085line\u2028para\u2029zwsp\u200bmvs\u180e x \u180e\u180e  \u180e,end',
  '<|bos|>안녕<|eos|> <|user|>질문<|end|><|assistant|><think>생각</think>답<|end|>',
  '<|begin_of_text|>hi<|end_of_text|> <|im_start|>user\n안녕<|im_end|> <|endoftext|>',
  '<|bos|<|bos|>><<|eos|>>|>',
  'e\u0301 \u1100\u1161\u11a8 \u1112\u1161\u11ab\u1100\u1173\u11af \u212b \ufb01x Å',
  '👩‍👩‍👧 🇰🇷🇯🇵 ❤️ 😀😃 ✨',
  'ㅋㅋㅋㅋㅋㅋ ㅠㅠ ㄱㄴㄷ ㅏㅑ',
  'a'.repeat(3000) + ' ' + '가'.repeat(2000) + ' ' + 'ab'.repeat(1500) + ' ' + '1'.repeat(500),
  'x=1;\n  if (a<b) { return a->c; } // 주석\n\tfoo_bar(baz[0], "문자열");\n',
  'https://example.com/path?q=검색&x=1#frag user@mail.kr',
  '中文混合한국어English日本語テキスト',
  '\u0001ctl\u007fdel\u001b[0m', // (NUL cannot pass through the JSON test files; the unit fuzz covers it)
);

// Seeded random strings (a small xorshift, so the texts are the same every run).
let seed = 20240611;
const rand = (n) => {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed % n;
};
const pool = [
  'a', 'Z', 'q', '0', '7', ' ', ' ', ' ', '\n', '\r', '\t', "'", 's', 'll', '.', ',', '!', '?', '<', '|', '>', '-', '_', '/',
  '\u0085', '\u180e', '\u00a0', '\u00ad', '\u00e9', '\u0301', '\u3000', '\u2028', '\u200d', '가', '나', '힣', '한', '\u1100', '\u1161',
  '\u11a8', 'ㄱ', 'ㅏ', '中', '٣', '０', '😀', '🇰', '🇷', '\ufffd', '\u{10ffff}', '\ufb01', '\u212b', '<|bos|>', '<|end|>',
  '<think>', '<|endoftext|>', '<|im_start|>',
];
for (let i = 0; i < 400; i++) {
  let s = '';
  const n = 1 + rand(i % 10 === 0 ? 400 : 40);
  for (let j = 0; j < n; j++) s += pool[rand(pool.length)];
  out.push(s);
}
for (const s of out) console.log(JSON.stringify(s));
