# dokja eval: every shipped spec runs on a few rows of the real benchmark
# files; the metrics follow from the per-row records; prefix reuse and
# batching change no number; KoBEST COPA log-likelihoods and bits per byte
# match the PyTorch reference; a randomly initialised model scores near
# chance; bad input is refused with the file named.
. "$(dirname "$0")/lib.sh"
DATA=${DOKJA_DATA:-$REPO/../shared/data}
[ -d "$DATA/bench/kobest" ] || fail "no benchmark data in $DATA (set DOKJA_DATA)"
[ -n "${TORCH_PYTHON:-}" ] && "$TORCH_PYTHON" -c "import torch" 2>/dev/null || fail "python3-torch is needed (scripts/install-deps.sh)"
REF="$TORCH_PYTHON $REPO/tests/ref/eval_ref.py"

# a byte-level model, a few steps on Korean comments; its step-0 weights are the random model
head -3000 "$DATA/corpus/ko-comments.txt" >"$WORK/ko.txt"
"$DOKJA" tokenize --bytes --lines --input "$WORK/ko.txt" --output "$WORK/tok" 2>/dev/null
"$DOKJA" train --data "$WORK/tok" --out "$WORK/run" "${TINY[@]}" --max-position-embeddings 256 --steps 30 2>/dev/null
M="$WORK/run/model"
E=(--data-dir "$DATA" --tasks-dir "$REPO/tasks")

# every spec, two rows each (two per subject of kmmlu and mmlu)
tasks=$("$DOKJA" eval --list "${E[@]}" | paste -sd,)
[ "$(echo "$tasks" | tr ',' '\n' | wc -l)" -ge 10 ] || fail "eval --list: $tasks"
"$DOKJA" eval --model "$M" "${E[@]}" --tasks "$tasks" --limit 2 --out "$WORK/all.json" >"$WORK/table" 2>"$WORK/log"
python3 - "$WORK/all.json" <<'EOF' || fail "results.json of every task"
import json, math, sys
r = json.load(open(sys.argv[1], encoding="utf-8"))
t = r["tasks"]
want = {"kobest_boolq", "kobest_copa", "kobest_hellaswag", "kobest_sentineg", "kobest_wic", "kmmlu", "mmlu", "piqa", "gsm8k"}
assert want <= set(t), sorted(t)
assert t["kmmlu"]["n"] == 90 and len(t["kmmlu"]["subjects"]) == 45, t["kmmlu"]["n"]
assert t["mmlu"]["n"] == 114 and len(t["mmlu"]["subjects"]) == 57
assert "acc_macro" in t["kmmlu"]["metrics"] and t["kmmlu"]["fewshot"] == 5 and t["gsm8k"]["fewshot"] == 8
for name, x in t.items():
    assert x["n"] >= 2 and len(x["records"]) == x["n"], name
    for m in x["metrics"].values():
        assert math.isfinite(m["value"]) and m["stderr"] >= 0, name
    assert x["timing"]["rows_per_s"] > 0
assert r["model"]["weights_sha256"] and r["config"]["prefix_reuse"] is True
EOF
for name in kobest_copa kmmlu gsm8k; do grep -q "^$name " "$WORK/table" || fail "the table lacks $name: $(cat "$WORK/table")"; done
grep -q "random" "$WORK/table" || fail "the table has no baseline column"
grep -q '"progress":"kmmlu"' "$WORK/log" || fail "no progress lines"
$REF recompute "$WORK/all.json" || fail "metrics do not follow from the records"

# prefix reuse and batching change no prediction and no log-likelihood beyond float rounding
for opts in "--no-prefix-reuse --batch 3" "--batch 1"; do
    # shellcheck disable=SC2086
    "$DOKJA" eval --model "$M" "${E[@]}" --tasks kobest_hellaswag,kmmlu_korean_history,piqa --limit 6 $opts --out "$WORK/b.json" >/dev/null 2>&1
    "$DOKJA" eval --model "$M" "${E[@]}" --tasks kobest_hellaswag,kmmlu_korean_history,piqa --limit 6 --out "$WORK/a.json" >/dev/null 2>&1
    python3 - "$WORK/a.json" "$WORK/b.json" <<'EOF' || fail "results differ with $opts"
import json, sys
a, b = (json.load(open(p, encoding="utf-8"))["tasks"] for p in sys.argv[1:])
for name in a:
    for x, y in zip(a[name]["records"], b[name]["records"]):
        assert x["pred"] == y["pred"] and x["pred_norm"] == y["pred_norm"], (name, x["index"])
        for c, d in zip(x["choices"], y["choices"]):
            assert abs(c["ll"] - d["ll"]) <= 1e-4 * max(1, abs(c["ll"])), (name, x["index"], c, d)
    assert a[name]["metrics"] == b[name]["metrics"]
EOF
done
python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['tasks']['kmmlu_korean_history']; assert t['n']==6 and 'subjects' not in t" \
    "$WORK/a.json" || fail "kmmlu_<subject> runs one subject"

# the PyTorch reference: COPA rows (prompts built independently) and bits per byte of a text
"$DOKJA" eval --model "$M" "${E[@]}" --tasks kobest_copa --limit 12 --out "$WORK/copa.json" >/dev/null 2>&1
$REF copa "$M" "$DATA" "$WORK/copa.json" 12 || fail "COPA log-likelihoods differ from the reference"
head -c 1500 "$DATA/corpus/ko-news-titles.txt" | iconv -c -f utf-8 -t utf-8 >"$WORK/text.txt"
"$DOKJA" eval --model "$M" --text "$WORK/text.txt" --out "$WORK/bpb.json" >"$WORK/table" 2>/dev/null
$REF bpb "$M" "$WORK/text.txt" "$WORK/bpb.json" || fail "bits per byte differ from the reference"
grep -q "^bpb .* bpb " "$WORK/table" || fail "bpb table: $(cat "$WORK/table")"

# the step-0 weights score near chance (acc_norm within 4 standard errors; acc within 0.1, as length biases it)
"$DOKJA" eval --model "$WORK/run/init" "${E[@]}" --tasks kobest_boolq,kobest_copa,kobest_sentineg,kobest_wic,piqa \
    --limit 300 --no-records --out "$WORK/rand.json" >/dev/null 2>&1
python3 - "$WORK/rand.json" <<'EOF' || fail "a random model is not at chance"
import json, sys
for name, t in json.load(open(sys.argv[1]))["tasks"].items():
    b, m = t["random_baseline"], t["metrics"]
    assert abs(m["acc_norm"]["value"] - b) <= 4 * m["acc_norm"]["stderr"], (name, m, b)
    assert abs(m["acc"]["value"] - b) <= 0.1, (name, m, b)
    assert "records" not in t
EOF

# bad input: named, nothing written
expect_fail 1 "no task \"kobest_nope\"" "$DOKJA" eval --model "$M" "${E[@]}" --tasks kobest_nope --out "$WORK/x.json"
expect_fail 1 "no subject \"astrology\"" "$DOKJA" eval --model "$M" "${E[@]}" --tasks kmmlu_astrology --out "$WORK/x.json"
mkdir -p "$WORK/specs" "$WORK/data/t"
printf 'q,a\nx,1\ny\n' >"$WORK/data/t/r.csv"
printf '{"kind":"mc","rows":{"path":"t/r.csv"},"prompt":"{{q}}","choices":["a","b"],"gold":"{{a}}","gold_base":0}' >"$WORK/specs/t.json"
expect_fail 1 "r.csv: line 3: 1 fields where the header has 2" "$DOKJA" eval --model "$M" --data-dir "$WORK/data" \
    --tasks-dir "$WORK/specs" --tasks t --out "$WORK/x.json"
printf '{"kind":"mc","rows":{"path":"t/r.csv"},"prompt":"{{q|nope}}","choices":["a"],"gold":"a"}' >"$WORK/specs/t.json"
expect_fail 1 "t.json: \"prompt\": unknown filter \"nope\"" "$DOKJA" eval --model "$M" --data-dir "$WORK/data" \
    --tasks-dir "$WORK/specs" --tasks t --out "$WORK/x.json"
[ ! -e "$WORK/x.json" ] || fail "a failed run wrote results"
: >"$WORK/empty.txt"
expect_fail 1 "empty file" "$DOKJA" eval --model "$M" --text "$WORK/empty.txt"
expect_fail 1 "not a model directory" "$DOKJA" eval --model "$WORK/none" "${E[@]}" --tasks kobest_copa
expect_fail 2 "needs --model" "$DOKJA" eval --tasks kobest_copa
expect_fail 2 "1 <= --batch <= 256" "$DOKJA" eval --model "$M" --tasks kobest_copa --batch 0
"$DOKJA" eval --help | grep -q -- "--no-prefix-reuse" || fail "eval --help"
echo "1 passed, 0 failed"
