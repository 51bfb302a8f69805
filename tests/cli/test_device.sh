# --device and --precision: bad names and a missing GPU are clear errors;
# on a machine with a GPU, training there agrees with the CPU, is
# deterministic, resumes bit for bit, decodes as the CPU does, and
# `audit verify` replays it there. Without a GPU those checks are skipped,
# and say so.
. "$(dirname "$0")/lib.sh"
"$MAKE_SHARDS" "$WORK/data" 97 20000 2000
T=("${TINY[@]}" --threads 2)

expect_fail 1 '"tpu" is not a device' "$DOKJA" train --data "$WORK/data" --out "$WORK/x" "${T[@]}" --device tpu
expect_fail 1 "needs --device cuda" "$DOKJA" train --data "$WORK/data" --out "$WORK/x" "${T[@]}" --precision bf16
expect_fail 1 '"fp8" is not a precision' "$DOKJA" bench peak --device cuda --precision fp8
expect_fail 1 '"tpu" is not a device' "$DOKJA" speedrun --device tpu --out "$WORK/sr"
[ ! -e "$WORK/x" ] || fail "a refused run left $WORK/x behind"

"$DOKJA" train --data "$WORK/data" --out "$WORK/cpu" "${T[@]}" --steps 8 --checkpoint-every 4 2>/dev/null
M="$WORK/cpu/model"
# the ledger records where each session trained: a replay must run there
grep -q '"device":"cpu","precision":"fp32"' "$WORK/cpu/ledger.jsonl" || fail "the ledger does not record the device"

if ! "$DOKJA" bench peak --device cuda --seconds 0.5 >"$WORK/peak" 2>"$WORK/err"; then
    grep -q "no usable GPU\|built without CUDA" "$WORK/err" || fail "--device cuda without a GPU: $(cat "$WORK/err")"
    rc=0
    "$DOKJA" generate --model "$M" --prompt-ids 1,2 --ids --device cuda >/dev/null 2>"$WORK/err" || rc=$?
    [ "$rc" -eq 1 ] && grep -q "no usable GPU\|built without CUDA" "$WORK/err" || fail "generate --device cuda: $rc $(cat "$WORK/err")"
    expect_fail 1 "--device cuda:" "$DOKJA" train --data "$WORK/data" --out "$WORK/x" "${T[@]}" --device cuda
    echo "skipped: the GPU checks ($(head -c 200 "$WORK/err"))"
    echo "1 passed, 0 failed"
    exit 0
fi

# On a GPU, fp32: the same run as the CPU's, to rounding.
C=("${T[@]}" --steps 8 --checkpoint-every 4 --device cuda --precision fp32)
"$DOKJA" train --data "$WORK/data" --out "$WORK/gpu" "${C[@]}" 2>/dev/null
paste -d' ' <(sed 's/.*"loss":\([0-9.]*\).*/\1/' "$WORK/cpu/log.jsonl") <(sed 's/.*"loss":\([0-9.]*\).*/\1/' "$WORK/gpu/log.jsonl") |
    awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-3 * $1) { print "step " NR ": cpu " $1 ", gpu " $2; bad = 1 } } END { exit bad }' ||
    fail "the GPU's losses differ from the CPU's"
# deterministic, and resumable bit for bit
"$DOKJA" train --data "$WORK/data" --out "$WORK/gpu2" "${C[@]}" 2>/dev/null
[ "$(sha "$WORK/gpu/model/model.safetensors")" = "$(sha "$WORK/gpu2/model/model.safetensors")" ] || fail "two GPU runs differ"
rm -rf "$WORK/gpu2/model" "$WORK/gpu2/ckpt/step-00000008"
"$DOKJA" train --data "$WORK/data" --out "$WORK/gpu2" --resume --device cuda --precision fp32 --threads 2 2>/dev/null
[ "$(sha "$WORK/gpu/model/model.safetensors")" = "$(sha "$WORK/gpu2/model/model.safetensors")" ] || fail "a resumed GPU run differs"
# the audit replays the GPU's steps on the GPU
"$DOKJA" audit verify "$WORK/gpu" --samples 2 --seed 1 >"$WORK/v.txt" 2>/dev/null || fail "verify: $(cat "$WORK/v.txt")"
[ "$(grep -c ': identical (weights' "$WORK/v.txt")" -eq 2 ] || fail "GPU intervals did not replay bit for bit"
# greedy decoding on the GPU picks the CPU's tokens, on a model trained long
# enough to prefer its tokens clearly (no near-ties for rounding to flip)
"$DOKJA" train --data "$WORK/data" --out "$WORK/cpu40" "${T[@]}" --steps 40 2>/dev/null
a=$("$DOKJA" generate --model "$WORK/cpu40/model" --prompt-ids 0,2,8 --max-new-tokens 10 --temperature 0 --ids)
b=$("$DOKJA" generate --model "$WORK/cpu40/model" --prompt-ids 0,2,8 --max-new-tokens 10 --temperature 0 --ids \
    --device cuda --precision fp32)
[ "$a" = "$b" ] || fail "greedy decoding: cpu $a, gpu $b"
# bf16 learns too
"$DOKJA" train --data "$WORK/data" --out "$WORK/bf16" "${T[@]}" --steps 30 --device cuda 2>/dev/null
awk -F'"loss":' 'NR == 1 { split($2, a, ","); first = a[1] } END { split($2, b, ","); exit !(b[1] < first - 1) }' \
    "$WORK/bf16/log.jsonl" || fail "bf16 training did not learn"
echo "1 passed, 0 failed"
