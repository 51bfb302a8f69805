# Training learns, and a run killed at any moment and resumed ends with the
# same weights, bit for bit, as one never stopped.
. "$(dirname "$0")/lib.sh"
"$MAKE_SHARDS" "$WORK/data" 97 60000 4000

"$DOKJA" train --data "$WORK/data" --out "$WORK/a" "${TINY[@]}" --steps 60 --checkpoint-every 10 --eval-every 20 --threads 2 2>/dev/null
want=$(sha "$WORK/a/model/model.safetensors")
[ "$(wc -l <"$WORK/a/log.jsonl")" -eq 60 ] || fail "log.jsonl should hold 60 steps"
first=$(head -1 "$WORK/a/log.jsonl" | sed 's/.*"loss":\([0-9.]*\).*/\1/')
val=$(tail -1 "$WORK/a/log.jsonl" | sed 's/.*"val_loss":\([0-9.]*\).*/\1/')
awk -v a="$first" -v b="$val" 'BEGIN { exit !(b < a - 1.5) }' || fail "validation loss $val did not fall well below the first loss $first"
grep -q '"val_loss"' <(sed -n 20p "$WORK/a/log.jsonl") || fail "no val_loss at step 20"
for f in config.json model.safetensors generation_config.json dokja.json; do
    [ -s "$WORK/a/model/$f" ] || fail "model directory lacks $f"
done
grep -q "$want" "$WORK/a/model/dokja.json" || fail "dokja.json does not record the weights' sha256"
[ -d "$WORK/a/ckpt/step-00000030" ] && [ -s "$WORK/a/ckpt/step-00000030/optimizer.safetensors" ] || fail "no checkpoint at step 30"

# The same command again gives the same bits (determinism).
"$DOKJA" train --data "$WORK/data" --out "$WORK/b" "${TINY[@]}" --steps 60 --checkpoint-every 10 --eval-every 20 --threads 2 2>/dev/null
[ "$(sha "$WORK/b/model/model.safetensors")" = "$want" ] || fail "two identical runs differ"

# Resume from a middle checkpoint after removing everything later.
rm -rf "$WORK/b/model" "$WORK/b/ckpt/step-00000040" "$WORK/b/ckpt/step-00000050" "$WORK/b/ckpt/step-00000060"
"$DOKJA" train --data "$WORK/data" --out "$WORK/b" --resume --threads 2 2>/dev/null
[ "$(sha "$WORK/b/model/model.safetensors")" = "$want" ] || fail "resumed run differs from the uninterrupted one"
cmp -s <(cut -d, -f1-4 "$WORK/a/log.jsonl") <(cut -d, -f1-4 "$WORK/b/log.jsonl") || fail "resumed log differs"

# Kill -9 at several moments, resuming each time, until the run completes.
out="$WORK/k"
for delay in 0.3 0.7 0.2 1.1 0.5; do
    [ -d "$out/model" ] && break
    resume=(); [ -d "$out" ] && resume=(--resume)
    "$DOKJA" train --data "$WORK/data" --out "$out" "${TINY[@]}" --steps 60 --checkpoint-every 3 --eval-every 20 \
        --threads 2 "${resume[@]}" 2>/dev/null &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
resume=(); [ -d "$out" ] && resume=(--resume)
"$DOKJA" train --data "$WORK/data" --out "$out" "${TINY[@]}" --steps 60 --checkpoint-every 3 --eval-every 20 --threads 2 "${resume[@]}" 2>/dev/null
# checkpoint_every changes nothing but when checkpoints are written
[ "$(sha "$out/model/model.safetensors")" = "$want" ] || fail "a killed and resumed run differs from the uninterrupted one"
if ls "$out"/ckpt/.tmp-* >/dev/null 2>&1; then :; fi
echo "1 passed, 0 failed"
