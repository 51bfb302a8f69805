# dokja arena: the pages in headless Chromium (vote, reload, see it counted;
# bad posts refused; an expert review), votes surviving a restart, and the
# ratings against an independent Bradley-Terry fit (scipy).
. "$(dirname "$0")/lib.sh"
NODE_DIR="$REPO/tests/node"
command -v chromium >/dev/null || fail "chromium missing: run scripts/install-deps.sh"
[ -d "$NODE_DIR/node_modules/playwright-core" ] || fail "playwright-core missing: run scripts/install-deps.sh"
"$TORCH_PYTHON" -c "import scipy" 2>/dev/null || fail "python3-scipy missing: run scripts/install-deps.sh"

# two byte-level models: trained a little, and its step-0 weights
for i in $(seq 20); do printf '오늘은 날씨가 좋다. 한국어 문장을 배운다 %d.\n' "$i"; done >"$WORK/text.txt"
"$DOKJA" tokenize --bytes --lines --input "$WORK/text.txt" --output "$WORK/tok" 2>/dev/null
"$DOKJA" train --data "$WORK/tok" --out "$WORK/run" "${TINY[@]}" --steps 5 --eval-batches 0 2>/dev/null
printf '한국의 수도는?\n좋은 영화를 추천해 주세요.\n' >"$WORK/prompts.txt"
DB="$WORK/arena.sqlite"

PID=
start() {
    "$DOKJA" arena --models "$WORK/run/model,$WORK/run/init" --prompts "$WORK/prompts.txt" --db "$DB" --port 0 \
        --max-new-tokens 12 >"$WORK/arena.out" 2>"$WORK/arena.err" &
    PID=$!
    for _ in $(seq 100); do grep -q "^arena: http" "$WORK/arena.out" && break; sleep 0.1; done
    BASE=$(sed -n 's|^arena: \(http://[0-9.]*:[0-9]*\)/.*|\1|p' "$WORK/arena.out")
    [ -n "$BASE" ] || fail "the arena did not start: $(cat "$WORK/arena.err")"
}
stop() { kill -TERM "$PID" && wait "$PID" || fail "the arena did not stop cleanly"; PID=; }
trap '[ -z "$PID" ] || kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

start
node "$NODE_DIR/arena_test.mjs" "$BASE" "$WORK/arena.png" >/dev/null || fail "the arena pages failed in Chromium"
[ -s "$WORK/arena.png" ] || fail "no screenshot"
cp "$WORK/arena.png" "${ARENA_SCREENSHOT:-/dev/null}" 2>/dev/null || true
stop
# a restart keeps every vote and review
start
curl -sf "$BASE/summary.json" >"$WORK/summary.json" || fail "summary.json"
python3 -c "import json,sys; s=json.load(open(sys.argv[1])); assert s['votes']==1 and s['expert']['reviews']==1, s" \
    "$WORK/summary.json" || fail "votes lost in a restart"
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/nope") && [ "$code" = 404 ] || fail "unknown page: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$BASE/") && [ "$code" = 405 ] || fail "wrong method: $code"
code=$(head -c 70000 /dev/zero | tr '\0' 'x' | curl -s -o /dev/null -w '%{http_code}' --data-binary @- \
    -H "Content-Type: application/x-www-form-urlencoded" "$BASE/vote") && [ "$code" = 413 ] || fail "huge form: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Content-Type: application/json" -d '{"vote":"a"}' "$BASE/vote") &&
    [ "$code" = 400 ] || fail "a JSON post: $code"
curl -sf "$BASE/" >/dev/null || fail "the server stopped serving after bad requests"
stop

# ratings: Bradley-Terry with bootstrap intervals against scipy on 300 more votes
"$TORCH_PYTHON" "$REPO/tests/ref/arena_ref.py" add-votes "$DB"
"$DOKJA" arena ratings --db "$DB" --bootstrap 200 --json "$WORK/ratings.json" >"$WORK/table"
grep -q "Bradley-Terry ratings (Elo scale) from 301 votes" "$WORK/table" || fail "ratings table: $(cat "$WORK/table")"
grep -q "win rate" "$WORK/table" && grep -q "expert reviews: 1" "$WORK/table" || fail "ratings table: $(cat "$WORK/table")"
"$TORCH_PYTHON" "$REPO/tests/ref/arena_ref.py" check "$DB" "$WORK/ratings.json" || fail "ratings differ from scipy's fit"

expect_fail 1 "at least two models" "$DOKJA" arena --models "$WORK/run/model" --prompts "$WORK/prompts.txt" --db "$WORK/x.sqlite"
expect_fail 1 "missing.txt" "$DOKJA" arena --models "$WORK/run/model,$WORK/run/init" --prompts "$WORK/missing.txt" --db "$WORK/x.sqlite"
expect_fail 1 "same weights" "$DOKJA" arena --models "$WORK/run/model,$WORK/run/model/" --prompts "$WORK/prompts.txt" --db "$WORK/x.sqlite"
expect_fail 1 "no such database" "$DOKJA" arena ratings --db "$WORK/none.sqlite"
expect_fail 2 "needs --models" "$DOKJA" arena --prompts "$WORK/prompts.txt"
echo "1 passed, 0 failed"
