# A tiny end-to-end speedrun: raw text to an evaluated chat model with a
# report; a second run skips every stage; a run killed during pretraining
# resumes it.
. "$(dirname "$0")/lib.sh"
DATA="${DOKJA_DATA:-$REPO/../shared/data}"
[ -d "$DATA/bench/kobest" ] || fail "the shared data is needed beside the checkout ($DATA)"
head -2500 "$DATA/corpus/ko-comments.txt" >"$WORK/corpus.txt"
head -300 "$DATA/chat/ko-chatbot.csv" >"$WORK/chat.csv"
# fixed pretraining steps: the budget's own sizing depends on how busy the machine is
S=(speedrun --corpus "$WORK/corpus.txt" --chat "$WORK/chat.csv" --size tiny --budget-minutes 0.5 --steps 300)
export DOKJA_DATA="$DATA"

"$DOKJA" "${S[@]}" --out "$WORK/run" >"$WORK/out1" 2>"$WORK/err1" || fail "speedrun failed: $(tail -5 "$WORK/err1")"
R="$WORK/run"
for f in base/model.safetensors model/model.safetensors model/tokenizer.json data/datacard.json tokens/meta.json \
    pretrain/ledger.jsonl eval.json transcripts.md report/report.html summary.json; do
    [ -s "$R/$f" ] || fail "the run lacks $f"
done
grep -q "dokja chat --model $R/model" "$WORK/out1" || fail "no closing example"
"$TORCH_PYTHON" - "$R/summary.json" <<'PY' || fail "summary.json: $(cat "$R/summary.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert 0 < s["val_bpb"] < s["unigram_bpb"], (s["val_bpb"], s["unigram_bpb"])
assert "kobest_copa" in s["benchmarks"] and "kmmlu" in s["benchmarks"]
assert set(s["seconds"]) >= {"prepare", "tokenizer", "tokenize", "pretrain", "chat", "sft", "eval", "report"}
PY
base_sha=$(sha "$R/base/model.safetensors")
grep -q "\"parent_sha256\":[[:space:]]*\"$base_sha\"" "$R/model/dokja.json" || fail "the chat model does not name its parent"
[ "$(grep -c '^\*\*dokja:\*\*' "$R/transcripts.md")" -ge 3 ] || fail "no transcripts"

# unchanged inputs: every stage is skipped and nothing is rewritten
"$DOKJA" "${S[@]}" --out "$R" >/dev/null 2>"$WORK/err2" || fail "second run failed: $(tail -3 "$WORK/err2")"
[ "$(grep -c "unchanged since the last run: skipped" "$WORK/err2")" -eq 9 ] || fail "stages were rerun: $(grep '^==' -A1 "$WORK/err2")"
[ "$(sha "$R/base/model.safetensors")" = "$base_sha" ] || fail "the skipped run changed the model"

# a changed chat file reruns fine-tuning and what follows, not pretraining
echo '"새 질문","새 답",0' >>"$WORK/chat.csv"
"$DOKJA" "${S[@]}" --out "$R" >/dev/null 2>"$WORK/err3" || fail "third run failed"
grep -A1 "pretrain " "$WORK/err3" | grep -q skipped || fail "pretraining ran again"
grep -A1 "\] sft " "$WORK/err3" | grep -q skipped && fail "sft did not run again"

# killed during pretraining: the next run resumes it
"$DOKJA" "${S[@]}" --out "$WORK/k" >/dev/null 2>"$WORK/errk" &
pid=$!
for _ in $(seq 600); do ls -d "$WORK/k/pretrain/ckpt/step-"* >/dev/null 2>&1 && break; sleep 0.1; done
pkill -9 -P "$pid" 2>/dev/null || true
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
"$DOKJA" "${S[@]}" --out "$WORK/k" >/dev/null 2>"$WORK/errk2" || fail "resumed speedrun failed: $(tail -3 "$WORK/errk2")"
grep -q "resuming" "$WORK/errk2" || fail "pretraining was not resumed: $(grep -A2 pretrain "$WORK/errk2")"
echo "1 passed, 0 failed"
