# Bad input: clear errors naming the file or field, exit 1 (2 for usage),
# and nothing that exists is overwritten.
. "$(dirname "$0")/lib.sh"
"$MAKE_SHARDS" "$WORK/data" 97 20000 2000
T=("${TINY[@]}" --threads 2)

expect_fail 2 "needs --data" "$DOKJA" train --out "$WORK/x"
expect_fail 2 "unknown option" "$DOKJA" train --data "$WORK/data" --out "$WORK/x" --no-such-flag 1
expect_fail 2 "expected a number" "$DOKJA" train --data "$WORK/data" --out "$WORK/x" --steps ten
expect_fail 2 "unknown verb" "$DOKJA" fly
expect_fail 1 "cannot open the token directory" "$DOKJA" train --data "$WORK/none" --out "$WORK/x" "${T[@]}"
expect_fail 1 "no train-*.bin" "$DOKJA" train --data "$WORK" --out "$WORK/x" "${T[@]}" --steps 2

# config files: bad JSON names the line, a bad key names the key
printf '{\n  "hidden_size": 32,\n  "steps": \n}\n' >"$WORK/bad.json"
expect_fail 1 "bad.json: line 4: invalid JSON" "$DOKJA" train --data "$WORK/data" --out "$WORK/x" --config "$WORK/bad.json"
echo '{"schedule": 3}' >"$WORK/bad2.json"
expect_fail 1 'bad2.json: field "schedule": expected a string' "$DOKJA" train --data "$WORK/data" --out "$WORK/x" --config "$WORK/bad2.json"
expect_fail 1 '"seq_len" (128) exceeds' "$DOKJA" train --data "$WORK/data" --out "$WORK/x" "${T[@]}" --seq-len 128
expect_fail 1 "outside the model's vocabulary" "$DOKJA" train --data "$WORK/data" --out "$WORK/x" "${T[@]}" --vocab-size 50

# a truncated, a foreign and an empty shard
for bad in trunc magic empty; do cp -r "$WORK/data" "$WORK/$bad"; done
truncate -s -7 "$WORK/trunc/train-00000.bin"
expect_fail 1 "train-00000.bin: header says" "$DOKJA" train --data "$WORK/trunc" --out "$WORK/x" "${T[@]}"
printf 'NOTASHARD' | dd of="$WORK/magic/val-00000.bin" conv=notrunc 2>/dev/null
expect_fail 1 "val-00000.bin: not a dokja token shard" "$DOKJA" train --data "$WORK/magic" --out "$WORK/x" "${T[@]}"
: >"$WORK/empty/train-00000.bin"
expect_fail 1 "train-00000.bin: shorter than its 1024-byte header" "$DOKJA" train --data "$WORK/empty" --out "$WORK/x" "${T[@]}"

# an existing run is not overwritten without --resume
"$DOKJA" train --data "$WORK/data" --out "$WORK/run" "${T[@]}" --steps 4 --checkpoint-every 2 2>/dev/null
before=$(sha "$WORK/run/model/model.safetensors")
expect_fail 1 "already holds a run" "$DOKJA" train --data "$WORK/data" --out "$WORK/run" "${T[@]}" --steps 4
[ "$(sha "$WORK/run/model/model.safetensors")" = "$before" ] || fail "an existing run was overwritten"

# a corrupt checkpoint is named on --resume and left as it was
ck="$WORK/run/ckpt/step-00000004"
printf '\x01' | dd of="$ck/optimizer.safetensors" bs=1 seek=200 conv=notrunc 2>/dev/null
damaged=$(sha "$ck/optimizer.safetensors")
expect_fail 1 "optimizer.safetensors: sha256 differs" "$DOKJA" train --data "$WORK/data" --out "$WORK/run" --resume --threads 2
[ "$(sha "$ck/optimizer.safetensors")" = "$damaged" ] || fail "the damaged checkpoint was modified"
[ "$(sha "$WORK/run/model/model.safetensors")" = "$before" ] || fail "the final model was touched"

# a diverging run stops with a message instead of writing NaN weights
expect_fail 1 "not finite" "$DOKJA" train --data "$WORK/data" --out "$WORK/nan" "${T[@]}" --steps 30 --lr 1e30 --min-lr 0 --grad-clip 0 --warmup-steps 0

# every verb has --help
for verb in train generate bench; do
    "$DOKJA" "$verb" --help | grep -q "^usage: dokja $verb" || fail "dokja $verb --help"
done
"$DOKJA" --help | grep -q "verbs:" || fail "dokja --help"
echo "1 passed, 0 failed"
