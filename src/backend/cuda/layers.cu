/* The element-wise and row-wise layers: embedding, RMSNorm, RoPE, SwiGLU and
 * the residual add, with the same formulas as src/model. */
#include <string.h>

#include "cuda.h"

/* One block per row (grid x: rows can pass the 65535 of grid y). */
__global__ void embedding_forward_kernel(float *out, const int *tokens, const float *wte, int C)
{
    size_t i = blockIdx.x;
    const float *row = wte + (size_t)tokens[i] * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) out[i * C + c] = row[c];
}

void dk_cuda_embedding_forward(float *out, const int *tokens, const float *wte, int N, int C)
{
    if (N == 0) return;
    embedding_forward_kernel<<<(unsigned)N, 256>>>(out, tokens, wte, C);
    DK_CUDA_LAUNCHED();
}

/* One block per distinct token and column range: the rows of that token
 * (ascending) add into its row in order, as on the CPU, without atomics. */
__global__ void embedding_backward_kernel(float *dwte, const float *dout, const int *order, const int *starts,
                                          const int *uniq, int C)
{
    int u = blockIdx.x, c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float *d = dwte + (size_t)uniq[u] * C + c;
    float acc = *d;
    for (int j = starts[u]; j < starts[u + 1]; j++) acc += dout[(size_t)order[j] * C + c];
    *d = acc;
}

void dk_cuda_embedding_backward(float *dwte, const float *dout, const int *tokens, int N, int C)
{
    if (N == 0) return;
    /* Group the rows by token on the host: a counting sort, stable. */
    int *host = (int *)dk_cuda_host_scratch(DK_SCRATCH_INTS, sizeof(int) * (size_t)N * 4 + sizeof(int));
    int *tok = host, *order = host + N, *starts = host + 2 * N, *uniq = host + 3 * N + 1;
    DK_CUDA(cudaMemcpy(tok, tokens, sizeof(int) * (size_t)N, cudaMemcpyDeviceToHost));
    int vmax = 0;
    for (int i = 0; i < N; i++) vmax = tok[i] > vmax ? tok[i] : vmax;
    int *count = (int *)calloc((size_t)vmax + 2, sizeof(int));
    if (!count) dk_cuda_check(cudaErrorMemoryAllocation, "host memory for the embedding backward", __FILE__, __LINE__);
    for (int i = 0; i < N; i++) count[tok[i] + 1]++;
    int U = 0;
    for (int v = 0; v <= vmax; v++) {
        if (count[v + 1]) uniq[U++] = v;
        count[v + 1] += count[v];
    }
    for (int i = 0; i < N; i++) order[count[tok[i]]++] = i;
    /* after the pass count[v] is where token v's rows end */
    starts[0] = 0;
    for (int u = 0; u < U; u++) starts[u + 1] = count[uniq[u]];
    free(count);
    /* sized for the most distinct tokens (U <= N), so it does not grow mid-run */
    int *dev = (int *)dk_cuda_scratch(DK_SCRATCH_INTS, sizeof(int) * (3 * (size_t)N + 1));
    DK_CUDA(cudaMemcpy(dev, order, sizeof(int) * (size_t)N, cudaMemcpyHostToDevice));
    DK_CUDA(cudaMemcpy(dev + N, starts, sizeof(int) * ((size_t)U + 1), cudaMemcpyHostToDevice));
    DK_CUDA(cudaMemcpy(dev + N + U + 1, uniq, sizeof(int) * (size_t)U, cudaMemcpyHostToDevice));
    embedding_backward_kernel<<<dim3((unsigned)U, dk_blocks((size_t)C, 128)), 128>>>(dwte, dout, dev, dev + N,
                                                                                      dev + N + U + 1, C);
    DK_CUDA_LAUNCHED();
}

#define ROW_THREADS 256

__global__ void rmsnorm_forward_kernel(float *out, __nv_bfloat16 *out_lp, float *rstd, const float *inp, const float *weight,
                                       int C, float eps)
{
    __shared__ float shared[32];
    int i = blockIdx.x;
    const float *x = inp + (size_t)i * C;
    float ss = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) ss += x[c] * x[c];
    ss = dk_block_sum(ss, shared);
    float r = 1.0f / sqrtf(ss / (float)C + eps);
    if (threadIdx.x == 0) rstd[i] = r;
    for (int c = threadIdx.x; c < C; c += blockDim.x) dk_store(out, out_lp, (size_t)i * C + c, x[c] * r * weight[c]);
}

void dk_cuda_rmsnorm_forward(float *out, void *out_lp, float *rstd, const float *inp, const float *weight, int N, int C,
                             float eps)
{
    if (N == 0) return;
    rmsnorm_forward_kernel<<<(unsigned)N, ROW_THREADS>>>(out, (__nv_bfloat16 *)out_lp, rstd, inp, weight, C, eps);
    DK_CUDA_LAUNCHED();
}

/* The backward in one pass over dout and inp: a block takes `rows`
 * consecutive rows in order, adding each row's dx = r (g w) - x r^3
 * mean(g w x) into dinp, and summing its rows' g x r per column in shared
 * memory (each thread its own columns), written out as the block's part of
 * the weight gradient; the parts are then added in block order. The same
 * N always splits the same way: the same bits on every run. */
#define RMS_MIN_ROWS 16
#define RMS_MAX_PARTS 1024

__global__ void rmsnorm_backward_kernel(float *dinp, __nv_bfloat16 *dinp_lp, float *partial, const float *dout,
                                        const float *inp, const float *weight, const float *rstd, int N, int C, int rows)
{
    extern __shared__ float part[]; /* (C) */
    __shared__ float shared[32];
    int i0 = blockIdx.x * rows, i1 = min(i0 + rows, N);
    for (int c = threadIdx.x; c < C; c += blockDim.x) part[c] = 0.0f;
    for (int i = i0; i < i1; i++) {
        const float *x = inp + (size_t)i * C, *g = dout + (size_t)i * C;
        float r = rstd[i], dot = 0.0f;
        for (int c = threadIdx.x; c < C; c += blockDim.x) dot += g[c] * weight[c] * x[c];
        dot = dk_block_sum(dot, shared);
        float k = dot * r * r * r / (float)C;
        for (int c = threadIdx.x; c < C; c += blockDim.x) {
            size_t at = (size_t)i * C + c;
            float gc = g[c], xc = x[c];
            dk_store(dinp, dinp_lp, at, dinp[at] + (gc * weight[c] * r - xc * k));
            part[c] += gc * xc * r;
        }
    }
    for (int c = threadIdx.x; c < C; c += blockDim.x) partial[(size_t)blockIdx.x * C + c] = part[c];
}

__global__ void rmsnorm_weight_sum_kernel(float *dweight, const float *partial, int parts, int C)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float s = dweight[c];
    for (int p = 0; p < parts; p++) s += partial[(size_t)p * C + c];
    dweight[c] = s;
}

void dk_cuda_rmsnorm_backward(float *dinp, void *dinp_lp, float *dweight, const float *dout, const float *inp,
                              const float *weight, const float *rstd, int N, int C)
{
    if (N == 0) return;
    int rows = (N + RMS_MAX_PARTS - 1) / RMS_MAX_PARTS;
    rows = rows < RMS_MIN_ROWS ? RMS_MIN_ROWS : rows;
    int parts = (N + rows - 1) / rows;
    size_t smem = sizeof(float) * (size_t)C;
    float *partial = (float *)dk_cuda_scratch(DK_SCRATCH_REDUCE, sizeof(float) * (size_t)parts * C);
    dk_cuda_allow_smem((const void *)rmsnorm_backward_kernel, smem);
    rmsnorm_backward_kernel<<<(unsigned)parts, ROW_THREADS, smem>>>(dinp, (__nv_bfloat16 *)dinp_lp, partial, dout, inp,
                                                                     weight, rstd, N, C, rows);
    DK_CUDA_LAUNCHED();
    rmsnorm_weight_sum_kernel<<<dk_blocks((size_t)C, 128), 128>>>(dweight, partial, parts, C);
    DK_CUDA_LAUNCHED();
}

/* One thread per rotated pair (i, i + HD/2) of a head. */
__global__ void rope_kernel(float *x, __nv_bfloat16 *x_lp, const float *cos_t, const float *sin_t, int T, int H, int HD,
                            int pos0, const int *pos, float sign, size_t pairs)
{
    size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= pairs) return;
    int half = HD / 2, i = (int)(id % half);
    size_t row = id / half / H; /* b * T + t */
    int t = (int)(row % T);
    int p = pos ? pos[row] : pos0 + t;
    size_t at = id / half * HD + i;
    float c = cos_t[(size_t)p * half + i], s = sign * sin_t[(size_t)p * half + i];
    float x1 = x[at], x2 = x[at + half];
    float *y = x_lp ? NULL : x; /* the result in bf16 alone, where wanted so */
    dk_store(y, x_lp, at, x1 * c - x2 * s);
    dk_store(y, x_lp, at + half, x2 * c + x1 * s);
}

static void rope(float *x, void *x_lp, const float *cos_t, const float *sin_t, int B, int T, int H, int HD, int pos0,
                 const int *pos, float sign)
{
    size_t pairs = (size_t)B * T * H * (HD / 2);
    if (!pairs) return;
    rope_kernel<<<dk_blocks(pairs, 256), 256>>>(x, (__nv_bfloat16 *)x_lp, cos_t, sin_t, T, H, HD, pos0, pos, sign, pairs);
    DK_CUDA_LAUNCHED();
}

void dk_cuda_rope_forward(float *x, void *x_lp, const float *cos_t, const float *sin_t, int B, int T, int H, int HD,
                          int pos0, const int *pos)
{
    rope(x, x_lp, cos_t, sin_t, B, T, H, HD, pos0, pos, 1.0f);
}

void dk_cuda_rope_backward(float *dx, void *dx_lp, const float *cos_t, const float *sin_t, int B, int T, int H, int HD,
                           const int *pos)
{
    rope(dx, dx_lp, cos_t, sin_t, B, T, H, HD, 0, pos, -1.0f);
}

/* One block per new token: its keys and values into its row's slot. */
__global__ void kv_store_kernel(float *kc, float *vc, const float *knew, const float *vnew, const int *slot, const int *start,
                                int T, int S, int pos0, int kvd)
{
    size_t row = blockIdx.x; /* b * T + t */
    int b = (int)(row / T), t = (int)(row % T);
    size_t at = ((size_t)(slot ? slot[b] : b) * S + (size_t)(start ? start[b] : pos0) + t) * kvd;
    for (int i = threadIdx.x; i < kvd; i += blockDim.x) {
        kc[at + i] = knew[row * kvd + i];
        vc[at + i] = vnew[row * kvd + i];
    }
}

void dk_cuda_kv_store(float *kc, float *vc, const float *knew, const float *vnew, const int *slot, const int *start, int B,
                      int T, int S, int pos0, int kvd)
{
    if (B == 0 || T == 0) return;
    kv_store_kernel<<<(unsigned)(B * T), 128>>>(kc, vc, knew, vnew, slot, start, T, S, pos0, kvd);
    DK_CUDA_LAUNCHED();
}

__global__ void swiglu_forward_kernel(float *h, __nv_bfloat16 *h_lp, dk_operand gate, dk_operand up, long n)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float g = dk_load(gate, (size_t)i);
    dk_store(h, h_lp, (size_t)i, g / (1.0f + expf(-g)) * dk_load(up, (size_t)i));
}

__global__ void swiglu_backward_kernel(float *dgate, float *dup, __nv_bfloat16 *dgate_lp, __nv_bfloat16 *dup_lp,
                                       const float *dh, dk_operand gate, dk_operand up, long n)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float g = dk_load(gate, (size_t)i), sig = 1.0f / (1.0f + expf(-g));
    dk_store(dup, dup_lp, (size_t)i, dh[i] * g * sig);
    dk_store(dgate, dgate_lp, (size_t)i, dh[i] * dk_load(up, (size_t)i) * sig * (1.0f + g * (1.0f - sig)));
}

__global__ void residual_kernel(float *out, const float *a, const float *b, long n)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a[i] + b[i];
}

void dk_cuda_swiglu_forward(float *h, void *h_lp, dk_operand gate, dk_operand up, long n)
{
    if (n <= 0) return;
    swiglu_forward_kernel<<<dk_blocks((size_t)n, 256), 256>>>(h, (__nv_bfloat16 *)h_lp, gate, up, n);
    DK_CUDA_LAUNCHED();
}

void dk_cuda_swiglu_backward(float *dgate, float *dup, void *dgate_lp, void *dup_lp, const float *dh, dk_operand gate,
                             dk_operand up, long n)
{
    if (n <= 0) return;
    swiglu_backward_kernel<<<dk_blocks((size_t)n, 256), 256>>>(dgate, dup, (__nv_bfloat16 *)dgate_lp,
                                                               (__nv_bfloat16 *)dup_lp, dh, gate, up, n);
    DK_CUDA_LAUNCHED();
}

void dk_cuda_residual_forward(float *out, const float *a, const float *b, long n)
{
    if (n <= 0) return;
    residual_kernel<<<dk_blocks((size_t)n, 256), 256>>>(out, a, b, n);
    DK_CUDA_LAUNCHED();
}
