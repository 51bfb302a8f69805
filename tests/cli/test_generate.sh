# A trained model directory generates with the KV cache, loads in the
# PyTorch reference of HF LlamaForCausalLM and greedy-decodes the same ids
# there; --init-from continues from it.
. "$(dirname "$0")/lib.sh"
"$MAKE_SHARDS" "$WORK/data" 97 40000 2000
"$DOKJA" train --data "$WORK/data" --out "$WORK/run" "${TINY[@]}" --steps 40 --threads 2 2>/dev/null
M="$WORK/run/model"

ids=$("$DOKJA" generate --model "$M" --prompt-ids 0,2,8 --max-new-tokens 20 --temperature 0 --ids)
# the synthetic language mostly steps x -> (3x + 1) mod 96 + 1: the model must have learnt it
follows=$(echo "8,$ids" | tr ',' '\n' | awk 'NR > 1 && $1 == (3 * p + 1) % 96 + 1 { n++ } { p = $1 } END { print n + 0 }')
[ "$follows" -ge 15 ] || fail "greedy decoding follows the language's rule only $follows times in 20: $ids"
# sampling is reproducible for a seed
s1=$("$DOKJA" generate --model "$M" --prompt-ids 0,1,4 --max-new-tokens 12 --temperature 1 --top-k 20 --top-p 0.9 --seed 5 --ids)
s2=$("$DOKJA" generate --model "$M" --prompt-ids 0,1,4 --max-new-tokens 12 --temperature 1 --top-k 20 --top-p 0.9 --seed 5 --ids)
[ "$s1" = "$s2" ] || fail "same seed, different samples: $s1 / $s2"

if [ -n "${TORCH_PYTHON:-}" ] && "$TORCH_PYTHON" -c "import torch" 2>/dev/null; then
    "$TORCH_PYTHON" "$REPO/tests/ref/check_model_dir.py" "$M" --prompt-ids 0,2,8 --max-new-tokens 20 \
        --stop-at-eos --expect-ids "$ids" || fail "the PyTorch reference decodes differently"
else
    fail "python3-torch is needed for this test (scripts/install-deps.sh installs it)"
fi

expect_fail 1 "outside the vocabulary" "$DOKJA" generate --model "$M" --prompt-ids 1,200 --ids
expect_fail 2 "--prompt-ids: item 2" "$DOKJA" generate --model "$M" --prompt-ids 1,x --ids
long=$(seq -s, 1 64)
expect_fail 1 "context is 64" "$DOKJA" generate --model "$M" --prompt-ids "$long" --ids
expect_fail 1 "not a model directory" "$DOKJA" generate --model "$WORK/none" --prompt-ids 1 --ids
expect_fail 1 "tokenizer" "$DOKJA" generate --model "$M" --prompt "안녕하세요"
cp -r "$M" "$WORK/broken"
truncate -s 100 "$WORK/broken/model.safetensors"
expect_fail 1 "model.safetensors" "$DOKJA" generate --model "$WORK/broken" --prompt-ids 1 --ids

# continue pretraining from the model: lineage names the parent's weights
"$DOKJA" train --data "$WORK/data" --out "$WORK/cont" --init-from "$M" --batch-size 4 --seq-len 32 --steps 5 --threads 2 2>/dev/null
parent=$(sha "$M/model.safetensors")
grep -q "\"parent_sha256\":[[:space:]]*\"$parent\"" "$WORK/cont/model/dokja.json" || fail "dokja.json does not name the parent"
first=$(head -1 "$WORK/cont/log.jsonl" | sed 's/.*"loss":\([0-9.]*\).*/\1/')
awk -v a="$first" 'BEGIN { exit !(a < 3.5) }' || fail "--init-from started from scratch (first loss $first)"
echo "1 passed, 0 failed"
