# Data-parallel training on MPI: 2 ranks match one process within float
# rounding and themselves bit for bit; checkpoints resume on another number of
# ranks; a dead or hung rank stops the job with a message.
. "$(dirname "$0")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
command -v mpirun >/dev/null || fail "mpirun is needed (scripts/install-deps.sh installs openmpi-bin)"
mpi() { OMP_NUM_THREADS=1 mpirun -np "$1" --oversubscribe "${@:2}"; }
# prints the largest relative difference, so the log shows how close the runs came
compare() { "$TORCH_PYTHON" "$REPO/tests/ref/compare_weights.py" "$@" || fail "weights differ beyond the tolerance"; }
"$MAKE_SHARDS" "$WORK/data" 97 60000 4000
A=(--data "$WORK/data" "${TINY[@]}" --steps 30 --checkpoint-every 10 --eval-every 10)
model() { echo "$WORK/$1/model/model.safetensors"; }

OMP_NUM_THREADS=2 "$DOKJA" train "${A[@]}" --out "$WORK/one" 2>/dev/null
mpi 2 "$DOKJA" train "${A[@]}" --out "$WORK/two" 2>/dev/null
mpi 2 "$DOKJA" train "${A[@]}" --out "$WORK/two_again" 2>/dev/null
[ "$(sha "$(model two)")" = "$(sha "$(model two_again)")" ] || fail "two 2-rank runs differ"
compare "$(model two)" "$(model one)" --tol 1e-4
l1=$(tail -n1 "$WORK/one/log.jsonl" | sed 's/.*"loss":\([0-9.]*\).*/\1/')
l2=$(tail -n1 "$WORK/two/log.jsonl" | sed 's/.*"loss":\([0-9.]*\).*/\1/')
awk -v a="$l1" -v b="$l2" 'BEGIN { d = a - b; exit !(d < 1e-4 && d > -1e-4) }' || fail "final loss $l2 on 2 ranks, $l1 on one"
[ ! -e "$WORK/two/ckpt/step-00000010/model.safetensors.tmp" ] || fail "leftover temporary file"

# resume 2 -> 2 (bit for bit), 2 -> 1 and 1 -> 2 (within rounding)
cut_back() { rm -rf "$WORK/$1/model" "$WORK/$1/ckpt/step-00000020" "$WORK/$1/ckpt/step-00000030"; }
cp -r "$WORK/two" "$WORK/r22"; cut_back r22
mpi 2 "$DOKJA" train --data "$WORK/data" --out "$WORK/r22" --resume 2>/dev/null
[ "$(sha "$(model r22)")" = "$(sha "$(model two)")" ] || fail "2 -> 2 resume differs"
cp -r "$WORK/two" "$WORK/r21"; cut_back r21
OMP_NUM_THREADS=2 "$DOKJA" train --data "$WORK/data" --out "$WORK/r21" --resume 2>/dev/null
compare "$(model r21)" "$(model two)" --tol 1e-4
cp -r "$WORK/one" "$WORK/r12"; cut_back r12
mpi 2 "$DOKJA" train --data "$WORK/data" --out "$WORK/r12" --resume 2>/dev/null
compare "$(model r12)" "$(model one)" --tol 1e-4

# a batch that does not split evenly
expect_fail 1 "multiple of the number of ranks" mpi 2 "$DOKJA" train "${A[@]}" --out "$WORK/odd" --batch-size 3
# ranks given different settings refuse to start
expect_fail 1 "sees a different configuration" mpi 1 "$DOKJA" train "${A[@]}" --out "$WORK/mix" : \
    -np 1 env OMP_NUM_THREADS=1 "$DOKJA" train "${A[@]}" --out "$WORK/mix" --lr 5e-3

# a rank that hangs (stopped) is noticed by the other after --dist-timeout
B=(--data "$WORK/data" "${TINY[@]}" --batch-size 8 --seq-len 64 --hidden-size 64 --steps 100000 --checkpoint-every 5 --dist-timeout 3)
mpi 2 "$DOKJA" train "${B[@]}" --out "$WORK/hang" 2>"$WORK/hang.err" &
launcher=$!
for _ in $(seq 100); do [ -d "$WORK/hang/ckpt/step-00000005" ] && break; sleep 0.1; done
victim=$(pgrep -f "dokja train .*--out $WORK/hang" | tail -1)
[ -n "$victim" ] || fail "no rank to stop"
kill -STOP "$victim"
rc=0; wait "$launcher" || rc=$?
kill -9 "$victim" 2>/dev/null || true
[ "$rc" -ne 0 ] || fail "the job went on with a stopped rank"
grep -q "no answer from the other ranks" "$WORK/hang.err" || fail "no message about the hung rank: $(cat "$WORK/hang.err")"
# and the run resumes from its last checkpoint
ls -d "$WORK/hang/ckpt/step-"* >/dev/null || fail "no checkpoint left to resume from"

# a rank that dies ends the job
mpi 2 "$DOKJA" train "${B[@]}" --out "$WORK/dead" 2>"$WORK/dead.err" &
launcher=$!
for _ in $(seq 100); do [ -d "$WORK/dead/ckpt/step-00000005" ] && break; sleep 0.1; done
kill -9 "$(pgrep -f "dokja train .*--out $WORK/dead" | tail -1)"
rc=0; wait "$launcher" || rc=$?
[ "$rc" -ne 0 ] || fail "the job went on without a rank"
grep -qiE "exited on signal|killed|no answer from the other ranks" "$WORK/dead.err" || fail "no message about the dead rank: $(cat "$WORK/dead.err")"
last=$(ls -d "$WORK/dead/ckpt/step-"* | tail -1)
mpi 2 "$DOKJA" train --data "$WORK/data" --out "$WORK/dead" --resume --steps "$(( $(basename "$last" | sed 's/step-0*//') + 5 ))" 2>/dev/null \
    || fail "could not resume after a rank died"
echo "1 passed, 0 failed"
