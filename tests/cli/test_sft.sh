# Fine-tuning to chat: chat data from a Q/A table, the rendered format and its
# loss mask, packing, a short run whose model names its parent, and bad input.
. "$(dirname "$0")/lib.sh"
DATA="${DOKJA_DATA:-$REPO/../shared/data}"
head -1500 "$DATA/corpus/ko-comments.txt" >"$WORK/corpus.txt"
printf 'Q,A,label\n안녕,반가워요.,0\n"쉼표, 있는 질문","답, 입니다",0\n' >"$WORK/qa.csv"
head -200 "$DATA/chat/ko-chatbot.csv" >>"$WORK/qa.csv"
"$DOKJA" tokenizer train --input "$WORK/corpus.txt" "$WORK/qa.csv" --text-field Q --lines --vocab-size 600 --output "$WORK/tok.json" 2>/dev/null
"$DOKJA" tokenize --tokenizer "$WORK/tok.json" --input "$WORK/corpus.txt" --lines --output "$WORK/shards" 2>/dev/null
"$DOKJA" train --data "$WORK/shards" --out "$WORK/base" "${TINY[@]}" --steps 5 2>/dev/null

# chat data
"$DOKJA" data chat --from csv --input "$WORK/qa.csv" --out "$WORK/chat.jsonl" --system "친절하게 답하세요." 2>/dev/null
[ "$(wc -l <"$WORK/chat.jsonl")" -eq 202 ] || fail "chat.jsonl should hold 202 conversations"
head -2 "$WORK/chat.jsonl" | tail -1 | grep -qF '{"role":"user","content":"쉼표, 있는 질문"},{"role":"assistant","content":"답, 입니다"}' \
    || fail "quoted CSV fields: $(head -2 "$WORK/chat.jsonl")"
cp "$WORK/qa.csv" "$WORK/test.csv"
expect_fail 1 "test split" "$DOKJA" data chat --from csv --input "$WORK/test.csv" --out "$WORK/x.jsonl"
expect_fail 1 'no string field "B"' "$DOKJA" data chat --from csv --input "$WORK/qa.csv" --answer B --out "$WORK/x.jsonl"
expect_fail 2 "not a .jsonl file" "$DOKJA" data chat --from jsonl --input "$WORK/qa.csv" --out "$WORK/x.jsonl"

# the format and the mask: only the assistant's words and its <|end|> are learnt
"$DOKJA" sft --model "$WORK/base/model" --data "$WORK/chat.jsonl" --dry-run >"$WORK/dry" 2>"$WORK/dry.err"
head -1 "$WORK/dry" | grep -qxF '<|bos|><|system|>친절하게 답하세요.<|end|><|user|>안녕<|end|><|assistant|>⟦반가워요.<|end|>⟧' \
    || fail "rendered: $(head -1 "$WORK/dry")"
grep -q "train: 192 conversations" "$WORK/dry.err" || fail "packing figures: $(cat "$WORK/dry.err")"

# a short run: the chat model names its parent, stops at <|end|>
"$DOKJA" sft --model "$WORK/base/model" --data "$WORK/chat.jsonl" --out "$WORK/sft" --epochs 0.5 --seq-len 64 --batch-size 4 2>/dev/null
parent=$(sha "$WORK/base/model/model.safetensors")
grep -q "\"parent_sha256\":[[:space:]]*\"$parent\"" "$WORK/sft/model/dokja.json" || fail "no parent in dokja.json"
end_id=$(printf '<|end|>' | "$DOKJA" tokenizer encode --tokenizer "$WORK/tok.json" --ids | cut -d' ' -f1)
grep -q "\"eos_token_id\":[[:space:]]*$end_id" "$WORK/sft/model/config.json" || fail "eos is not <|end|> ($end_id)"
cmp -s "$WORK/tok.json" "$WORK/sft/model/tokenizer.json" || fail "tokenizer not carried over"
[ "$(wc -l <"$WORK/sft/log.jsonl")" -ge 1 ] || fail "no log"

# bad chat data is named with its line
printf '{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}\n{"messages":[{"role":"robot","content":"x"}]}\n' >"$WORK/bad.jsonl"
expect_fail 1 "bad.jsonl:2: message 1: \"role\"" "$DOKJA" sft --model "$WORK/base/model" --data "$WORK/bad.jsonl" --out "$WORK/b"
printf '{"messages":[{"role":"user","content":"a"}]}\n' >"$WORK/bad2.jsonl"
expect_fail 1 "bad2.jsonl:1: the conversation has no assistant turn" "$DOKJA" sft --model "$WORK/base/model" --data "$WORK/bad2.jsonl" --out "$WORK/b"
printf 'not json\n' >"$WORK/bad3.jsonl"
expect_fail 1 "bad3.jsonl:1: not a JSON object" "$DOKJA" sft --model "$WORK/base/model" --data "$WORK/bad3.jsonl" --out "$WORK/b"
# a byte-level model has no chat tokens
"$DOKJA" tokenize --bytes --input "$WORK/corpus.txt" --lines --output "$WORK/bshards" 2>/dev/null
"$DOKJA" train --data "$WORK/bshards" --out "$WORK/bbase" "${TINY[@]}" --steps 2 2>/dev/null
expect_fail 1 "no <|system|> token" "$DOKJA" sft --model "$WORK/bbase/model" --data "$WORK/chat.jsonl" --out "$WORK/b"
echo "1 passed, 0 failed"
