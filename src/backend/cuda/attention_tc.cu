/* Attention on tensor cores for --precision bf16: the flash-attention
 * structure of attention.cu, with the two products of each tile (scores
 * Q K^T and the weighted sum P V; in the backward also dO V^T, dS K, P^T dO
 * and dS^T Q) done by WMMA 16 x 16 x 16 bf16 fragments with fp32
 * accumulation. Q, K, V, dO and the probabilities are rounded to bf16 as
 * they enter shared memory; scores, the online softmax, the output and the
 * gradients stay fp32.
 *
 * A block takes 64 queries (64 keys in the dk/dv pass), 16 a warp, and
 * streams the other side through shared memory 64 at a time. Each warp owns
 * its rows from start to end, so every sum runs in one fixed order: no
 * atomics, the same bits on every run. Shapes as attention.cu. */
#include <mma.h>
#include <type_traits>

#include "attention.h"

using namespace nvcuda;

#define TC_WARPS 4
#define TC_ROWS 64 /* queries (keys) per block, 16 a warp */
#define TC_TILE 64 /* keys (queries) per tile */
#define HPAD 8     /* bf16 padding of a row: keeps rows 16-byte aligned and spreads banks */
#define FPAD 4     /* float padding of a row */

typedef __nv_bfloat16 bf16;
typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> frag_a;
typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> frag_c;

bool dk_cuda_attention_tc_fits(bool bf16, int T, int HD) { return bf16 && HD % 16 == 0 && HD <= 128 && T >= 16; }

/* Rows first .. first + 63 of an fp32 matrix (row i at base + i * stride)
 * into bf16 shared rows of ld, zeros from row `limit` on. */
__device__ void load_rows(bf16 *dst, int ld, const float *base, size_t stride, int first, int limit, int HD)
{
    for (int i = threadIdx.x; i < TC_TILE * HD; i += blockDim.x) {
        int r = i / HD, d = i % HD;
        dst[r * ld + d] = __float2bfloat16_rn(first + r < limit ? base[(size_t)(first + r) * stride + d] : 0.0f);
    }
}

/* C (the warp's 16 rows x N, fp32, ldc) = A (16 x K, lda) @ B, or += with
 * `accumulate`. B (K x N) is given by rows (ldb), or, TRANSPOSED, as the N
 * rows of its transpose: K for Q K^T, V for dO V^T. */
template <bool TRANSPOSED>
__device__ void warp_gemm(float *C, int ldc, const bf16 *A, int lda, const bf16 *B, int ldb, int K, int N, bool accumulate)
{
    typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, typename std::conditional<TRANSPOSED, wmma::col_major,
                                                                                      wmma::row_major>::type> frag_b;
    for (int j = 0; j < N; j += 16) {
        frag_c c;
        if (accumulate) wmma::load_matrix_sync(c, C + j, ldc, wmma::mem_row_major);
        else wmma::fill_fragment(c, 0.0f);
        for (int kk = 0; kk < K; kk += 16) {
            frag_a a;
            frag_b b;
            wmma::load_matrix_sync(a, A + kk, lda);
            wmma::load_matrix_sync(b, TRANSPOSED ? B + (size_t)j * ldb + kk : B + (size_t)kk * ldb + j, ldb);
            wmma::mma_sync(c, a, b, c);
        }
        wmma::store_matrix_sync(C + j, c, ldc, wmma::mem_row_major);
    }
}

/* The warp's 64 scores a row against the tile's rows R: A @ R^T. */
__device__ void warp_scores(float *C, int ldc, const bf16 *A, int lda, const bf16 *R, int ldr, int HD)
{
    warp_gemm<true>(C, ldc, A, lda, R, ldr, HD, TC_TILE, false);
}

/* acc (the warp's 16 rows x HD) += P (16 x 64) @ M (the tile's 64 rows x HD). */
__device__ void warp_accumulate(float *acc, int ld, const bf16 *P, int ldp, const bf16 *M, int ldm, int HD)
{
    warp_gemm<false>(acc, ld, P, ldp, M, ldm, TC_TILE, HD, true);
}

static size_t forward_smem(int HD)
{
    return sizeof(bf16) * (3 * TC_TILE * (size_t)(HD + HPAD) + TC_ROWS * (TC_TILE + HPAD)) +
           sizeof(float) * (TC_ROWS * (size_t)(TC_TILE + FPAD) + TC_ROWS * (size_t)(HD + FPAD));
}

__global__ void tc_forward_kernel(float *out, float *lse, const float *q, const float *k, const float *v, attn_rows r, int NH,
                                  int NKV, int HD, float scale)
{
    extern __shared__ __align__(128) unsigned char raw[];
    int ldh = HD + HPAD, lds = TC_TILE + FPAD, ldp = TC_TILE + HPAD, ldo = HD + FPAD;
    bf16 *Qs = (bf16 *)raw, *Ks = Qs + TC_ROWS * ldh, *Vs = Ks + TC_TILE * ldh, *Ps = Vs + TC_TILE * ldh;
    float *Ss = (float *)(Ps + TC_ROWS * ldp), *Os = Ss + TC_ROWS * lds;
    int b = blockIdx.z, h = blockIdx.y, g = h / (NH / NKV), T = r.T, qs = NH * HD, kvs = NKV * HD;
    int lane = threadIdx.x % 32, w = threadIdx.x / 32, t0 = blockIdx.x * TC_ROWS, p0 = r.p0(b);
    const float *kb = k + r.cache(b, kvs) + (size_t)g * HD, *vb = v + r.cache(b, kvs) + (size_t)g * HD;

    load_rows(Qs, ldh, q + (size_t)b * T * qs + (size_t)h * HD, qs, t0, T, HD);
    for (int i = threadIdx.x; i < TC_ROWS * ldo; i += blockDim.x) Os[i] = 0.0f;
    int t_end = min(t0 + TC_ROWS, T) - 1, kfirst = p0 + t_end, klast = p0 + t_end;
    for (int t = t0; t <= t_end; t++) kfirst = min(kfirst, r.first(b, t));

    float m[16], l[16]; /* the warp's rows, the same in every lane */
#pragma unroll
    for (int i = 0; i < 16; i++) m[i] = -INFINITY, l[i] = 0.0f;
    for (int k0 = kfirst - kfirst % TC_TILE; k0 <= klast; k0 += TC_TILE) {
        __syncthreads();
        load_rows(Ks, ldh, kb, kvs, k0, klast + 1, HD);
        load_rows(Vs, ldh, vb, kvs, k0, klast + 1, HD);
        __syncthreads();
        warp_scores(Ss + w * 16 * lds, lds, Qs + w * 16 * ldh, ldh, Ks, ldh, HD);
        __syncwarp();
#pragma unroll
        for (int i = 0; i < 16; i++) {
            int row = w * 16 + i, t = t0 + row;
            float s[2], p[2] = {0.0f, 0.0f}, alpha = 1.0f;
            for (int c = 0; c < 2; c++) {
                int col = lane + 32 * c, key = k0 + col;
                bool seen = t < T && key >= r.first(b, t) && key <= p0 + t;
                s[c] = seen ? Ss[row * lds + col] * scale : -INFINITY;
            }
            float mx = fmaxf(m[i], dk_warp_max(fmaxf(s[0], s[1])));
            if (mx != -INFINITY) {
                for (int c = 0; c < 2; c++) p[c] = s[c] == -INFINITY ? 0.0f : expf(s[c] - mx);
                alpha = m[i] == -INFINITY ? 0.0f : expf(m[i] - mx);
                l[i] = l[i] * alpha + dk_warp_sum(p[0] + p[1]);
                m[i] = mx;
            }
            Ps[row * ldp + lane] = __float2bfloat16_rn(p[0]);
            Ps[row * ldp + lane + 32] = __float2bfloat16_rn(p[1]);
            for (int d = lane; d < HD; d += 32) Os[row * ldo + d] *= alpha;
        }
        __syncwarp();
        warp_accumulate(Os + w * 16 * ldo, ldo, Ps + w * 16 * ldp, ldp, Vs, ldh, HD);
        __syncwarp();
    }
#pragma unroll
    for (int i = 0; i < 16; i++) {
        int row = w * 16 + i, t = t0 + row;
        if (t >= T) continue;
        float *ob = out + ((size_t)b * T + t) * qs + (size_t)h * HD;
        for (int d = lane; d < HD; d += 32) ob[d] = Os[row * ldo + d] / l[i];
        if (lane == 0) lse[((size_t)b * NH + h) * T + t] = m[i] + logf(l[i]);
    }
}

void dk_cuda_attention_tc_forward(float *out, float *lse, const float *q, const float *k, const float *v, int B, attn_rows r,
                                  int NH, int NKV, int HD)
{
    size_t smem = forward_smem(HD);
    dk_cuda_allow_smem((const void *)tc_forward_kernel, smem);
    tc_forward_kernel<<<dim3(dk_blocks((size_t)r.T, TC_ROWS), (unsigned)NH, (unsigned)B), TC_WARPS * 32, smem>>>(
        out, lse, q, k, v, r, NH, NKV, HD, 1.0f / sqrtf((float)HD));
    DK_CUDA_LAUNCHED();
}

static size_t dq_smem(int HD)
{
    return sizeof(bf16) * (4 * TC_TILE * (size_t)(HD + HPAD) + TC_ROWS * (TC_TILE + HPAD)) +
           sizeof(float) * (2 * TC_ROWS * (size_t)(TC_TILE + FPAD) + TC_ROWS * (size_t)(HD + FPAD));
}

/* dq = dS K over the key tiles each query sees, dS = P (dP - D) scale,
 * P = exp(S scale - lse), dP = dO V^T. */
__global__ void tc_dq_kernel(float *dq, const float *dout, const float *lse, const float *D, const float *q, const float *k,
                             const float *v, attn_rows r, int NH, int NKV, int HD, float scale)
{
    extern __shared__ __align__(128) unsigned char raw[];
    int ldh = HD + HPAD, lds = TC_TILE + FPAD, ldp = TC_TILE + HPAD, ldo = HD + FPAD;
    bf16 *Qs = (bf16 *)raw, *Gs = Qs + TC_ROWS * ldh, *Ks = Gs + TC_ROWS * ldh, *Vs = Ks + TC_TILE * ldh,
         *Ps = Vs + TC_TILE * ldh;
    float *Ss = (float *)(Ps + TC_ROWS * ldp), *dPs = Ss + TC_ROWS * lds, *Acc = dPs + TC_ROWS * lds;
    int b = blockIdx.z, h = blockIdx.y, g = h / (NH / NKV), T = r.T, qs = NH * HD, kvs = NKV * HD;
    int lane = threadIdx.x % 32, w = threadIdx.x / 32, t0 = blockIdx.x * TC_ROWS;
    const float *kb = k + (size_t)b * T * kvs + (size_t)g * HD, *vb = v + (size_t)b * T * kvs + (size_t)g * HD;
    const float *qb = q + (size_t)b * T * qs + (size_t)h * HD, *gb = dout + (size_t)b * T * qs + (size_t)h * HD;

    load_rows(Qs, ldh, qb, qs, t0, T, HD);
    load_rows(Gs, ldh, gb, qs, t0, T, HD);
    for (int i = threadIdx.x; i < TC_ROWS * ldo; i += blockDim.x) Acc[i] = 0.0f;
    int t_end = min(t0 + TC_ROWS, T) - 1, kfirst = t_end;
    for (int t = t0; t <= t_end; t++) kfirst = min(kfirst, r.first(b, t));

    for (int k0 = kfirst - kfirst % TC_TILE; k0 <= t_end; k0 += TC_TILE) {
        __syncthreads();
        load_rows(Ks, ldh, kb, kvs, k0, t_end + 1, HD);
        load_rows(Vs, ldh, vb, kvs, k0, t_end + 1, HD);
        __syncthreads();
        warp_scores(Ss + w * 16 * lds, lds, Qs + w * 16 * ldh, ldh, Ks, ldh, HD);
        warp_scores(dPs + w * 16 * lds, lds, Gs + w * 16 * ldh, ldh, Vs, ldh, HD);
        __syncwarp();
        for (int i = 0; i < 16; i++) {
            int row = w * 16 + i, t = t0 + row;
            size_t at = ((size_t)b * NH + h) * T + (t < T ? t : 0);
            for (int c = lane; c < TC_TILE; c += 32) {
                int key = k0 + c;
                float ds = 0.0f;
                if (t < T && key >= r.first(b, t) && key <= t) {
                    float p = expf(Ss[row * lds + c] * scale - lse[at]);
                    ds = p * (dPs[row * lds + c] - D[at]) * scale;
                }
                Ps[row * ldp + c] = __float2bfloat16_rn(ds);
            }
        }
        __syncwarp();
        warp_accumulate(Acc + w * 16 * ldo, ldo, Ps + w * 16 * ldp, ldp, Ks, ldh, HD);
        __syncwarp();
    }
    for (int i = 0; i < 16; i++) {
        int row = w * 16 + i, t = t0 + row;
        if (t >= T) continue;
        for (int d = lane; d < HD; d += 32) dq[((size_t)b * T + t) * qs + (size_t)h * HD + d] = Acc[row * ldo + d];
    }
}

static size_t dkv_smem(int HD)
{
    return sizeof(bf16) * (4 * TC_TILE * (size_t)(HD + HPAD) + 2 * TC_ROWS * (TC_TILE + HPAD)) +
           sizeof(float) * (2 * TC_ROWS * (size_t)(TC_TILE + FPAD) + 2 * TC_ROWS * (size_t)(HD + FPAD) + 3 * TC_TILE);
}

/* dv = P^T dO and dk = dS^T Q for the block's 64 keys, over the query heads
 * of the group and the query tiles that see them, in order. The scores are
 * formed transposed (keys by rows) so that each warp's keys are its rows. */
__global__ void tc_dkv_kernel(float *dk, float *dv, const float *dout, const float *lse, const float *D, const float *q,
                              const float *k, const float *v, attn_rows r, int NH, int NKV, int HD, float scale)
{
    extern __shared__ __align__(128) unsigned char raw[];
    int ldh = HD + HPAD, lds = TC_TILE + FPAD, ldp = TC_TILE + HPAD, ldo = HD + FPAD;
    bf16 *Kk = (bf16 *)raw, *Vk = Kk + TC_ROWS * ldh, *Qs = Vk + TC_ROWS * ldh, *Gs = Qs + TC_TILE * ldh,
         *PT = Gs + TC_TILE * ldh, *dST = PT + TC_ROWS * ldp;
    float *ST = (float *)(dST + TC_ROWS * ldp), *dPT = ST + TC_ROWS * lds, *dKs = dPT + TC_ROWS * lds,
          *dVs = dKs + TC_ROWS * ldo, *lse_s = dVs + TC_ROWS * ldo, *D_s = lse_s + TC_TILE;
    int *first_s = (int *)(D_s + TC_TILE);
    int b = blockIdx.z, g = blockIdx.y, group = NH / NKV, T = r.T, qs = NH * HD, kvs = NKV * HD;
    int lane = threadIdx.x % 32, w = threadIdx.x / 32, j0 = blockIdx.x * TC_ROWS;

    load_rows(Kk, ldh, k + (size_t)b * T * kvs + (size_t)g * HD, kvs, j0, T, HD);
    load_rows(Vk, ldh, v + (size_t)b * T * kvs + (size_t)g * HD, kvs, j0, T, HD);
    for (int i = threadIdx.x; i < TC_ROWS * ldo; i += blockDim.x) dKs[i] = dVs[i] = 0.0f;
    for (int hi = 0; hi < group; hi++) {
        int h = g * group + hi;
        const float *qb = q + (size_t)b * T * qs + (size_t)h * HD, *gb = dout + (size_t)b * T * qs + (size_t)h * HD;
        /* queries before the block's first key see none of its keys */
        for (int t0 = j0; t0 < T; t0 += TC_TILE) {
            __syncthreads();
            load_rows(Qs, ldh, qb, qs, t0, T, HD);
            load_rows(Gs, ldh, gb, qs, t0, T, HD);
            load_query_stats(lse_s, D_s, first_s, TC_TILE, lse, D, r, b, h, NH, t0);
            __syncthreads();
            warp_scores(ST + w * 16 * lds, lds, Kk + w * 16 * ldh, ldh, Qs, ldh, HD);
            warp_scores(dPT + w * 16 * lds, lds, Vk + w * 16 * ldh, ldh, Gs, ldh, HD);
            __syncwarp();
            for (int i = 0; i < 16; i++) {
                int row = w * 16 + i, j = j0 + row;
                for (int c = lane; c < TC_TILE; c += 32) {
                    int t = t0 + c;
                    float p = 0.0f, ds = 0.0f;
                    if (j < T && t < T && first_s[c] <= j && j <= t) {
                        p = expf(ST[row * lds + c] * scale - lse_s[c]);
                        ds = p * (dPT[row * lds + c] - D_s[c]) * scale;
                    }
                    PT[row * ldp + c] = __float2bfloat16_rn(p);
                    dST[row * ldp + c] = __float2bfloat16_rn(ds);
                }
            }
            __syncwarp();
            warp_accumulate(dVs + w * 16 * ldo, ldo, PT + w * 16 * ldp, ldp, Gs, ldh, HD);
            warp_accumulate(dKs + w * 16 * ldo, ldo, dST + w * 16 * ldp, ldp, Qs, ldh, HD);
        }
    }
    __syncwarp();
    for (int i = 0; i < 16; i++) {
        int row = w * 16 + i, j = j0 + row;
        if (j >= T) continue;
        for (int d = lane; d < HD; d += 32) {
            size_t at = ((size_t)b * T + j) * kvs + (size_t)g * HD + d;
            dk[at] = dKs[row * ldo + d];
            dv[at] = dVs[row * ldo + d];
        }
    }
}

void dk_cuda_attention_tc_backward(float *dq, float *dk, float *dv, const float *D, const float *dout, const float *lse,
                                   const float *q, const float *k, const float *v, int B, attn_rows r, int NH, int NKV, int HD)
{
    float scale = 1.0f / sqrtf((float)HD);
    size_t smem = dq_smem(HD);
    dk_cuda_allow_smem((const void *)tc_dq_kernel, smem);
    tc_dq_kernel<<<dim3(dk_blocks((size_t)r.T, TC_ROWS), (unsigned)NH, (unsigned)B), TC_WARPS * 32, smem>>>(
        dq, dout, lse, D, q, k, v, r, NH, NKV, HD, scale);
    DK_CUDA_LAUNCHED();
    smem = dkv_smem(HD);
    dk_cuda_allow_smem((const void *)tc_dkv_kernel, smem);
    tc_dkv_kernel<<<dim3(dk_blocks((size_t)r.T, TC_ROWS), (unsigned)NKV, (unsigned)B), TC_WARPS * 32, smem>>>(
        dk, dv, dout, lse, D, q, k, v, r, NH, NKV, HD, scale);
    DK_CUDA_LAUNCHED();
}
