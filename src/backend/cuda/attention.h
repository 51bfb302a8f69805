/* What the two attention implementations share: where each row's keys are
 * and which keys each query sees. fp32 tiles on CUDA cores (attention.cu)
 * serve --precision fp32 and any head size; bf16 tiles on tensor cores
 * (attention_tc.cu) serve --precision bf16 for head sizes it fits. */
#ifndef DK_CUDA_ATTENTION_H
#define DK_CUDA_ATTENTION_H

#include "cuda.h"

/* Row b's keys start at cache(b) in the cache, its first position is p0(b),
 * and query t (at position p0 + t) sees keys first(b, t) .. p0 + t. */
struct attn_rows {
    const int *start, *slot, *seg;
    int T, S, pos0;
    __device__ int p0(int b) const { return start ? start[b] : pos0; }
    __device__ size_t cache(int b, int kvs) const { return (size_t)(slot ? slot[b] : b) * S * kvs; }
    __device__ int first(int b, int t) const { return seg ? seg[(size_t)b * T + t] : 0; }
    /* The first key any of queries t0 .. t1 sees; `last` is the last one t1 sees. */
    __device__ int first_of(int b, int t0, int t1, int last) const
    {
        if (!seg) return 0;
        int f = last;
        for (int t = t0; t <= t1; t++) f = min(f, first(b, t));
        return f;
    }
};

/* The dk/dv passes: what the queries t0 .. t0 + n - 1 of head h bring to
 * a tile, their lse, D and first key seen (T, past every key, for queries
 * past the end), into shared memory. */
__device__ inline void load_query_stats(float *lse_s, float *D_s, int *first_s, int n, const float *lse, const float *D,
                                        const attn_rows &r, int b, int h, int NH, int t0)
{
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        int t = t0 + i, T = r.T;
        size_t at = ((size_t)b * NH + h) * T + t;
        lse_s[i] = t < T ? lse[at] : 0.0f;
        D_s[i] = t < T ? D[at] : 0.0f;
        first_s[i] = t < T ? r.first(b, t) : T;
    }
}

/* Whether the tensor-core kernels take this call: bf16, a head size that is
 * a multiple of 16 up to 128, and enough queries to fill their tiles. */
bool dk_cuda_attention_tc_fits(bool bf16, int T, int HD);
/* q, k, v: all fp32 or all bf16 (lp), loaded as bf16 tiles; out_lp, dv_lp:
 * NULL, or where out (dv) is also written in bf16. */
void dk_cuda_attention_tc_forward(float *out, void *out_lp, float *lse, dk_operand q, dk_operand k, dk_operand v, int B,
                                  attn_rows r, int NH, int NKV, int HD);
/* D (B, NH, T): rowsum(dout * out), computed by attention.cu. */
void dk_cuda_attention_tc_backward(float *dq, float *dk, float *dv, void *dv_lp, const float *D, const float *dout,
                                   const float *lse, dk_operand q, dk_operand k, dk_operand v, int B, attn_rows r, int NH,
                                   int NKV, int HD);

#endif
