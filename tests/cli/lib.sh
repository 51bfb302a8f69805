# Shared by the command-line tests: strict mode, a scratch directory removed
# on exit, and small assertions. Expects $DOKJA and $MAKE_SHARDS (set by ctest).
set -euo pipefail
: "${DOKJA:?run through ctest}" "${MAKE_SHARDS:?run through ctest}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dokja-cli-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export OMP_NUM_THREADS=2

fail() { echo "FAIL: $*" >&2; exit 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# expect_fail CODE NEEDLE cmd...: the command exits CODE and its stderr mentions NEEDLE.
expect_fail() {
    local code=$1 needle=$2 rc=0
    shift 2
    "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
    [ "$rc" -eq "$code" ] || fail "expected exit $code, got $rc from: $* ($(cat "$WORK/err"))"
    grep -qF -- "$needle" "$WORK/err" || fail "stderr of '$*' lacks \"$needle\": $(cat "$WORK/err")"
}

# A model small enough to train in seconds.
TINY=(--hidden-size 32 --intermediate-size 64 --num-hidden-layers 2 --num-attention-heads 4
      --num-key-value-heads 2 --max-position-embeddings 64 --batch-size 4 --seq-len 32
      --lr 1e-2 --min-lr 1e-3 --warmup-steps 5 --eval-batches 2)
