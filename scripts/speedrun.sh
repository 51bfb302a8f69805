#!/usr/bin/env bash
# The main job, end to end with the stages that exist today: Korean text ->
# byte-level token shards -> a pretrained Llama model -> generated text.
# Re-running continues where it stopped (finished stages are skipped, training
# resumes from its last checkpoint).
#   scripts/speedrun.sh [OUT]    (default runs/speedrun; STEPS=N to change the length)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/speedrun}
STEPS=${STEPS:-600}
DOKJA=${DOKJA:-build/dokja}

# The corpus: $DOKJA_DATA/corpus, else ../shared/data/corpus beside the checkout.
corpus=""
for dir in "${DOKJA_DATA:+$DOKJA_DATA/corpus}" ../shared/data/corpus; do
    if [ -n "$dir" ] && [ -f "$dir/ko-comments.txt" ]; then corpus=$dir; break; fi
done
if [ -z "$corpus" ]; then
    echo "speedrun: no corpus found: set DOKJA_DATA to a folder holding corpus/ko-comments.txt" >&2
    echo "  (one Korean text per line; any UTF-8 text file in that layout works)" >&2
    exit 1
fi
mkdir -p "$OUT"

echo "== tokenize ($corpus/ko-comments.txt, byte-level)"
if [ ! -f "$OUT/tokens/meta.json" ]; then
    "$DOKJA" tokenize --bytes --lines --input "$corpus/ko-comments.txt" --output "$OUT/tokens"
else
    echo "done before: $OUT/tokens"
fi

echo "== pretrain ($STEPS steps)"
cat >"$OUT/train.json" <<JSON
{
  "hidden_size": 256, "intermediate_size": 704, "num_hidden_layers": 4,
  "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256,
  "tie_word_embeddings": true, "batch_size": 16, "seq_len": 256, "steps": $STEPS,
  "lr": 3e-3, "min_lr": 3e-4, "schedule": "cosine", "warmup_steps": 30,
  "checkpoint_every": 100, "eval_every": 100
}
JSON
resume=()
[ -d "$OUT/train" ] && resume=(--resume)
"$DOKJA" train --data "$OUT/tokens" --out "$OUT/train" --config "$OUT/train.json" "${resume[@]}"
tail -1 "$OUT/train/log.jsonl"

echo "== generate"
for prompt in "오늘 경기" "정부는" "이 영화"; do
    printf '%s' "$prompt"
    "$DOKJA" generate --model "$OUT/train/model" --prompt "$prompt" --max-new-tokens 120 --temperature 0.8 --top-k 40 --seed 1
done
echo "== model: $OUT/train/model (Hugging Face Llama directory)"
