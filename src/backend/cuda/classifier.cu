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

/* One block per row: lse and the loss as dk_crossentropy_forward (the sum of
 * exponentials in double), then, with backward, the row becomes
 * (softmax - onehot) * dloss in place. */
__global__ void crossentropy_kernel(float *losses, float *lse, float *logits, const int *targets, int V, float dloss,
                                    bool backward)
{
    __shared__ float fshared[32];
    __shared__ double dshared[32];
    int i = blockIdx.x, target = targets[i];
    float *z = logits + (size_t)i * V;
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < V; j += blockDim.x) mx = fmaxf(mx, z[j]);
    mx = dk_block_max(mx, fshared);
    double sum = 0.0;
    for (int j = threadIdx.x; j < V; j += blockDim.x) sum += expf(z[j] - mx);
    sum = dk_block_sum(sum, dshared);
    float l = mx + (float)log(sum);
    if (threadIdx.x == 0) {
        lse[i] = l;
        losses[i] = target < 0 ? 0.0f : l - z[target];
    }
    if (!backward) return;
    __syncthreads(); /* the loss has read z[target] */
    for (int j = threadIdx.x; j < V; j += blockDim.x) z[j] = target < 0 ? 0.0f : expf(z[j] - l) * dloss;
    __syncthreads();
    if (threadIdx.x == 0 && target >= 0) z[target] -= dloss;
}

/* The matmuls of matmul.cu, written out so that the head's weights are
 * rounded to bf16 once per call rather than once per chunk. */
void dk_cuda_classifier(bool bf16, float *losses, float *lse, float *logits, const float *x, const float *w,
                        const int *targets, int N, int C, int V, float *dx, float *dw, float dloss)
{
    int R = chunk_rows(N, V);
    const void *wh = dk_cuda_operand(bf16, DK_SCRATCH_HEAD, w, (size_t)V * C);
    for (int r0 = 0; r0 < N; r0 += R) {
        int n = N - r0 < R ? N - r0 : R;
        const float *xr = x + (size_t)r0 * C;
        const void *xo = dk_cuda_operand(bf16, DK_SCRATCH_B, xr, (size_t)n * C);
        /* logits^T (V, n) = w (C, V)^T @ x^T (C, n), column-major */
        dk_cuda_gemm_raw(bf16, true, false, V, n, C, wh, C, xo, C, logits, V, 0.0f);
        crossentropy_kernel<<<(unsigned)n, 512>>>(losses + r0, lse + r0, logits, targets + r0, V, dloss, dx != NULL);
        DK_CUDA_LAUNCHED();
        if (!dx) continue;
        const void *g = dk_cuda_operand(bf16, DK_SCRATCH_A, logits, (size_t)n * V);
        /* dx^T (C, n) = w (C, V) @ dlogits^T (V, n); dw^T (C, V) += x^T (C, n) @ dlogits (n, V) */
        dk_cuda_gemm_raw(bf16, false, false, C, n, V, wh, C, g, V, dx + (size_t)r0 * C, C, 0.0f);
        dk_cuda_gemm_raw(bf16, false, true, C, V, n, xo, C, g, V, dw, C, 1.0f);
    }
}
