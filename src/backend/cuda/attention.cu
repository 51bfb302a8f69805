/* Causal grouped-query attention, flash-attention style, in fp32 on CUDA
 * cores (with bf16 and a suitable head size, attention_tc.cu takes over):
 * keys and values
 * stream through shared memory a tile at a time with an online softmax, so
 * no (T, S) score matrix is ever stored; the forward keeps each query's
 * log-sum-exp and the backward recomputes the probabilities from it.
 *
 * A warp owns a few queries (or keys, in the dk/dv pass); its 32 lanes take
 * the 32 keys (queries) of a tile for the scores, then the head dimensions
 * for the sums, lane + 32 j. The backward has two passes, one over queries
 * (dq) and one over keys (dk, dv), so every gradient is summed by one warp
 * in a fixed order: no atomics, the same bits on every run.
 *
 * q, k and v come in fp32, or in bf16 alone from training (dk_load reads
 * either). Shapes as layers.h: q (B, T, NH, HD); k, v (slots, S, NKV, HD); out
 * (B, T, NH, HD); lse (B, NH, T). HD <= 256. */

#include "attention.h"

#define WARPS 4
#define PER_WARP 4               /* queries (or keys) per warp */
#define ROWS (WARPS * PER_WARP)  /* per block */
#define TILE 32                  /* keys (or queries) per shared tile */
#define MAX_DIMS 8               /* HD / 32, rounded up: the backend's max_head_dim is 32 * MAX_DIMS */

size_t dk_cuda_attention_floats(int B, int NH, int T, int S)
{
    (void)S;
    return (size_t)B * NH * T;
}

size_t dk_cuda_attention_scratch_floats(int B, int NH, int T) { return (size_t)B * NH * T; }

static size_t forward_smem(int HD) { return sizeof(float) * (2 * (size_t)TILE * (HD + 1) + (size_t)ROWS * HD); }
static size_t dq_smem(int HD) { return sizeof(float) * (2 * (size_t)TILE * (HD + 1) + 2 * (size_t)ROWS * HD); }
static size_t dkv_smem(int HD) { return sizeof(float) * (2 * (size_t)TILE * (HD + 1) + 2 * (size_t)ROWS * HD + 3 * TILE); }

/* The block's keys and values k0 .. k0 + TILE - 1 (key j of k and v at kvb
 * + j * kvs) into shared memory (rows of ld floats), zeros past `last`; the
 * block waits before and after. */
__device__ void load_tile(float *Ks, float *Vs, dk_operand k, dk_operand v, size_t kvb, int k0, int last, int HD, int ld,
                          int kvs)
{
    __syncthreads();
    for (int i = threadIdx.x; i < TILE * HD; i += blockDim.x) {
        int j = i / HD, d = i % HD, key = k0 + j;
        bool in = key <= last;
        size_t at = kvb + (size_t)key * kvs + d;
        Ks[j * ld + d] = in ? dk_load(k, at) : 0.0f;
        Vs[j * ld + d] = in ? dk_load(v, at) : 0.0f;
    }
    __syncthreads();
}

/* out_lp: NULL, or where out is also written in bf16. */
__global__ void attention_forward_kernel(float *out, __nv_bfloat16 *out_lp, float *lse, dk_operand q, dk_operand k,
                                         dk_operand v, attn_rows r, int NH, int NKV, int HD, float scale)
{
    extern __shared__ float smem[];
    int ld = HD + 1;
    float *Ks = smem, *Vs = Ks + TILE * ld, *Qs = Vs + TILE * ld;
    int b = blockIdx.z, h = blockIdx.y, g = h / (NH / NKV), T = r.T, qs = NH * HD, kvs = NKV * HD;
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, t0 = blockIdx.x * ROWS, p0 = r.p0(b);
    size_t kvb = r.cache(b, kvs) + (size_t)g * HD;

    for (int i = threadIdx.x; i < ROWS * HD; i += blockDim.x) {
        int t = t0 + i / HD;
        Qs[i] = t < T ? dk_load(q, ((size_t)b * T + t) * qs + (size_t)h * HD + i % HD) : 0.0f;
    }
    /* the block's keys: from the smallest first to the last query's position */
    int t_end = min(t0 + ROWS, T) - 1, kfirst = r.first_of(b, t0, t_end, p0 + t_end);
    int klast = p0 + t_end;

    float m[PER_WARP], l[PER_WARP], o[PER_WARP][MAX_DIMS];
#pragma unroll
    for (int i = 0; i < PER_WARP; i++) {
        m[i] = -INFINITY, l[i] = 0.0f;
#pragma unroll
        for (int j = 0; j < MAX_DIMS; j++) o[i][j] = 0.0f;
    }
    for (int k0 = kfirst - kfirst % TILE; k0 <= klast; k0 += TILE) {
        load_tile(Ks, Vs, k, v, kvb, k0, klast, HD, ld, kvs);
#pragma unroll
        for (int i = 0; i < PER_WARP; i++) {
            int row = warp * PER_WARP + i, t = t0 + row;
            if (t >= T) continue;
            int key = k0 + lane, first = r.first(b, t), last = p0 + t;
            float s = -INFINITY;
            if (key >= first && key <= last) {
                float dot = 0.0f;
                for (int d = 0; d < HD; d++) dot += Qs[row * HD + d] * Ks[lane * ld + d];
                s = dot * scale;
            }
            float mx = fmaxf(m[i], dk_warp_max(s));
            if (mx == -INFINITY) continue; /* no key of this tile is seen */
            float p = s == -INFINITY ? 0.0f : expf(s - mx), alpha = m[i] == -INFINITY ? 0.0f : expf(m[i] - mx);
            l[i] = l[i] * alpha + dk_warp_sum(p);
            m[i] = mx;
#pragma unroll
            for (int j = 0; j < MAX_DIMS; j++) o[i][j] *= alpha;
            for (int jk = 0; jk < TILE; jk++) {
                float pj = __shfl_sync(0xffffffffu, p, jk);
#pragma unroll
                for (int j = 0; j < MAX_DIMS; j++) {
                    int d = lane + 32 * j;
                    if (d < HD) o[i][j] += pj * Vs[jk * ld + d];
                }
            }
        }
    }
#pragma unroll
    for (int i = 0; i < PER_WARP; i++) {
        int t = t0 + warp * PER_WARP + i;
        if (t >= T) continue;
        size_t ob = ((size_t)b * T + t) * qs + (size_t)h * HD;
#pragma unroll
        for (int j = 0; j < MAX_DIMS; j++) {
            int d = lane + 32 * j;
            if (d < HD) dk_store(out, out_lp, ob + d, o[i][j] / l[i]);
        }
        if (lane == 0) lse[((size_t)b * NH + h) * T + t] = m[i] + logf(l[i]);
    }
}

void dk_cuda_attention_forward(bool bf16, float *out, void *out_lp, float *lse, dk_operand q, dk_operand k, dk_operand v,
                               int B, int T, int S, int pos0, const int *start, const int *slot, int NH, int NKV, int HD,
                               const int *seg)
{
    if (B == 0 || T == 0) return;
    attn_rows r = {start, slot, seg, T, S, pos0};
    if (dk_cuda_attention_tc_fits(bf16, T, HD)) {
        dk_cuda_attention_tc_forward(out, out_lp, lse, q, k, v, B, r, NH, NKV, HD);
        return;
    }
    size_t smem = forward_smem(HD);
    dk_cuda_allow_smem((const void *)attention_forward_kernel, smem);
    attention_forward_kernel<<<dim3(dk_blocks((size_t)T, ROWS), (unsigned)NH, (unsigned)B), WARPS * 32, smem>>>(
        out, (__nv_bfloat16 *)out_lp, lse, q, k, v, r, NH, NKV, HD, 1.0f / sqrtf((float)HD));
    DK_CUDA_LAUNCHED();
}

/* D (B, NH, T) = rowsum(dout * out): the softmax backward's dot, one warp a row. */
__global__ void attention_dot_kernel(float *D, const float *dout, const float *out, int T, int NH, int HD, size_t rows_n)
{
    size_t row = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32; /* (b, t, h) */
    int lane = threadIdx.x % 32;
    if (row >= rows_n) return;
    float s = 0.0f;
    for (int d = lane; d < HD; d += 32) s += dout[row * HD + d] * out[row * HD + d];
    s = dk_warp_sum(s);
    int h = (int)(row % NH);
    size_t bt = row / NH, b = bt / T, t = bt % T;
    if (lane == 0) D[(b * NH + h) * T + t] = s;
}

/* dq: one warp per query, over the key tiles it sees. */
__global__ void attention_dq_kernel(float *dq, const float *dout, const float *lse, const float *D, dk_operand q,
                                    dk_operand k, dk_operand v, attn_rows r, int NH, int NKV, int HD, float scale)
{
    extern __shared__ float smem[];
    int ld = HD + 1;
    float *Ks = smem, *Vs = Ks + TILE * ld, *Qs = Vs + TILE * ld, *Gs = Qs + ROWS * HD;
    int b = blockIdx.z, h = blockIdx.y, g = h / (NH / NKV), T = r.T, qs = NH * HD, kvs = NKV * HD;
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, t0 = blockIdx.x * ROWS;
    size_t kvb = (size_t)b * T * kvs + (size_t)g * HD;
    for (int i = threadIdx.x; i < ROWS * HD; i += blockDim.x) {
        int t = t0 + i / HD;
        size_t at = ((size_t)b * T + t) * qs + (size_t)h * HD + i % HD;
        Qs[i] = t < T ? dk_load(q, at) : 0.0f;
        Gs[i] = t < T ? dout[at] : 0.0f;
    }
    int t_end = min(t0 + ROWS, T) - 1, kfirst = r.first_of(b, t0, t_end, t_end);

    float acc[PER_WARP][MAX_DIMS];
#pragma unroll
    for (int i = 0; i < PER_WARP; i++)
#pragma unroll
        for (int j = 0; j < MAX_DIMS; j++) acc[i][j] = 0.0f;
    for (int k0 = kfirst - kfirst % TILE; k0 <= t_end; k0 += TILE) {
        load_tile(Ks, Vs, k, v, kvb, k0, t_end, HD, ld, kvs);
#pragma unroll
        for (int i = 0; i < PER_WARP; i++) {
            int row = warp * PER_WARP + i, t = t0 + row;
            if (t >= T) continue;
            int key = k0 + lane;
            float ds = 0.0f;
            if (key >= r.first(b, t) && key <= t) {
                float s = 0.0f, dp = 0.0f;
                for (int d = 0; d < HD; d++) {
                    s += Qs[row * HD + d] * Ks[lane * ld + d];
                    dp += Gs[row * HD + d] * Vs[lane * ld + d];
                }
                size_t at = ((size_t)b * NH + h) * T + t;
                float p = expf(s * scale - lse[at]);
                ds = p * (dp - D[at]) * scale;
            }
            for (int jk = 0; jk < TILE; jk++) {
                float dj = __shfl_sync(0xffffffffu, ds, jk);
#pragma unroll
                for (int j = 0; j < MAX_DIMS; j++) {
                    int d = lane + 32 * j;
                    if (d < HD) acc[i][j] += dj * Ks[jk * ld + d];
                }
            }
        }
    }
#pragma unroll
    for (int i = 0; i < PER_WARP; i++) {
        int t = t0 + warp * PER_WARP + i;
        if (t >= T) continue;
#pragma unroll
        for (int j = 0; j < MAX_DIMS; j++) {
            int d = lane + 32 * j;
            if (d < HD) dq[((size_t)b * T + t) * qs + (size_t)h * HD + d] = acc[i][j];
        }
    }
}

/* dk, dv: one warp per key, over the query heads of its group and the query
 * tiles that see it, in order. */
__global__ void attention_dkv_kernel(float *dk, float *dv, __nv_bfloat16 *dv_lp, const float *dout, const float *lse,
                                     const float *D, dk_operand q, dk_operand k, dk_operand v, attn_rows r, int NH, int NKV,
                                     int HD, float scale)
{
    extern __shared__ float smem[];
    int ld = HD + 1;
    float *Qs = smem, *Gs = Qs + TILE * ld, *Kk = Gs + TILE * ld, *Vk = Kk + ROWS * HD;
    float *lse_s = Vk + ROWS * HD, *D_s = lse_s + TILE;
    int *first_s = (int *)(D_s + TILE);
    int b = blockIdx.z, g = blockIdx.y, group = NH / NKV, T = r.T, qs = NH * HD, kvs = NKV * HD;
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, j0 = blockIdx.x * ROWS;
    for (int i = threadIdx.x; i < ROWS * HD; i += blockDim.x) {
        int j = j0 + i / HD;
        size_t at = ((size_t)b * T + j) * kvs + (size_t)g * HD + i % HD;
        Kk[i] = j < T ? dk_load(k, at) : 0.0f;
        Vk[i] = j < T ? dk_load(v, at) : 0.0f;
    }
    float gk[PER_WARP][MAX_DIMS], gv[PER_WARP][MAX_DIMS];
#pragma unroll
    for (int i = 0; i < PER_WARP; i++)
#pragma unroll
        for (int j = 0; j < MAX_DIMS; j++) gk[i][j] = gv[i][j] = 0.0f;
    for (int hi = 0; hi < group; hi++) {
        int h = g * group + hi;
        for (int t0 = j0 - j0 % TILE; t0 < T; t0 += TILE) {
            __syncthreads();
            for (int i = threadIdx.x; i < TILE * HD; i += blockDim.x) {
                int t = t0 + i / HD, d = i % HD;
                size_t at = ((size_t)b * T + t) * qs + (size_t)h * HD + d;
                Qs[(i / HD) * ld + d] = t < T ? dk_load(q, at) : 0.0f;
                Gs[(i / HD) * ld + d] = t < T ? dout[at] : 0.0f;
            }
            load_query_stats(lse_s, D_s, first_s, TILE, lse, D, r, b, h, NH, t0);
            __syncthreads();
#pragma unroll
            for (int i = 0; i < PER_WARP; i++) {
                int row = warp * PER_WARP + i, j = j0 + row, t = t0 + lane;
                if (j >= T) continue;
                float p = 0.0f, ds = 0.0f;
                if (t < T && first_s[lane] <= j && j <= t) {
                    float s = 0.0f, dp = 0.0f;
                    for (int d = 0; d < HD; d++) {
                        s += Qs[lane * ld + d] * Kk[row * HD + d];
                        dp += Gs[lane * ld + d] * Vk[row * HD + d];
                    }
                    p = expf(s * scale - lse_s[lane]);
                    ds = p * (dp - D_s[lane]) * scale;
                }
                for (int lt = 0; lt < TILE; lt++) {
                    float pl = __shfl_sync(0xffffffffu, p, lt), dl = __shfl_sync(0xffffffffu, ds, lt);
#pragma unroll
                    for (int jd = 0; jd < MAX_DIMS; jd++) {
                        int d = lane + 32 * jd;
                        if (d < HD) {
                            gv[i][jd] += pl * Gs[lt * ld + d];
                            gk[i][jd] += dl * Qs[lt * ld + d];
                        }
                    }
                }
            }
        }
    }
#pragma unroll
    for (int i = 0; i < PER_WARP; i++) {
        int j = j0 + warp * PER_WARP + i;
        if (j >= T) continue;
#pragma unroll
        for (int jd = 0; jd < MAX_DIMS; jd++) {
            int d = lane + 32 * jd;
            if (d < HD) {
                size_t at = ((size_t)b * T + j) * kvs + (size_t)g * HD + d;
                dk[at] = gk[i][jd];
                dk_store(dv, dv_lp, at, gv[i][jd]);
            }
        }
    }
}

void dk_cuda_attention_backward(bool bf16, float *dq, float *dk, float *dv, void *dv_lp, float *scratch, const float *dout,
                                const float *out, const float *lse, dk_operand q, dk_operand k, dk_operand v, int B, int T,
                                int NH, int NKV, int HD, const int *seg)
{
    if (B == 0 || T == 0) return;
    attn_rows r = {NULL, NULL, seg, T, T, 0};
    float scale = 1.0f / sqrtf((float)HD);
    size_t nrows = (size_t)B * T * NH;
    attention_dot_kernel<<<dk_blocks(nrows * 32, 256), 256>>>(scratch, dout, out, T, NH, HD, nrows);
    DK_CUDA_LAUNCHED();
    if (dk_cuda_attention_tc_fits(bf16, T, HD)) {
        dk_cuda_attention_tc_backward(dq, dk, dv, dv_lp, scratch, dout, lse, q, k, v, B, r, NH, NKV, HD);
        return;
    }
    size_t smem = dq_smem(HD);
    dk_cuda_allow_smem((const void *)attention_dq_kernel, smem);
    attention_dq_kernel<<<dim3(dk_blocks((size_t)T, ROWS), (unsigned)NH, (unsigned)B), WARPS * 32, smem>>>(
        dq, dout, lse, scratch, q, k, v, r, NH, NKV, HD, scale);
    DK_CUDA_LAUNCHED();
    smem = dkv_smem(HD);
    dk_cuda_allow_smem((const void *)attention_dkv_kernel, smem);
    attention_dkv_kernel<<<dim3(dk_blocks((size_t)T, ROWS), (unsigned)NKV, (unsigned)B), WARPS * 32, smem>>>(
        dk, dv, (__nv_bfloat16 *)dv_lp, dout, lse, scratch, q, k, v, r, NH, NKV, HD, scale);
    DK_CUDA_LAUNCHED();
}
