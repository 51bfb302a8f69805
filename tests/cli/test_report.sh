# dokja report: a run with its data card, eval results (its own and another
# model's), an arena database with votes and reviews, and an audit, gives a
# report whose composite score follows the formulas (recomputed here) and
# whose HTML renders in headless Chromium on its own (screenshot kept).
. "$(dirname "$0")/lib.sh"
NODE_DIR="$REPO/tests/node"
DATA=${DOKJA_DATA:-$REPO/../shared/data}
command -v chromium >/dev/null || fail "chromium missing: run scripts/install-deps.sh"
E=(--data-dir "$DATA" --tasks-dir "$REPO/tasks")

# prepared text -> shards beside the data card -> a small run with validation
head -2000 "$DATA/corpus/ko-comments.txt" >"$WORK/ko.txt"
# and a line of bad bytes, which the data card counts
printf 'bad \xff\xfe bytes\n' >"$WORK/bad.txt"
"$DOKJA" data prepare --lines --input "$WORK/ko.txt" "$WORK/bad.txt" --out "$WORK/prep" 2>/dev/null
"$DOKJA" tokenize --bytes --input "$WORK/prep" --output "$WORK/prep/tok" 2>/dev/null
"$DOKJA" train --data "$WORK/prep/tok" --out "$WORK/run" "${TINY[@]}" --steps 30 --eval-every 10 2>/dev/null
M="$WORK/run/model"
"$DOKJA" eval --model "$M" "${E[@]}" --tasks kobest_copa,kobest_boolq --limit 30 --text "$WORK/ko.txt" --out "$WORK/mine.json" >/dev/null 2>&1
"$DOKJA" eval --model "$WORK/run/init" "${E[@]}" --tasks kobest_copa --limit 10 --out "$WORK/other.json" >/dev/null 2>&1
"$DOKJA" audit verify "$WORK/run" --samples 1 --out "$WORK/audit.json" >/dev/null 2>&1 || fail "audit verify"

# the arena: votes and reviews through its pages
printf '안녕하세요?\n' >"$WORK/prompts.txt"
"$DOKJA" arena --models "$M,$WORK/run/init" --prompts "$WORK/prompts.txt" --db "$WORK/arena.sqlite" --port 0 \
    --max-new-tokens 8 >"$WORK/arena.out" 2>/dev/null &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do grep -q "^arena: http" "$WORK/arena.out" && break; sleep 0.1; done
BASE=$(sed -n 's|^arena: \(http://[0-9.]*:[0-9]*\)/.*|\1|p' "$WORK/arena.out")
[ -n "$BASE" ] || fail "the arena did not start"
token() { curl -sf "$BASE$1" | sed -n 's|.*name="token" value="\([0-9a-f]*\)".*|\1|p'; }
for v in a a b tie a both_bad b a; do curl -sf -o /dev/null -d "token=$(token /)&vote=$v" "$BASE/vote" || fail "vote"; done
for s in 4 2 5; do
    curl -sf -o /dev/null -d "token=$(token /expert)&score_accuracy=$s&score_korean_fluency=3&score_cultural_fit=4&score_safety=5&comment=ok" \
        "$BASE/expert" || fail "review"
done
kill -TERM "$PID" && wait "$PID"

R="$WORK/report"
"$DOKJA" report --run "$WORK/run" --eval "$WORK/mine.json" "$WORK/other.json" --arena "$WORK/arena.sqlite" \
    --audit "$WORK/audit.json" --bootstrap 100 --out "$R" >/dev/null || fail "dokja report"
for f in report.md report.html report.json loss.svg lr.svg throughput.svg; do [ -s "$R/$f" ] || fail "no $f"; done
for s in "## Composite stage score" "## Training" "data card (datacard.json)" "## Tokenizer" "kobest_copa" \
         "another model: not in the composite score" "## Expert review" "Ledger: " "dokja audit verify"; do
    grep -qF "$s" "$R/report.md" || fail "report.md lacks \"$s\""
done
grep -q "<svg" "$R/report.html" && ! grep -Eq '<script|<link|<img|src=|href=|url\(|@import' "$R/report.html" ||
    fail "report.html is not standalone"

# the composite, recomputed from the inputs: eval metrics, the arena's ratings and its reviews
"$DOKJA" arena ratings --db "$WORK/arena.sqlite" --bootstrap 100 --json "$WORK/ratings.json" >/dev/null
python3 - "$R/report.json" "$WORK/mine.json" "$WORK/ratings.json" "$M" <<'PY' || fail "the composite score does not follow its formulas"
import json, sys
rep, mine, rat = (json.load(open(p, encoding="utf-8")) for p in sys.argv[1:4])
parts = rep["parts"]
norms = []
for name, t in mine["tasks"].items():
    if t["kind"] == "bpb":
        continue
    m = t["metrics"]["acc_norm"]["value"] if "acc_norm" in t["metrics"] else t["metrics"]["acc"]["value"]
    b = t["random_baseline"]
    norms.append(min(1, max(0, (m - b) / (1 - b))))
B = sum(norms) / len(norms)
assert len(parts["benchmark"]["tasks"]) == 2 and abs(parts["benchmark"]["score"] - B) < 1e-12, (parts["benchmark"], B)
me = [m for m in rat["models"] if m["name"] == sys.argv[4]][0]
others = [m for m in rat["models"] if m is not me and m["rating"] is not None]
U = sum(1 / (1 + 10 ** ((o["rating"] - me["rating"]) / 400)) for o in others) / len(others)
assert abs(parts["user"]["score"] - U) < 1e-9, (parts["user"], U)
ex = [m for m in rat["expert"]["models"] if m["name"] == sys.argv[4]]
if ex:
    assert abs(parts["expert"]["score"] - (ex[0]["overall"]["mean"] - 1) / 4) < 1e-12
else:
    assert "score" not in parts["expert"]
total = sum(p["weight"] * p["score"] for p in parts.values() if "score" in p)
assert abs(rep["total"] - total) < 1e-9 and rep["max"] == 100
PY
# other weights
"$DOKJA" report --run "$WORK/run" --eval "$WORK/mine.json" --weights 1,0,0 --out "$WORK/r2" >/dev/null
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['max']==1 and abs(r['total']-r['parts']['benchmark']['score'])<1e-12" \
    "$WORK/r2/report.json" || fail "--weights"

SHOT="${TMPDIR:-/tmp}/dokja-report-screenshot.png"
node "$NODE_DIR/report_test.mjs" "$R/report.html" "$SHOT" || fail "report.html in Chromium"

# bad input: named, and no report written
expect_fail 1 "not a run directory" "$DOKJA" report --run "$WORK/none" --out "$WORK/r3"
printf '{"tasks": ' >"$WORK/bad.json"
expect_fail 1 "bad.json" "$DOKJA" report --run "$WORK/run" --eval "$WORK/bad.json" --out "$WORK/r3"
expect_fail 1 "no \"tasks\"" "$DOKJA" report --run "$WORK/run" --eval "$WORK/audit.json" --out "$WORK/r3"
expect_fail 1 "no such database" "$DOKJA" report --run "$WORK/run" --arena "$WORK/none.sqlite" --out "$WORK/r3"
[ ! -e "$WORK/r3/report.html" ] || fail "a failed report was written"
expect_fail 2 "--weights" "$DOKJA" report --run "$WORK/run" --weights 40,35 --out "$WORK/r3"
expect_fail 2 "needs --run" "$DOKJA" report --out "$WORK/r3"
echo "1 passed, 0 failed"
