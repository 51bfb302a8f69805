# Byte-level tokenization: shards hold <|bos|> + the UTF-8 bytes of each
# document, every N-th document is held out, and bad input is named.
. "$(dirname "$0")/lib.sh"
printf '안녕\n\nab\nc\n' >"$WORK/a.txt"
printf 'xyz' >"$WORK/b.txt"
"$DOKJA" tokenize --bytes --lines --val-fraction 0.5 --output "$WORK/tok" --input "$WORK/a.txt" --input "$WORK/b.txt" 2>/dev/null
# documents: 안녕 (train), ab (val), c (train), xyz (val); 2-byte tokens after the 1024-byte header
[ "$(od -An -tu2 -j1024 -v "$WORK/tok/train-00000.bin" | xargs)" = "256 236 149 136 235 133 149 256 99" ] \
    || fail "train tokens: $(od -An -tu2 -j1024 -v "$WORK/tok/train-00000.bin" | xargs)"
[ "$(od -An -tu2 -j1024 -v "$WORK/tok/val-00000.bin" | xargs)" = "256 97 98 256 120 121 122" ] || fail "val tokens"
[ "$(head -c 8 "$WORK/tok/train-00000.bin" | tr -d '\0')" = "DOKJTOK" ] || fail "magic"
grep -q '"vocab_size":[[:space:]]*257' "$WORK/tok/meta.json" || fail "meta.json vocab"
sha=$(sha "$WORK/tok/tokenizer.json")
[ "$(dd if="$WORK/tok/train-00000.bin" bs=1 skip=32 count=64 2>/dev/null)" = "$sha" ] || fail "header lacks the tokenizer sha256"
# whole files as documents
"$DOKJA" tokenize --bytes --val-fraction 0 --input "$WORK/b.txt" --output "$WORK/tok2" 2>/dev/null
[ "$(od -An -tu2 -j1024 -v "$WORK/tok2/train-00000.bin" | xargs)" = "256 120 121 122" ] || fail "whole-file document"
[ ! -e "$WORK/tok2/val-00000.bin" ] || fail "no validation split was asked for"

: >"$WORK/empty.txt"
expect_fail 1 "empty.txt" "$DOKJA" tokenize --bytes --output "$WORK/t3" --input "$WORK/empty.txt"
expect_fail 1 "missing.txt" "$DOKJA" tokenize --bytes --output "$WORK/t3" --input "$WORK/a.txt" "$WORK/missing.txt"
expect_fail 2 "needs --tokenizer FILE or --bytes" "$DOKJA" tokenize --output "$WORK/t3" --input "$WORK/a.txt"
expect_fail 2 "needs --tokenizer FILE or --bytes" "$DOKJA" tokenize --bytes --output "$WORK/t3" "$WORK/a.txt"

# a byte-level model takes and gives text
"$DOKJA" train --data "$WORK/tok" --out "$WORK/run" "${TINY[@]}" --batch-size 1 --seq-len 4 --steps 2 --eval-batches 0 2>/dev/null
grep -q '"bos_token_id":[[:space:]]*256' "$WORK/run/model/config.json" || fail "bos id from the shards"
cmp -s "$WORK/tok/tokenizer.json" "$WORK/run/model/tokenizer.json" || fail "tokenizer.json not copied into the model"
"$DOKJA" generate --model "$WORK/run/model" --prompt "안녕" --max-new-tokens 3 --temperature 0 >/dev/null || fail "text prompt"
echo "1 passed, 0 failed"
