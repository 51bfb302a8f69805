/* The head and the loss, fused chunk by chunk: a chunk of rows gets its
 * logits, their cross-entropy, the gradient of the logits in place and both
 * matmul gradients before the next chunk reuses the buffer, so training never
 * holds (N, V) logits (for GPT-2's vocabulary, 16K rows would be 3.3 GB). */
#include "cuda.h"

/* Rows per chunk: 64M floats (256 MB) of logits at most. */
static int chunk_rows(int N, int V)
{
    long rows = ((long)64 << 20) / (V > 0 ? V : 1);
    if (rows > N) rows = N;
    return rows < 1 ? 1 : (int)rows;
}

size_t dk_cuda_logits_floats(int N, int V) { return (size_t)chunk_rows(N, V) * V; }

/* (m, s) := the max and the sum of exponentials, relative to it, of the
 * union of two sets given so. Symmetric to the bit, so a butterfly leaves
 * every lane with the same result. */
__device__ inline void lse_merge(float &m, float &s, float m2, float s2)
{
    float mm = fmaxf(m, m2);
    if (mm == -INFINITY) return;
    s = s * expf(m - mm) + s2 * expf(m2 - mm);
    m = mm;
}

/* One block per row: the row's lse (one pass, an online max and sum) and
 * loss; then, with backward, the gradient of the row, (softmax - onehot) *
 * dloss, written rounded to bf16 into grad when it is given (the next
 * matmuls' operand), else in place. */
__global__ void crossentropy_kernel(float *losses, float *lse, float *logits, __nv_bfloat16 *grad, const int *targets, int V,
                                    float dloss, bool backward)
{
    __shared__ float ms[32], ss[32];
    int i = blockIdx.x, target = targets[i], lane = threadIdx.x % 32, w = threadIdx.x / 32;
    float *z = logits + (size_t)i * V;
    float m = -INFINITY, s = 0.0f;
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        float x = z[j];
        if (x > m) s = s * expf(m - x) + 1.0f, m = x;
        else if (x != -INFINITY) s += expf(x - m);
    }
    for (int o = 16; o > 0; o /= 2) lse_merge(m, s, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, s, o));
    if (lane == 0) ms[w] = m, ss[w] = s;
    __syncthreads();
    m = lane < (int)blockDim.x / 32 ? ms[lane] : -INFINITY;
    s = lane < (int)blockDim.x / 32 ? ss[lane] : 0.0f;
    for (int o = 16; o > 0; o /= 2) lse_merge(m, s, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, s, o));
    float l = m + logf(s);
    if (threadIdx.x == 0) {
        lse[i] = l;
        losses[i] = target < 0 ? 0.0f : l - z[target];
    }
    if (!backward) return;
    __syncthreads(); /* the loss has read z[target] */
    __nv_bfloat16 *g = grad ? grad + (size_t)i * V : NULL;
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        float d = target < 0 ? 0.0f : (expf(z[j] - l) - (j == target)) * dloss;
        if (g) g[j] = __float2bfloat16_rn(d);
        else z[j] = d;
    }
}

/* The matmuls of matmul.cu, written out so that the head's weights are
 * rounded to bf16 once per call rather than once per chunk. */
void dk_cuda_classifier(bool bf16, float *losses, float *lse, float *logits, const float *x, const float *w,
                        const int *targets, int N, int C, int V, float *dx, float *dw, float dloss)
{
    int R = chunk_rows(N, V);
    const void *wh = dk_cuda_operand(bf16, DK_SCRATCH_HEAD, {w, NULL}, (size_t)V * C);
    for (int r0 = 0; r0 < N; r0 += R) {
        int n = N - r0 < R ? N - r0 : R;
        const float *xr = x + (size_t)r0 * C;
        const void *xo = dk_cuda_operand(bf16, DK_SCRATCH_B, {xr, NULL}, (size_t)n * C);
        /* logits^T (V, n) = w (C, V)^T @ x^T (C, n), column-major */
        dk_cuda_gemm_raw(bf16, true, false, V, n, C, wh, C, xo, C, logits, logits, false, V, 0.0f);
        __nv_bfloat16 *gh =
            dx && bf16 ? (__nv_bfloat16 *)dk_cuda_scratch(DK_SCRATCH_A, (size_t)n * V * sizeof(__nv_bfloat16)) : NULL;
        crossentropy_kernel<<<(unsigned)n, 512>>>(losses + r0, lse + r0, logits, gh, targets + r0, V, dloss, dx != NULL);
        DK_CUDA_LAUNCHED();
        if (!dx) continue;
        const void *g = bf16 ? (const void *)gh : logits;
        /* dx^T (C, n) = w (C, V) @ dlogits^T (V, n); dw^T (C, V) += x^T (C, n) @ dlogits (n, V) */
        dk_cuda_gemm_raw(bf16, false, false, C, n, V, wh, C, g, V, dx + (size_t)r0 * C, dx + (size_t)r0 * C, false, C, 0.0f);
        dk_cuda_gemm_raw(bf16, false, true, C, V, n, xo, C, g, V, dw, dw, false, C, 1.0f);
    }
}
