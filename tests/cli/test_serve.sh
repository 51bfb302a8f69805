# dokja serve against the official openai client, raw and malformed HTTP, a
# bounded concurrent load and headless Chromium; greedy output identical to
# dokja generate and dokja chat (batched and alone, fp32 and q8); chat's
# scripted mode; quantize keeps the perplexity within 1%.
. "$(dirname "$0")/lib.sh"
NODE_DIR="$REPO/tests/node"
SERVER=
# a server still running when the test stops (a failure) goes with it
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
[ -d "$NODE_DIR/node_modules/openai" ] && [ -d "$NODE_DIR/node_modules/playwright-core" ] ||
    fail "npm packages missing: run scripts/install-deps.sh"
command -v chromium >/dev/null || fail "chromium missing: run scripts/install-deps.sh"

# A small chat-capable model: a BPE vocabulary with the chat tokens, trained briefly.
head -c 120000 "$REPO/../shared/data/corpus/en-shakespeare.txt" >"$WORK/text.txt" 2>/dev/null ||
    head -c 120000 "${DOKJA_DATA:?}/corpus/en-shakespeare.txt" >"$WORK/text.txt"
mkdir "$WORK/parts" && split -l 200 "$WORK/text.txt" "$WORK/parts/p"
"$DOKJA" tokenizer train --input "$WORK/text.txt" --vocab-size 360 --output "$WORK/tok.json" 2>/dev/null
"$DOKJA" tokenize --tokenizer "$WORK/tok.json" --input "$WORK/parts" --output "$WORK/data" 2>/dev/null
"$DOKJA" train --data "$WORK/data" --out "$WORK/run" "${TINY[@]}" --max-position-embeddings 256 --steps 40 --threads 2 2>/dev/null
M="$WORK/run/model"
tail -c 6000 "$WORK/text.txt" >"$WORK/heldout.txt"

# quantize: int8 copy, perplexity within 1% of fp32 on held-out text (through the decoding kernels)
"$DOKJA" quantize --model "$M" --out "$WORK/q8" --type q8 --eval "$WORK/heldout.txt" --eval-tokens 1500 >"$WORK/ppl.json" 2>/dev/null
grep -q '"ratio"' "$WORK/ppl.json" || fail "quantize --eval printed no ratio"
awk -F'"ratio":' '{ split($2, a, ","); r = a[1] + 0; exit !(r > 0.99 && r < 1.01) }' "$WORK/ppl.json" ||
    fail "q8 perplexity is not within 1% of fp32: $(cat "$WORK/ppl.json")"
grep -q '"quant_method":[[:space:]]*"dokja-q8"' "$WORK/q8/config.json" || fail "config.json does not say q8"
expect_fail 1 "already exists" "$DOKJA" quantize --model "$M" --out "$WORK/q8" --type q8
expect_fail 2 "q4" "$DOKJA" quantize --model "$M" --out "$WORK/q4" --type q4
[ ! -e "$WORK/q4" ] || fail "a refused quantize left a directory"

# the CLI's greedy outputs, for the server to match
prompts=("ROMEO:" "First Citizen:" "What is" "KING")
for i in 0 1 2 3; do
    "$DOKJA" generate --model "$M" --prompt "${prompts[$i]}" --max-new-tokens 20 --temperature 0 >"$WORK/gen$i.txt"
    "$DOKJA" generate --model "$WORK/q8" --prompt "${prompts[$i]}" --max-new-tokens 20 --temperature 0 >"$WORK/q8gen$i.txt"
done
GREEDY=(--temperature 0 --top-p 1 --min-p 0 --repetition-penalty 1)
# scripted chat: one turn per line, commands honoured, each reply on its own line
printf 'Good morrow\n' | "$DOKJA" chat --model "$M" "${GREEDY[@]}" --max-new-tokens 24 >"$WORK/chat.txt"
printf 'Good morrow\n/reset\nGood morrow\n/system Be brief.\nhello\n' |
    "$DOKJA" chat --model "$M" "${GREEDY[@]}" --max-new-tokens 24 >"$WORK/chat3.txt"
[ "$(sed -n 1p "$WORK/chat3.txt")" = "$(sed -n 2p "$WORK/chat3.txt")" ] || fail "/reset did not forget the conversation"
[ "$(wc -l <"$WORK/chat3.txt")" -eq 3 ] || fail "scripted chat printed $(wc -l <"$WORK/chat3.txt") lines for 3 turns"
# a conversation longer than the context drops its oldest turns and goes on
for _ in $(seq 30); do echo "Tell me of the king and the queen and all their court"; done |
    "$DOKJA" chat --model "$M" "${GREEDY[@]}" --max-new-tokens 24 >"$WORK/long.txt" 2>"$WORK/long.err" ||
    fail "a long conversation failed: $(cat "$WORK/long.err")"
[ "$(wc -l <"$WORK/long.txt")" -eq 30 ] || fail "30 turns gave $(wc -l <"$WORK/long.txt") replies"
# on a terminal: Ctrl-C stops a reply and the session goes on; Ctrl-D leaves
python3 "$REPO/tests/cli/chat_tty.py" "$DOKJA" "$M" || fail "interactive chat"
mkdir "$WORK/bytes" && head -c 20000 "$WORK/text.txt" >"$WORK/bytes/a.txt"
"$DOKJA" tokenize --bytes --input "$WORK/bytes/a.txt" --output "$WORK/bshards" 2>/dev/null
"$DOKJA" train --data "$WORK/bshards" --out "$WORK/brun" "${TINY[@]}" --steps 2 --threads 2 2>/dev/null
expect_fail 1 "<|system|>" "$DOKJA" chat --model "$WORK/brun/model" </dev/null

# serve: prints its address once listening; --port 0 takes a free port
start_server() { # MODEL LOG extra args...
    local model=$1 log=$2
    shift 2
    : >"$log" # before the server's shell opens it, so the first read finds it
    "$DOKJA" serve --model "$model" --port 0 --api-key sekret "$@" 2>>"$log" &
    SERVER=$!
    for _ in $(seq 100); do
        PORT=$(sed -n 's/.*http:\/\/127.0.0.1:\([0-9]*\)\/.*/\1/p' "$log")
        [ -n "$PORT" ] && return 0
        kill -0 $SERVER 2>/dev/null || fail "serve exited: $(cat "$log")"
        sleep 0.1
    done
    fail "serve did not start: $(cat "$log")"
}
stop_server() { # the server ends cleanly on SIGTERM (and, under ASan, without leaks)
    kill -TERM $SERVER
    local rc=0
    wait $SERVER || rc=$?
    SERVER=
    [ $rc -eq 0 ] || fail "serve exited with $rc on SIGTERM: $(tail -5 "$1")"
}

start_server "$M" "$WORK/serve.log" --parallel 2 --queue 4 --max-body 65536
BASE="http://127.0.0.1:$PORT"
cat >"$WORK/expect.json" <<EOF
{"prompts": ["ROMEO:", "First Citizen:", "What is", "KING"],
 "generate_files": ["$WORK/gen0.txt", "$WORK/gen1.txt", "$WORK/gen2.txt", "$WORK/gen3.txt"],
 "chat_user": "Good morrow", "chat_file": "$WORK/chat.txt",
 "max_tokens": 20, "bos": $(sed -n 's/.*"bos_token_id":[[:space:]]*\([0-9]*\).*/\1/p' "$M/config.json"),
 "context": 256, "max_body": 65536}
EOF
node "$NODE_DIR/serve_test.mjs" "$BASE" sekret model "$WORK/expect.json" || fail "the openai client tests failed"
node "$NODE_DIR/page_test.mjs" "$BASE" sekret "$WORK/page.png" || fail "the chat page failed in Chromium"
[ -s "$WORK/page.png" ] || fail "no screenshot"
[ -n "${KEEP_SCREENSHOT:-}" ] && cp "$WORK/page.png" "$KEEP_SCREENSHOT"
stop_server "$WORK/serve.log"

# q8: the server decodes what dokja generate decodes
cp -r "$WORK/q8" "$WORK/model"
start_server "$WORK/model" "$WORK/serveq8.log" --parallel 4
pids=()
for i in 0 1 2 3; do
    curl -s -H "Authorization: Bearer sekret" "http://127.0.0.1:$PORT/v1/completions" \
        -d "{\"prompt\": \"${prompts[$i]}\", \"max_tokens\": 20, \"temperature\": 0}" >"$WORK/q8srv$i.json" &
    pids+=($!)
done
wait "${pids[@]}"
for i in 0 1 2 3; do
    want=$(node -e 'process.stdout.write(JSON.stringify(require("fs").readFileSync(process.argv[1], "utf8").replace(/\n$/, "")))' "$WORK/q8gen$i.txt")
    got=$(node -e 'process.stdout.write(JSON.stringify(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).choices[0].text))' "$WORK/q8srv$i.json")
    [ "$want" = "$got" ] || fail "q8 prompt $i: generate says $want, the server (batched) $got"
done
stop_server "$WORK/serveq8.log"

expect_fail 2 "--parallel" "$DOKJA" serve --model "$M" --parallel 0
expect_fail 1 "not an IPv4" "$DOKJA" serve --model "$M" --host nowhere --port 0
echo "1 passed, 0 failed"
