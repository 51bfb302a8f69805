# The evidence that `dokja audit` works, on small models dokja trains here:
# A (seed 1), B fine-tuned from A, C (seed 2, same data), and A' = A with
# permuted MLP units, permuted heads, folded norm scales and permuted
# vocabulary ids, stored as BF16 in two shards. compare(A,B) and compare(A,A')
# find a derivation with p < 1e-6, compare(A,C) finds none; the statistics
# match a scipy reference (tests/ref/audit_ref.py). verify passes on honest
# runs (also ones resumed after a crash) and fails, naming the record, when a
# checkpoint byte, a ledger line or a forged-but-rechained checkpoint is changed.
. "$(dirname "$0")/lib.sh"
REF="$REPO/tests/ref/audit_ref.py"
"$TORCH_PYTHON" -c "import torch, scipy" 2>/dev/null || fail "python3-torch and python3-scipy are needed (scripts/install-deps.sh)"
py() { "$TORCH_PYTHON" "$@"; }
# a JSON value of a file: jq-free, through python
jget() { py -c "import json,sys; v=json.load(open(sys.argv[1])); print(eval('v' + sys.argv[2]))" "$1" "$2"; }

# A small synthetic language, as byte-level shards with a tokenizer.json.
awk 'BEGIN { srand(1); split("the a one my your this that", d, " "); split("cat dog bird fish horse king queen child", n, " ");
             split("sees finds likes eats keeps calls", v, " "); split("red big old small happy quiet", j, " ");
             for (i = 0; i < 6000; i++) printf "%s %s %s %s %s %s.\n", d[int(rand() * 7) + 1], j[int(rand() * 6) + 1],
                 n[int(rand() * 8) + 1], v[int(rand() * 6) + 1], d[int(rand() * 7) + 1], n[int(rand() * 8) + 1] }' >"$WORK/corpus.txt"
"$DOKJA" tokenize --bytes --lines --input "$WORK/corpus.txt" --output "$WORK/data" 2>/dev/null
# One thread: two OpenMP threads on a busy two-core machine spin far longer than they work.
M=(--hidden-size 64 --intermediate-size 128 --num-hidden-layers 2 --num-attention-heads 4 --num-key-value-heads 2
   --max-position-embeddings 64 --tie-word-embeddings false --batch-size 8 --seq-len 32 --eval-batches 2 --threads 1)
P=(--lr 1e-2 --min-lr 1e-3 --warmup-steps 5 --steps 80 --checkpoint-every 20)
"$DOKJA" train --data "$WORK/data" --out "$WORK/A" "${M[@]}" "${P[@]}" --seed 1 2>/dev/null
"$DOKJA" train --data "$WORK/data" --out "$WORK/C" "${M[@]}" "${P[@]}" --seed 2 2>/dev/null
"$DOKJA" train --data "$WORK/data" --out "$WORK/B" --init-from "$WORK/A/model" --batch-size 8 --seq-len 32 --threads 1 \
    --lr 1e-3 --min-lr 1e-4 --warmup-steps 5 --steps 40 --seed 3 2>/dev/null
A="$WORK/A/model"
py "$REF" variant "$A" "$WORK/A32" --seed 7
py "$REF" same-function "$A" "$WORK/A32" >/dev/null || fail "the permuted, folded variant is not the same function as A"
py "$REF" variant "$A" "$WORK/Ap" --seed 7 --dtype BF16 --shards 2
[ -f "$WORK/Ap/model.safetensors.index.json" ] || fail "A' should be sharded"

# ---- the ledger of an honest run, and verify ----
L="$WORK/A/ledger.jsonl"
[ "$(wc -l <"$L")" -eq 8 ] || fail "ledger: expected data, tokenizer, train, init and 4 checkpoints: $(cut -c1-80 "$L")"
head -1 "$L" | grep -q '"seq":0,"prev":"0\{64\}","kind":"data"' || fail "the first record chains to 64 zeros"
grep -q '"kind":"tokenizer"' "$L" && grep -q "$(sha "$WORK/data/tokenizer.json")" "$L" || fail "no tokenizer record"
grep -q "\"path\":\"train-00000.bin\",\"sha256\":\"$(sha "$WORK/data/train-00000.bin")\"" "$L" || fail "no shard hash"
grep -q "\"scheme\":\"normal-0.02-scaled\",\"seed\":1" "$L" || fail "no init record"
grep -q "\"sha256\":\"$(sha "$WORK/A/init/model.safetensors")\"" "$L" || fail "init weights hash"
grep -q "\"step\":60,\"samples\":480" "$L" || fail "the checkpoint record holds the data position"
grep -q "\"sha256\":\"$(sha "$WORK/A/ckpt/step-00000080/optimizer.safetensors")\"" "$L" || fail "optimizer hash"
grep -q '"commit":"[0-9a-f]\{40\}\(-dirty\)\?","compiler":"gcc' "$L" || grep -q '"commit":"unknown"' "$L" || fail "code version"
grep -q '"threads":1,"ranks":1' "$L" || fail "thread count"
grep -q "\"ledger_head\":[[:space:]]*\"$(tail -1 "$L" | tr -d '\n' | sha256sum | cut -d' ' -f1)\"" "$A/dokja.json" \
    || fail "model/dokja.json does not hold the ledger head (the sha256 of the last line without its newline)"

"$DOKJA" audit verify "$WORK/A" --samples 10 --seed 1 --out "$WORK/va.json" >"$WORK/va.txt" 2>/dev/null \
    || fail "verify fails on an honest run: $(grep FAIL "$WORK/va.txt")"
grep -q "replay: 4 of 4 checkpoint intervals" "$WORK/va.txt" || fail "verify did not replay every interval"
[ "$(grep -c ': identical (weights' "$WORK/va.txt")" -eq 4 ] || fail "not every interval replayed bit for bit"
grep -q "regenerated from the seed: identical" "$WORK/va.txt" || fail "the init was not regenerated"
[ "$(jget "$WORK/va.json" "['passed']")" = True ] || fail "audit.json does not say passed"
# KS of the init weights against scipy.stats.kstest
py "$REF" ks "$WORK/A" >"$WORK/ks.json"
py - "$WORK/va.json" "$WORK/ks.json" <<'EOF' || fail "KS differs from scipy"
import json, sys
ours = {t["tensor"]: t for t in json.load(open(sys.argv[1]))["init"]["tensors"] if "D" in t}
ref = json.load(open(sys.argv[2]))
assert set(ours) == set(ref) and len(ref) == 16, (sorted(ours), sorted(ref))  # 2 layers x 7 matrices, embedding, lm_head
for k, r in ref.items():
    assert abs(ours[k]["D"] - r["D"]) < 1e-6, (k, ours[k]["D"], r["D"])
    assert abs(ours[k]["p"] - r["p"]) <= 1e-5 * max(r["p"], 1e-12) + 1e-12, (k, ours[k]["p"], r["p"])
EOF

# ---- compare ----
cmp_json() { "$DOKJA" audit compare "$1" "$2" --out "$3" >"$3.txt" 2>/dev/null || fail "compare $1 $2 failed"; }
cmp_json "$A" "$WORK/B/model" "$WORK/ab.json"
cmp_json "$A" "$WORK/Ap" "$WORK/aap.json"
cmp_json "$A" "$WORK/C/model" "$WORK/ac.json"
for pair in ab aap; do
    [ "$(jget "$WORK/$pair.json" "['verdict']")" = derived ] || fail "$pair: not found derived: $(tail -1 "$WORK/$pair.json.txt")"
    py -c "import json,sys; sys.exit(not json.load(open(sys.argv[1]))['log10_p'] < -6)" "$WORK/$pair.json" || fail "$pair: p >= 1e-6"
    grep -q "^verdict: derived (p = .* < threshold 1e-06)" "$WORK/$pair.json.txt" || fail "$pair: verdict line"
done
[ "$(jget "$WORK/ac.json" "['verdict']")" = "no evidence of shared weights" ] || fail "A and C found related"
py -c "import json,sys; sys.exit(not json.load(open(sys.argv[1]))['log10_p'] > -2)" "$WORK/ac.json" || fail "A-C: p is small"
grep -q "^verdict: no evidence of shared weights (p = .* >= threshold 1e-06)" "$WORK/ac.json.txt" || fail "A-C verdict line"
# A' hides nothing: its units are in another order, its vocabulary too, its norms are all 1
grep -q "257 shared tokens of 257 (A) and 257 (B)" "$WORK/aap.json.txt" || fail "vocabulary matching by token strings"
[ "$(jget "$WORK/aap.json" "['norms']['tensors'][0]['p_shuffle']")" = None ] || fail "A' norms should be constant"
py -c "import json,sys; l=json.load(open(sys.argv[1]))['mlp']['layers']; sys.exit(not all(x['unit_order_kept'] < 20 for x in l))" \
    "$WORK/aap.json" || fail "A' units were not permuted"
# the raw cosine of unrelated models' norms is near 1, their Pearson correlation is not, and the report says why
py -c "
import json, sys
n = json.load(open(sys.argv[1]))['norms']['tensors']
assert all(t['cosine'] > 0.99 for t in n), n
assert all(abs(t['pearson']) < 0.5 for t in n), n
" "$WORK/ac.json" || fail "A-C norms: cosine should be near 1 and Pearson not"
grep -q "cosine similarity is near 1 for ANY two models" "$WORK/ac.json.txt" || fail "the report does not explain cosine"
# the same statistics from scipy (assignment, Spearman, Student's t, Fisher)
for pair in "ac C/model" "aap Ap" "ab B/model"; do
    set -- $pair
    py "$REF" compare "$A" "$WORK/$2" >"$WORK/$1.ref.json"
    py - "$WORK/$1.json" "$WORK/$1.ref.json" <<'EOF' || fail "$1: dokja and the scipy reference disagree"
import json, sys
ours, ref = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
for o, r in zip(ours["mlp"]["layers"], ref["layers"]):
    assert abs(o["rho"] - r["rho"]) < 1e-9, (o, r)
    if r["log10_p"] > -300:
        assert abs(o["log10_p"] - r["log10_p"]) <= 1e-6 * abs(r["log10_p"]) + 1e-9, (o, r)
if ref["fisher_log10_p"] > -300:
    assert abs(ours["mlp"]["fisher_log10_p"] - ref["fisher_log10_p"]) <= 1e-6 * abs(ref["fisher_log10_p"]) + 1e-9
for o, r in zip(ours["norms"]["tensors"], ref["norms"]):
    assert abs(o["cosine"] - r["cosine"]) < 1e-5, (o, r)
    assert (o["pearson"] is None) == (r["pearson"] is None) and (r["pearson"] is None or abs(o["pearson"] - r["pearson"]) < 1e-5)
EOF
done
"$DOKJA" audit tokenizers "$A" "$WORK/Ap" --out "$WORK/tok.json" | grep -q "257 shared tokens" || fail "audit tokenizers"

# ---- verify fails, naming the record ----
cp -r "$WORK/A" "$WORK/t1"
printf '\x01' | dd of="$WORK/t1/ckpt/step-00000040/model.safetensors" bs=1 seek=500 conv=notrunc 2>/dev/null
expect_fail 1 "step-00000040/model.safetensors: sha256 differs from the one recorded in line 6 (seq 5, checkpoint step 40)" \
    "$DOKJA" audit verify "$WORK/t1" --samples 0 --out "$WORK/t1.json"
[ "$(jget "$WORK/t1.json" "['passed']")" = False ] || fail "audit.json of a failed verify"
cp -r "$WORK/A" "$WORK/t2"
sed -i '5s/"loss":/"loss":1/' "$WORK/t2/ledger.jsonl"
expect_fail 1 "line 6 (seq 5, checkpoint step 40): \"prev\" is not the sha256 of line 5 (seq 4, checkpoint step 20)" \
    "$DOKJA" audit verify "$WORK/t2" --samples 0 --out "$WORK/t2.json"
cp -r "$WORK/A" "$WORK/t3"
sed -i '8s/"loss":/"loss":1/' "$WORK/t3/ledger.jsonl"
expect_fail 1 "line 8 (seq 7, checkpoint step 80) was altered" "$DOKJA" audit verify "$WORK/t3" --samples 0 --out "$WORK/t3.json"
# A forger who swaps in other weights and recomputes every hash, link and ledger head: only the replay notices.
cp -r "$WORK/A" "$WORK/t4"
cp "$WORK/C/ckpt/step-00000060/"{model,optimizer}.safetensors "$WORK/t4/ckpt/step-00000060/"
py - "$WORK/t4" <<'EOF'
import glob, hashlib, json, os, sys
run = sys.argv[1]
sha = lambda b: hashlib.sha256(b).hexdigest()
fsha = lambda p: sha(open(os.path.join(run, p), "rb").read())
ck = "ckpt/step-00000060/"
state = json.load(open(run + "/" + ck + "state.json"))
new = {state["model_sha256"]: fsha(ck + "model.safetensors"), state["optimizer_sha256"]: fsha(ck + "optimizer.safetensors")}
state["model_sha256"], state["optimizer_sha256"] = new[state["model_sha256"]], new[state["optimizer_sha256"]]
old_state = fsha(ck + "state.json")
json.dump(state, open(run + "/" + ck + "state.json", "w"))
new[old_state] = fsha(ck + "state.json")
out, heads, prev = [], {}, "0" * 64
for line in open(run + "/ledger.jsonl", encoding="utf-8"):
    text = line.rstrip("\n")
    old = sha(text.encode())
    text = text.replace(json.loads(text)["prev"], prev, 1)
    for a, b in new.items():
        text = text.replace(a, b)
    prev = heads[old] = sha(text.encode())
    out.append(text + "\n")
open(run + "/ledger.jsonl", "w", encoding="utf-8").writelines(out)
for p in glob.glob(run + "/ckpt/*/dokja.json") + [run + "/model/dokja.json"]:
    d = json.load(open(p))
    d["ledger_head"] = heads.get(d.get("ledger_head"), d.get("ledger_head"))
    json.dump(d, open(p, "w"))
EOF
"$DOKJA" audit verify "$WORK/t4" --samples 0 --out "$WORK/t4.json" >/dev/null 2>&1 || fail "the forgery should pass every check but the replay"
expect_fail 1 "replay of step 40 -> 60" "$DOKJA" audit verify "$WORK/t4" --samples 10 --seed 3 --out "$WORK/t4.json"
grep -q "checkpoint step 60" "$WORK/err" || fail "the forged record is not named: $(cat "$WORK/err")"

# ---- resumed runs keep a verifiable ledger ----
# A crash while the record of checkpoint 60 was being appended: its line is torn, 80 never came.
cp -r "$WORK/A" "$WORK/R"
rm -r "$WORK/R/ckpt/step-00000080" "$WORK/R/model"
{ head -6 "$L"; sed -n 7p "$L" | head -c 100; } >"$WORK/R/ledger.jsonl"
expect_fail 1 "line 7 is incomplete" "$DOKJA" audit verify "$WORK/R" --samples 0 --out "$WORK/r.json"
"$DOKJA" train --data "$WORK/data" --out "$WORK/R" --resume --threads 1 2>"$WORK/resume.err" || fail "resume: $(tail -3 "$WORK/resume.err")"
grep -q "removed an incomplete last line" "$WORK/resume.err" || fail "the torn line was not reported"
grep -q '"step":60,.*"recovered":true' "$WORK/R/ledger.jsonl" || fail "the resumed checkpoint's record was not recovered"
[ "$(sha "$WORK/R/model/model.safetensors")" = "$(sha "$A/model.safetensors")" ] || fail "the resumed run differs from A"
"$DOKJA" audit verify "$WORK/R" --samples 10 --seed 2 --out "$WORK/r.json" >"$WORK/r.txt" 2>/dev/null \
    || fail "verify fails on a resumed run: $(grep FAIL "$WORK/r.txt")"
# resuming from an earlier checkpoint after later ones were removed supersedes their records
rm -r "$WORK/R/ckpt/step-00000060" "$WORK/R/ckpt/step-00000080" "$WORK/R/model"
"$DOKJA" train --data "$WORK/data" --out "$WORK/R" --resume --threads 1 2>/dev/null
"$DOKJA" audit verify "$WORK/R" --samples 10 --seed 2 --out "$WORK/r.json" >"$WORK/r.txt" 2>/dev/null \
    || fail "verify fails after a resume from an earlier step: $(grep FAIL "$WORK/r.txt")"
grep -q "record(s) superseded" "$WORK/r.txt" || fail "superseded records not reported"

# killed with -9 at several moments and resumed each time: the ledger still verifies
out="$WORK/K"
for delay in 0.2 0.5 0.3 0.6 0.4; do
    [ -d "$out/model" ] && break
    resume=(); [ -d "$out" ] && resume=(--resume)
    "$DOKJA" train --data "$WORK/data" --out "$out" "${M[@]}" "${P[@]}" --checkpoint-every 5 --seed 1 "${resume[@]}" 2>/dev/null &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
resume=(); [ -d "$out" ] && resume=(--resume)
"$DOKJA" train --data "$WORK/data" --out "$out" "${M[@]}" "${P[@]}" --checkpoint-every 5 --seed 1 "${resume[@]}" 2>/dev/null
[ "$(sha "$out/model/model.safetensors")" = "$(sha "$A/model.safetensors")" ] || fail "the killed and resumed run differs from A"
"$DOKJA" audit verify "$out" --samples 4 --seed 5 --out "$WORK/k.json" >"$WORK/k.txt" 2>/dev/null \
    || fail "verify fails on a killed and resumed run: $(grep FAIL "$WORK/k.txt")"

# ---- bad input ----
expect_fail 1 "not a run directory" "$DOKJA" audit verify "$WORK/none" --out "$WORK/x.json"
expect_fail 1 "no ledger records" "$DOKJA" audit verify "$WORK/data" --out "$WORK/x.json"
expect_fail 1 "not a model directory" "$DOKJA" audit compare "$A" "$WORK/none" --out "$WORK/x.json"
cp -r "$A" "$WORK/broken" && truncate -s 100 "$WORK/broken/model.safetensors"
expect_fail 1 "broken/model.safetensors" "$DOKJA" audit compare "$A" "$WORK/broken" --out "$WORK/x.json"
printf '{"model":{"vocab":{"a":-4}}}' >"$WORK/broken/tokenizer.json"
expect_fail 1 "broken/tokenizer.json" "$DOKJA" audit tokenizers "$A" "$WORK/broken" --out "$WORK/x.json"
expect_fail 2 "audit needs" "$DOKJA" audit
expect_fail 2 "audit needs" "$DOKJA" audit compare "$A"
expect_fail 2 "audit needs" "$DOKJA" audit verify "$WORK/A" --samples -1
expect_fail 2 "unknown option" "$DOKJA" audit verify "$WORK/A" --bogus
"$DOKJA" audit --help | grep -q "verify RUN" || fail "audit --help"
echo "1 passed, 0 failed"
