# The CUDA kernels under NVIDIA's compute-sanitizer (memcheck for out-of-bounds
# and uninitialised reads, racecheck for shared-memory races, synccheck for
# barriers): unit_backend's GPU cases that compare every kernel with the
# CPU's (DK_BACKEND_TESTS=kernels). Skipped, and says so, without a GPU
# or compute-sanitizer.
. "$(dirname "$0")/lib.sh"
: "${TEST_BACKEND:?run through ctest}"
CS=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1 || true)
if [ -z "$CS" ] || ! nvidia-smi -L >/dev/null 2>&1 || ! "$DOKJA" bench peak --device cuda --seconds 0.1 >/dev/null 2>&1; then
    echo "skipped: needs an NVIDIA GPU, a dokja built with CUDA, and compute-sanitizer"
    echo "1 passed, 0 failed"
    exit 0
fi
for tool in memcheck racecheck synccheck; do
    DK_BACKEND_TESTS=kernels "$CS" --tool "$tool" --error-exitcode 3 "$TEST_BACKEND" >"$WORK/$tool.txt" 2>&1 ||
        fail "compute-sanitizer --tool $tool: $(grep -m5 -E 'ERROR|Invalid|hazard|FAILED' "$WORK/$tool.txt")"
done
echo "1 passed, 0 failed"
